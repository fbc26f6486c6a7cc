"""Critical projects: the most downloaded projects, flagged once a day.

As PyPI did from 2022 to 2024, the top CRITICAL_PROJECTS_TOP_PERCENT of projects by downloads
over the last CRITICAL_PROJECTS_WINDOW_DAYS days are critical. A project keeps the flag when its
downloads fall ("retains that designation indefinitely"): un-flagging is an administrator's
decision, never this job's, so an attacker cannot shed the 2FA requirement by waiting.
"""

import datetime
import math

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from projects.models import DownloadCount, Project
from projects.selectors import download_window_start
from projects.services.projects import set_project_critical


def critical_download_totals(*, today: datetime.date) -> dict[int, int]:
    """Project id -> downloads in the window ending `today`, for the projects that qualify.

    The cohort is the top percent of *all* projects (rounded up, so a small index still has
    one), among those with at least CRITICAL_PROJECTS_MIN_DOWNLOADS downloads. Projects tied
    with the last one in the cohort qualify too: whether one of two equally downloaded
    projects is critical must not depend on which was created first.
    """
    percent = settings.CRITICAL_PROJECTS_TOP_PERCENT
    if percent <= 0:
        return {}
    cohort = math.ceil(Project.objects.count() * percent / 100)
    totals = (
        DownloadCount.objects.filter(day__gte=download_window_start(today), day__lte=today)
        .values("project_id")
        .annotate(total=Sum("count"))
        .filter(total__gte=max(settings.CRITICAL_PROJECTS_MIN_DOWNLOADS, 1))
        .order_by("-total", "project_id")
    )
    top = list(totals[:cohort])
    if not top:
        return {}
    cutoff = top[-1]["total"]
    return {row["project_id"]: row["total"] for row in totals.filter(total__gte=cutoff)}


def compute_critical_projects(*, today: datetime.date | None = None) -> list[Project]:
    """Flag the projects that qualify and are not critical yet; return them.

    Each project is flagged in its own transaction (`set_project_critical`: the flag, the
    `project:critical:enter` event and the owners' and maintainers' emails together), so a
    second run the same day finds nothing left to flag and emails no one twice.
    """
    totals = critical_download_totals(today=today or timezone.now().date())
    flagged = []
    candidates = Project.objects.filter(pk__in=list(totals), is_critical=False).order_by("pk")
    for project in candidates:
        if set_project_critical(
            project=project, is_critical=True, actor=None, downloads=totals[project.pk]
        ):
            flagged.append(project)
    return flagged
