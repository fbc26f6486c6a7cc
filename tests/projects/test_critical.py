"""Critical projects: the daily computation, its events and emails, the admin un-flag, and the
"Your projects" filter and sort (product brief; pypi-behaviour.md §6)."""

import datetime

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone

from auditlog.events import EventType
from auditlog.models import AuditEvent
from index_site.models import OutboxEmail
from projects.models import DownloadCount, Project, Role
from projects.services.critical import compute_critical_projects
from projects.services.projects import create_project, set_project_critical
from projects.tasks import compute_critical_projects as compute_critical_projects_task
from tests.admin_login import log_in_for_admin
from tests.factories import ProjectFactory, RoleFactory, TwoFactorUserFactory, UserFactory

pytestmark = pytest.mark.django_db

TEMPLATE = "projects/project_critical"


@pytest.fixture(autouse=True)
def _critical_settings(settings):
    settings.CRITICAL_PROJECTS_TOP_PERCENT = 10.0
    settings.CRITICAL_PROJECTS_WINDOW_DAYS = 180
    settings.CRITICAL_PROJECTS_MIN_DOWNLOADS = 100


def today() -> datetime.date:
    return timezone.now().date()


def downloads(project: Project, count: int, *, days_ago: int = 0) -> None:
    DownloadCount.objects.create(
        project=project, day=today() - datetime.timedelta(days=days_ago), count=count
    )


def critical_names() -> set[str]:
    return set(Project.objects.filter(is_critical=True).values_list("name", flat=True))


def enter_events():
    return AuditEvent.objects.filter(event_type=EventType.PROJECT_CRITICAL_ENTER)


# -- Which projects --------------------------------------------------------------------------


def test_top_percent_by_downloads_in_the_window_become_critical():
    projects = [ProjectFactory(name=f"p{i}") for i in range(20)]  # 10% of 20: two projects.
    downloads(projects[0], 5000)
    downloads(projects[1], 2000, days_ago=179)  # The window's first day still counts.
    downloads(projects[1], 1000, days_ago=30)
    downloads(projects[2], 2500)
    downloads(projects[3], 90_000, days_ago=180)  # One day before the window: not counted.
    downloads(projects[4], 150)

    flagged = compute_critical_projects()

    assert {p.name for p in flagged} == {"p0", "p1"}
    assert critical_names() == {"p0", "p1"}


def test_projects_tied_with_the_last_of_the_top_percent_are_critical_too():
    projects = [ProjectFactory(name=f"p{i}") for i in range(10)]  # 10% of 10: one project.
    downloads(projects[7], 400)
    downloads(projects[3], 400)
    downloads(projects[5], 399)
    compute_critical_projects()
    assert critical_names() == {"p3", "p7"}


def test_a_small_index_flags_nothing_below_the_minimum_downloads():
    project = ProjectFactory(name="lonely")  # 10% of one project rounds up to one.
    downloads(project, 99)
    assert compute_critical_projects() == []
    downloads(project, 1, days_ago=1)
    assert [p.name for p in compute_critical_projects()] == ["lonely"]


def test_zero_percent_turns_the_computation_off(settings):
    settings.CRITICAL_PROJECTS_TOP_PERCENT = 0
    downloads(ProjectFactory(), 10_000)
    assert compute_critical_projects() == []
    assert not critical_names()


def test_a_critical_project_is_never_unflagged_automatically():
    quiet = ProjectFactory(name="quiet", is_critical=True)  # No downloads at all any more.
    busy = ProjectFactory(name="busy")
    downloads(busy, 10_000)
    compute_critical_projects()
    assert critical_names() == {"quiet", "busy"}
    assert not AuditEvent.objects.filter(event_type=EventType.PROJECT_CRITICAL_EXIT, project=quiet)


def test_the_task_flags_emails_and_records_once_when_run_twice(owner, project):
    downloads(project, 5000)
    assert compute_critical_projects_task.delay().get() == 1
    assert compute_critical_projects_task.delay().get() == 0
    assert enter_events().count() == 1
    assert OutboxEmail.objects.filter(template=TEMPLATE).count() == 1


def test_the_task_runs_daily():
    schedule = django_settings.CELERY_BEAT_SCHEDULE["compute-critical-projects"]
    assert schedule["task"] == "projects.tasks.compute_critical_projects"
    assert schedule["schedule"].hour == {3}
    assert schedule["schedule"].day_of_week == set(range(7))


# -- Event and emails ------------------------------------------------------------------------


def test_entering_records_the_event_with_why(project):
    downloads(project, 5000)
    compute_critical_projects()
    (event,) = enter_events()
    assert event.project == project
    assert event.actor is None
    assert event.data == {
        "by": "system",
        "downloads": 5000,
        "window_days": 180,
        "top_percent": 10.0,
    }


