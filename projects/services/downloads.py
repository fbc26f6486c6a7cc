"""Download counting: one row per project per day, incremented without holding a lock.

Choice: the count is bumped with `UPDATE ... SET count = count + 1` (atomic in the database, no
SELECT FOR UPDATE, no read-modify-write in Python). The first download of a day inserts the row;
when two requests race to insert, the loser's INSERT hits the unique constraint inside a savepoint
and it falls back to the UPDATE, so no download is lost and no request waits on another's
transaction. Buffering in the cache would save a write per download but loses counts when the
cache is evicted, and these counts are not hot enough to need it.
"""

import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from projects.models import DownloadCount


def record_download(*, project_id: int, day: datetime.date | None = None) -> None:
    """Count one download of a file of project `project_id` on `day` (today, UTC, by default)."""
    day = day or timezone.now().date()
    if DownloadCount.objects.filter(project_id=project_id, day=day).update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            DownloadCount.objects.create(project_id=project_id, day=day, count=1)
    except IntegrityError:
        # Another request created today's row between the UPDATE and the INSERT.
        DownloadCount.objects.filter(project_id=project_id, day=day).update(count=F("count") + 1)
