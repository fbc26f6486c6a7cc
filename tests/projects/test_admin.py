import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.login import SECOND_FACTOR_VERIFIED_KEY
from accounts.selectors import has_two_factor
from auditlog.models import AuditEvent
from projects.exceptions import ProjectNameError
from projects.models import (
    DownloadCount,
    FilenameRegistry,
    ProhibitedProjectName,
    Project,
    Role,
    RoleInvitation,
)
from projects.names import validate_project_name
from projects.services.projects import create_project
from tests.accounts.two_factor.conftest import code_at, current_step, pending_secret
from tests.factories import TwoFactorUserFactory, UserFactory

MODELS = [Project, Role, RoleInvitation, ProhibitedProjectName, FilenameRegistry, DownloadCount]


@pytest.fixture
def superuser(db):
    return TwoFactorUserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def admin_project(superuser):
    project = create_project(name="Admin-Thing", creator=UserFactory())
    FilenameRegistry.objects.create(filename="admin_thing-1.0.tar.gz")
    DownloadCount.objects.create(project=project, day="2026-01-01", count=3)
    ProhibitedProjectName.objects.create(name="bad-name")
    return project


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_admin_changelists_load_for_a_superuser(login, superuser, admin_project, model):
    url = reverse(f"admin:projects_{model._meta.model_name}_changelist")
    response = login(superuser).get(url, {"q": "admin"})
    assert response.status_code == 200


def test_admin_project_change_page_loads(login, superuser, admin_project):
    url = reverse("admin:projects_project_change", args=[admin_project.pk])
    response = login(superuser).get(url)
    assert response.status_code == 200
    assert b"upload_limit" in response.content


def test_admin_sets_upload_limit_through_audited_service(login, superuser, admin_project):
    url = reverse("admin:projects_project_change", args=[admin_project.pk])
    response = login(superuser).post(
        url,
        {
            "is_critical": "on",
            "critical_reason": "Large wheels, widely used",
            "upload_limit": str(200 * 1024 * 1024),
            "total_size_limit": "",
        },
    )
    assert response.status_code == 302
    admin_project.refresh_from_db()
    assert admin_project.upload_limit == 200 * 1024 * 1024
    assert admin_project.is_critical
    [event] = AuditEvent.objects.filter(event_type="admin:project:set_upload_limit")
    assert event.actor == superuser
    assert event.project == admin_project
    assert event.data["upload_limit"] == 200 * 1024 * 1024
    assert event.data["previous_upload_limit"] is None
    assert AuditEvent.objects.filter(event_type="project:critical:enter").count() == 1