@pytest.fixture
def team(owner, project):
    """The Widget project's owner, a maintainer without 2FA and a disabled maintainer."""
    newcomer = UserFactory(username="newcomer")
    RoleFactory(project=project, user=newcomer, role=Role.Kind.MAINTAINER)
    gone = UserFactory(username="gone", is_active=False)
    RoleFactory(project=project, user=gone, role=Role.Kind.MAINTAINER)
    downloads(project, 5000)
    return owner, newcomer


def _email_to(user) -> OutboxEmail:
    (email,) = OutboxEmail.objects.filter(template=TEMPLATE, recipient=user.email)
    return email


def test_every_active_owner_and_maintainer_is_told_what_why_and_what_to_do(team, project):
    owner, _ = team
    compute_critical_projects()
    assert OutboxEmail.objects.filter(template=TEMPLATE).count() == 2
    email = _email_to(owner)
    site = django_settings.SITE_URL
    assert email.subject == "Widget is now a critical project on Gatehouse"
    assert "Widget, which you maintain as Owner, is now a critical project on Gatehouse" in (
        email.body_text
    )
    assert "is now a <strong>critical project</strong> on Gatehouse" in email.body_html
    for body in (email.body_text, email.body_html):
        assert "top 10% most-downloaded projects on Gatehouse over the last 180 days" in body
        assert f"{site}/account/two-factor/" in body
        assert f"{site}/manage/project/widget/settings/publishing/" in body
        assert f"{site}/manage/project/widget/settings/" in body
        assert f"{site}/project/widget/" in body
        assert "trusted publishing" in body
        assert "remove collaborators who no longer need access" in body
    assert 'href="http://testserver/account/two-factor/"' in email.body_html


def test_the_email_thanks_links_the_explanation_and_says_ci_and_passkeys_keep_working(
    settings, team
):
    settings.TWO_FACTOR_POLICY = "critical"
    owner, newcomer = team
    compute_critical_projects()
    help_link = f"{django_settings.SITE_URL}/help/#critical-projects"
    for user in (owner, newcomer):
        email = _email_to(user)
        for body in (email.body_text, email.body_html):
            assert body.index("is among the most used projects on Gatehouse: thank you") < (
                body.index("is now a")
            )
            assert help_link in body
            assert "CI never asks for a second factor" in body
            assert "Passwords cannot be used to upload" in body
            assert "No hardware key needed" in body
            for method in ("passkey", "Touch ID", "Windows Hello", "Android", "security key"):
                assert method in body
            assert "reply" not in body.lower()
    owner_text, newcomer_text = _email_to(owner).body_text, _email_to(newcomer).body_text
    assert "Uploads with API tokens and\nwith trusted publishing keep working as they are" in (
        owner_text
    )
    # Without a second factor an API token is refused until one is added: the email says so.
    assert (
        "Trusted publishing\nuploads keep working as they are; uploads with your API tokens "
        in (newcomer_text)
    )
    assert "as soon as\nyour account has a second factor" in newcomer_text


def test_the_help_page_explains_critical_projects(client, settings):
    settings.TWO_FACTOR_POLICY = "critical"
    page = client.get(reverse("help")).content.decode()
    section = " ".join(page.split('id="critical-projects"', 1)[1].split("</section>", 1)[0].split())
    assert "top 10% of all projects by" in section
    assert "over the last 180 days" in section
    assert "at least 100 downloads" in section
    assert "must use two-factor" in section
    assert "no hardware key is needed" in section
    assert "Releases from CI keep working" in section


def test_maintainers_are_not_sent_to_owner_only_pages(team):
    _, newcomer = team
    compute_critical_projects()
    email = _email_to(newcomer)
    assert "/settings/" not in email.body_text
    assert "Ask an owner to review who can publish the project" in email.body_text
    assert "An owner of the project sets it up." in email.body_text


def test_under_the_critical_policy_the_email_says_2fa_is_now_required(settings, team):
    settings.TWO_FACTOR_POLICY = "critical"
    owner, newcomer = team
    compute_critical_projects()
    with_2fa, without = _email_to(owner).body_text, _email_to(newcomer).body_text
    required = "Every owner and maintainer of a critical project must use two-factor"
    assert required in with_2fa
    assert required in without
    assert "You already use two-factor authentication" in with_2fa
    assert "until you do, you cannot upload" in without
    assert "Set up two-factor authentication now" in without


def test_under_the_all_policy_the_email_says_nothing_new_is_required(settings, team):
    settings.TWO_FACTOR_POLICY = "all"
    owner, newcomer = team
    compute_critical_projects()
    with_2fa, without = _email_to(owner).body_text, _email_to(newcomer).body_text
    assert "already needs two-factor authentication" in with_2fa
    assert "no new requirement applies" in with_2fa
    assert "must use two-factor" not in with_2fa
    assert "Your account has no second factor yet" in without
    assert "Your account has no second factor yet" not in with_2fa


# -- Administrators ---------------------------------------------------------------------------


