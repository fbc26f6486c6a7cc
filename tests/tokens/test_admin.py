"""Token admin (list, search, revoke with reason, decode) and the issue_token command."""

import io
import logging
import time

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.views.debug import SafeExceptionReporterFilter

from accounts.reauth import AUTHENTICATED_AT_KEY
from auditlog.events import EventType
from auditlog.models import AuditEvent
from index_site.models import OutboxEmail
from tests.admin_login import log_in_for_admin
from tests.factories import TwoFactorUserFactory, UserFactory
from tests.tokens.conftest import request_with
from tokens.authentication import authenticate_upload
from tokens.models import ApiToken

ADMIN = "/admin/tokens/apitoken/"


@pytest.fixture
def admin_client(client, db):
    admin = TwoFactorUserFactory(is_staff=True, is_superuser=True)
    log_in_for_admin(client, admin)
    session = client.session
    session[AUTHENTICATED_AT_KEY] = int(time.time())
    session.save()
    client.admin = admin
    return client


def test_admin_lists_and_searches_tokens_without_secrets(admin_client, make_token, owner):
    _token, raw = make_token(name="findme")
    make_token(name="other")
    response = admin_client.get(ADMIN, {"q": "findme"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "findme" in body
    assert "other" not in body.split("result_list")[-1]
    assert raw not in body
    assert raw.removeprefix("pypi-")[-20:] not in body


def test_admin_token_page_never_shows_a_secret(admin_client, make_token):
    token, raw = make_token()
    body = admin_client.get(f"{ADMIN}{token.pk}/change/").content.decode()
    assert token.name in body
    assert raw.removeprefix("pypi-")[-20:] not in body


def test_admin_revokes_with_a_reason_and_emails_the_owner(admin_client, make_token, owner):
    token, raw = make_token(name="bad")
    url = f"{ADMIN}{token.pk}/revoke/"
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"reason": "seen in a public log", "notify": "on"})
    assert response.status_code == 302
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_API_TOKEN_REMOVED)
    assert event.actor == admin_client.admin
    assert event.data["reason"] == "seen in a public log"
    assert "seen in a public log" in OutboxEmail.objects.get(template="tokens/revoked").body_text
    with pytest.raises(Exception, match="Invalid API Token"):
        authenticate_upload(request_with(raw))


def test_admin_cannot_delete_tokens_without_the_audited_revocation(admin_client, make_token):
    token, _raw = make_token()
    assert admin_client.get(f"{ADMIN}{token.pk}/delete/").status_code == 403
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_admin_decodes_a_pasted_token(admin_client, make_token, owner, project):
    token, raw = make_token(name="decoded", project_ids=[project.pk])
    response = admin_client.post(f"{ADMIN}decode/", {"token": raw})
    body = response.content.decode()
    assert str(token.pk) in body
    assert "testserver" in body
    assert "ProjectName" in body
    assert "ProjectID" in body
    assert owner.username in body
    assert "valid (minted by this index)" in body
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_admin_decoding_garbage_says_so(admin_client):
    body = admin_client.post(f"{ADMIN}decode/", {"token": "pypi-garbage!"}).content.decode()
    assert "This is not a token this index can read" in body


def _staff_client(client, *permissions: str):
    staff = TwoFactorUserFactory(is_staff=True)
    for codename in permissions:
        staff.user_permissions.add(Permission.objects.get(codename=codename))
    log_in_for_admin(client, staff)
    return client


def test_staff_without_the_token_view_permission_cannot_decode(client, make_token):
    _token, raw = make_token(name="secret-one")
    staff_client = _staff_client(client)

    response = staff_client.post(f"{ADMIN}decode/", {"token": raw})

    assert response.status_code == 403
    assert "secret-one" not in response.content.decode()


def test_staff_with_the_token_view_permission_can_decode(client, make_token):
    token, raw = make_token(name="decoded")
    staff_client = _staff_client(client, "view_apitoken")

    response = staff_client.post(f"{ADMIN}decode/", {"token": raw})

    assert response.status_code == 200
    assert str(token.pk) in response.content.decode()