def test_admin_lowers_both_limits_below_the_site_defaults(
    login, superuser, admin_project, settings
):
    url = reverse("admin:projects_project_change", args=[admin_project.pk])
    response = login(superuser).post(
        url,
        {
            "upload_limit": str(settings.UPLOAD_MAX_FILE_SIZE // 10),
            "total_size_limit": str(settings.UPLOAD_MAX_PROJECT_SIZE // 10),
        },
    )
    assert response.status_code == 302
    admin_project.refresh_from_db()
    assert admin_project.upload_limit == settings.UPLOAD_MAX_FILE_SIZE // 10
    assert admin_project.total_size_limit == settings.UPLOAD_MAX_PROJECT_SIZE // 10
    [event] = AuditEvent.objects.filter(event_type="admin:project:set_upload_limit")
    assert event.data["total_size_limit"] == settings.UPLOAD_MAX_PROJECT_SIZE // 10


@pytest.mark.parametrize("value", ["0", "-1"])
@pytest.mark.parametrize("field", ["upload_limit", "total_size_limit"])
def test_admin_refuses_a_limit_that_is_not_positive(login, superuser, admin_project, field, value):
    url = reverse("admin:projects_project_change", args=[admin_project.pk])
    response = login(superuser).post(
        url, {"upload_limit": "", "total_size_limit": "", field: value}
    )
    assert response.status_code == 200
    admin_project.refresh_from_db()
    assert getattr(admin_project, field) is None
    assert not AuditEvent.objects.filter(event_type="admin:project:set_upload_limit").exists()


def test_admin_refuses_upload_limit_above_the_cap(login, superuser, admin_project):
    url = reverse("admin:projects_project_change", args=[admin_project.pk])
    response = login(superuser).post(
        url, {"upload_limit": str(2 * 1024 * 1024 * 1024), "total_size_limit": ""}
    )
    assert response.status_code == 200
    assert b"between 1 and" in response.content
    admin_project.refresh_from_db()
    assert admin_project.upload_limit is None
    assert not AuditEvent.objects.filter(event_type="admin:project:set_upload_limit").exists()


def test_prohibited_name_added_in_admin_is_stored_normalized(login, superuser):
    url = reverse("admin:projects_prohibitedprojectname_add")
    login(superuser).post(url, {"name": "Evil_Name", "reason": "typosquat"})
    assert ProhibitedProjectName.objects.get().name == "evil-name"
    with pytest.raises(ProjectNameError):
        validate_project_name("evil.name")


@pytest.mark.parametrize("model", [Role, RoleInvitation, FilenameRegistry, DownloadCount])
def test_read_only_models_offer_no_add(login, superuser, model):
    url = reverse(f"admin:projects_{model._meta.model_name}_add")
    assert login(superuser).get(url).status_code == 403


def test_admin_login_form_is_replaced_by_the_site_login(client, db):
    response = client.get(reverse("admin:login"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    # Posting a password to the admin login does not log anyone in.
    staff = UserFactory(is_staff=True, is_superuser=True, password="correct horse battery")
    client.post(
        reverse("admin:login"), {"username": staff.username, "password": "correct horse battery"}
    )
    assert client.get(reverse("admin:index")).status_code == 302


def test_admin_index_sends_anonymous_users_to_site_login(client, db):
    response = client.get(reverse("admin:index"), follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("accounts:login"))


def test_non_staff_user_is_refused_the_admin(login, db):
    client = login(TwoFactorUserFactory())
    response = client.get(reverse("admin:index"), follow=True)
    assert response.status_code == 403


def test_staff_without_second_factor_is_sent_to_set_one_up(login, db):
    client = login(UserFactory(is_staff=True, is_superuser=True))
    response = client.get(reverse("admin:index"), follow=False)
    assert response.status_code == 302
    follow = client.get(response["Location"])
    assert follow.status_code == 302
    assert follow["Location"] == reverse("accounts:two_factor") + "?next=%2Fadmin%2F"


def test_staff_without_model_permission_cannot_open_project_admin(login, db):
    client = login(TwoFactorUserFactory(is_staff=True))
    url = reverse("admin:projects_project_changelist")
    assert client.get(url).status_code == 403


def test_admin_login_does_not_redirect_off_site(login, superuser):
    response = login(superuser).get(reverse("admin:login"), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("admin:index")


def test_staff_who_enrol_a_factor_after_a_password_login_open_the_admin_at_once(client, db):
    staff = UserFactory(is_staff=True, is_superuser=True, password="correct horse battery")
    credentials = {"username": staff.username, "password": "correct horse battery"}
    with time_machine.travel(timezone.now(), tick=False):
        assert client.post(reverse("accounts:login"), credentials).status_code == 302
        client.get(reverse("accounts:totp_setup"))
        secret = pending_secret(client)
        wrong = code_at(secret, current_step() + 5)
        client.post(reverse("accounts:totp_setup"), {"code": wrong})
        refused = client.get(reverse("admin:index"), follow=True)
        assert refused.redirect_chain[-1][0] == reverse("accounts:two_factor") + "?next=%2Fadmin%2F"
        client.post(reverse("accounts:totp_setup"), {"code": code_at(secret, current_step())})
        assert has_two_factor(staff)
        codes_page = client.get(reverse("accounts:recovery_codes")).content.decode()
        assert 'href="/admin/">I have saved my codes' in codes_page
        assert client.get(reverse("admin:index")).status_code == 200


@pytest.mark.parametrize(
    ("account", "reason"),
    [
        ((UserFactory, True, False), "no_second_factor"),
        ((TwoFactorUserFactory, True, False), "login_without_second_factor"),
        ((TwoFactorUserFactory, False, True), "not_staff"),
    ],
)
@pytest.mark.django_db
def test_each_admin_refusal_writes_one_log_line_with_its_reason(client, caplog, account, reason):
    factory, is_staff, verified = account
    caplog.set_level("INFO", logger="gatehouse.refusals")
    user = factory(is_staff=is_staff)
    client.force_login(user)
    session = client.session
    session[SECOND_FACTOR_VERIFIED_KEY] = verified
    session.save()
    client.get(reverse("admin:login"))
    lines = [record for record in caplog.records if record.name == "gatehouse.refusals"]
    assert [(r.refused, r.reason, r.user_id) for r in lines] == [("admin", reason, user.pk)]