def test_an_admin_unflag_is_recorded_and_emails_no_one(project):
    admin = TwoFactorUserFactory(is_staff=True)
    Project.objects.filter(pk=project.pk).update(is_critical=True)
    assert set_project_critical(project=project, is_critical=False, actor=admin)
    (event,) = AuditEvent.objects.filter(event_type=EventType.PROJECT_CRITICAL_EXIT)
    assert event.project == project
    assert event.actor == admin
    assert event.data == {"by": "admin"}
    assert not OutboxEmail.objects.filter(template=TEMPLATE).exists()
    assert not set_project_critical(project=project, is_critical=False, actor=admin)
    assert AuditEvent.objects.filter(event_type=EventType.PROJECT_CRITICAL_EXIT).count() == 1


def test_an_admin_flag_says_an_administrator_designated_it_and_why(owner, project):
    admin = TwoFactorUserFactory(is_staff=True)
    reason = "It's the build backend of three critical projects"
    set_project_critical(project=project, is_critical=True, actor=admin, reason=reason)
    (event,) = enter_events()
    assert event.data == {"by": "admin", "reason": reason}
    email = _email_to(owner)
    assert (
        f'an administrator of Gatehouse designated it critical. Their reason: "{reason}"'
        in email.body_text
    )
    assert "Their reason: “It&#x27;s the build backend" in email.body_html
    assert "Thank you for maintaining" in email.body_text
    assert "among the most used" not in email.body_text


def _admin_change(client, project, **changes):
    admin = TwoFactorUserFactory(is_staff=True, is_superuser=True)
    log_in_for_admin(client, admin)
    url = reverse("admin:projects_project_change", args=[project.pk])
    form = client.get(url).context["adminform"].form
    data = {k: ("" if v is None else v) for k, v in form.initial.items() if k in form.fields}
    data.update(changes)
    return client.post(url, data)


def test_the_admin_change_form_flags_only_with_a_reason(client, owner, project):
    refused = _admin_change(client, project, is_critical="on")
    assert refused.status_code == 200
    assert "Say why the project is critical" in refused.content.decode()
    project.refresh_from_db()
    assert not project.is_critical
    flagged = _admin_change(client, project, is_critical="on", critical_reason="Widely vendored")
    assert flagged.status_code == 302
    project.refresh_from_db()
    assert project.is_critical
    (event,) = enter_events()
    assert event.data == {"by": "admin", "reason": "Widely vendored"}
    assert 'Their reason: "Widely vendored"' in _email_to(owner).body_text


def test_the_admin_change_form_unflags_through_the_service(client, owner, project):
    admin = TwoFactorUserFactory(is_staff=True, is_superuser=True)
    Project.objects.filter(pk=project.pk).update(is_critical=True)
    log_in_for_admin(client, admin)
    url = reverse("admin:projects_project_change", args=[project.pk])
    form = client.get(url).context["adminform"].form
    data = {k: ("" if v is None else v) for k, v in form.initial.items() if k in form.fields}
    data.pop("is_critical")
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    project.refresh_from_db()
    assert not project.is_critical
    (event,) = AuditEvent.objects.filter(event_type=EventType.PROJECT_CRITICAL_EXIT)
    assert event.actor == admin


# -- "Your projects" --------------------------------------------------------------------------


@pytest.fixture
def owned(owner):
    alpha = create_project(name="alpha", creator=owner)
    beta = create_project(name="beta", creator=owner)
    gamma = create_project(name="gamma", creator=owner)
    downloads(alpha, 10)
    downloads(gamma, 700)
    downloads(gamma, 50, days_ago=3)
    downloads(beta, 90_000, days_ago=400)  # Outside the window: not shown, not sorted by.
    Project.objects.filter(pk=gamma.pk).update(is_critical=True)
    return owner


def names(response) -> list[str]:
    return [p.name for p in response.context["projects"]]


def test_your_projects_sorts_by_downloads_in_the_window(login, owned):
    client = login(owned)
    response = client.get(reverse("projects:mine"), {"order": "downloads"})
    assert names(response) == ["gamma", "alpha", "beta"]
    assert [p.recent_downloads for p in response.context["projects"]] == [750, 10, 0]
    content = response.content.decode()
    assert "<td>750</td>" in content
    assert "last 180 days" in content
    assert '<option value="downloads" selected>' in content


def test_your_projects_filters_to_critical_and_sorts(login, owned):
    client = login(owned)
    assert names(client.get(reverse("projects:mine"), {"critical": "1"})) == ["gamma"]
    assert names(client.get(reverse("projects:mine"), {"order": "name"})) == [
        "alpha",
        "beta",
        "gamma",
    ]
    assert names(client.get(reverse("projects:mine"), {"order": "newest"})) == [
        "gamma",
        "beta",
        "alpha",
    ]


def test_your_projects_query_count_does_not_grow_with_projects(
    login, owner, django_assert_max_num_queries
):
    for i in range(30):
        project = create_project(name=f"lib-{i}", creator=owner)
        downloads(project, i + 1)
    client = login(owner)
    with django_assert_max_num_queries(4):
        response = client.get(reverse("projects:mine"), {"order": "downloads"})
    assert response.status_code == 200
    assert names(response)[0] == "lib-29"