def test_decoding_keeps_the_pasted_token_out_of_the_page_logs_and_error_reports(
    admin_client, make_token, caplog
):
    _token, raw = make_token()
    secret_part = raw.removeprefix("pypi-")[-20:]

    with caplog.at_level(logging.DEBUG):
        response = admin_client.post(f"{ADMIN}decode/", {"token": raw})

    assert response.status_code == 200
    assert secret_part not in response.content.decode()
    assert secret_part not in caplog.text
    reported = SafeExceptionReporterFilter().get_post_parameters(response.wsgi_request)
    assert secret_part not in str(reported["token"])


def test_non_staff_cannot_reach_token_admin(client, owner, make_token):
    token, _raw = make_token()
    client.force_login(owner)
    response = client.post(f"{ADMIN}{token.pk}/revoke/", {"reason": "x"})
    assert response.status_code == 302
    assert ApiToken.objects.filter(pk=token.pk).exists()


# --- issue_token ---


def issue(*args) -> str:
    out = io.StringIO()
    call_command("issue_token", *args, stdout=out)
    return out.getvalue()


def test_issue_token_prints_only_a_working_token(owner, project):
    out = issue("--username", owner.username, "--name", "deploy", "--project", project.name)
    raw = out.removesuffix("\n")
    assert raw.startswith("pypi-")
    assert "\n" not in raw  # nothing but the token
    identity = authenticate_upload(request_with(raw))
    assert identity.user == owner
    assert identity.may_upload_to(project)
    assert not identity.may_create_projects
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_API_TOKEN_ADDED)
    assert event.actor is None
    assert event.user == owner


def test_issue_token_with_expiry(owner):
    issue("--username", owner.username, "--name", "short", "--expires-in", "7")
    assert ApiToken.objects.get().expires_at is not None


@pytest.mark.parametrize(
    ("make_user", "message"),
    [
        (TwoFactorUserFactory, "disabled"),
        (lambda: TwoFactorUserFactory(email__verified=False), "verified primary email"),
        (UserFactory, "second factor"),
    ],
)
def test_issue_token_refuses_users_who_may_not_upload(db, make_user, message):
    user = make_user()
    if message == "disabled":
        user.is_active = False
        user.save()
    with pytest.raises(CommandError, match=message):
        issue("--username", user.username, "--name", "x")
    assert not ApiToken.objects.exists()


def test_issue_token_is_held_to_the_hourly_creation_limit(owner):
    for number in range(20):
        issue("--username", owner.username, "--name", f"t{number}")

    with pytest.raises(CommandError, match="Wait an hour"):
        issue("--username", owner.username, "--name", "one too many")

    assert ApiToken.objects.count() == 20


def test_issue_token_refuses_unknown_user_and_project(owner):
    with pytest.raises(CommandError, match="No user named"):
        issue("--username", "nobody", "--name", "x")
    with pytest.raises(CommandError, match="No project named"):
        issue("--username", owner.username, "--name", "x", "--project", "missing")


def test_issue_token_refuses_a_project_the_user_does_not_maintain(owner):
    from tests.factories import RoleFactory  # noqa: PLC0415 - only this test needs it

    foreign = RoleFactory().project
    with pytest.raises(CommandError, match="own or maintain"):
        issue("--username", owner.username, "--name", "x", "--project", foreign.name)


def test_admin_scope_of_a_token_whose_projects_were_deleted(admin_client, make_token, project):
    token, _raw = make_token(name="orphaned", project_ids=[project.pk])
    unscoped, _raw = make_token(name="everywhere")
    project.delete()

    page = admin_client.get(f"{ADMIN}{token.pk}/change/").content.decode()

    assert "No project (its projects were deleted)" in page
    assert unscoped.scope_without_projects == "All projects"
