"""The token pages: list, create (secret shown once), revoke."""

import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Email
from accounts.reauth import AUTHENTICATED_AT_KEY
from auditlog.events import EventType
from auditlog.models import AuditEvent
from tests.factories import ProjectFactory, RoleFactory, UserFactory
from tests.tokens.conftest import request_with
from tokens.authentication import authenticate_upload
from tokens.exceptions import TokenAuthenticationError
from tokens.models import ApiToken

LIST = "/tokens/"
CREATE = "/tokens/new/"


def create(client, **data):
    return client.post(CREATE, {"scope": "all", "expiry": "", **data})


def test_create_shows_the_secret_once_with_snippets(owner_client, owner):
    response = create(owner_client, name="CI for foo")
    assert response.status_code == 200
    raw = response.context["raw_token"]
    assert raw.startswith("pypi-")
    body = response.content.decode()
    assert body.count(raw) == 3  # the secret, .pypirc and uv publish; CI names its secret
    assert "username = __token__" in body
    assert "UV_PUBLISH_TOKEN=" in body
    assert "secrets.GATEHOUSE_API_TOKEN" in body
    assert 'data-copy-target="token-secret"' in body
    assert "js/copy.js" in body
    assert "<script>" not in body  # no inline script under the CSP
    assert "no-store" in response["Cache-Control"]
    assert authenticate_upload(request_with(raw)).user == owner
    listing = owner_client.get(LIST).content.decode()
    assert raw not in listing
    assert "CI for foo" in listing


def test_create_records_the_event_without_the_secret(owner_client, owner):
    raw = create(owner_client, name="CI").context["raw_token"]
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_API_TOKEN_ADDED)
    assert event.user == owner
    assert event.data["token_name"] == "CI"
    assert event.data["token_scope"] == "all projects"
    assert event.data["caveats"] == [[3, str(owner.pk)]]
    assert raw not in str(event.data)
    assert raw.removeprefix("pypi-")[-20:] not in str(AuditEvent.objects.values_list("data"))


def test_project_scoped_token_appears_in_project_history(owner_client, owner, project):
    create(owner_client, name="scoped", scope="projects", projects=[project.pk])
    event = AuditEvent.objects.get(event_type=EventType.PROJECT_API_TOKEN_ADDED)
    assert event.project == project
    assert event.data == {
        "token_name": "scoped",
        "created_by": owner.username,
        "owner": owner.username,
    }
    token = ApiToken.objects.get()
    assert list(token.projects.all()) == [project]


def test_token_for_several_projects(owner_client, project, other_project):
    raw = create(
        owner_client, name="two", scope="projects", projects=[project.pk, other_project.pk]
    ).context["raw_token"]
    identity = authenticate_upload(request_with(raw))
    assert identity.may_upload_to(project)
    assert identity.may_upload_to(other_project)
    assert AuditEvent.objects.filter(event_type=EventType.PROJECT_API_TOKEN_ADDED).count() == 2


def test_cannot_scope_a_token_to_a_project_the_user_does_not_maintain(owner_client):
    foreign = RoleFactory().project
    response = create(owner_client, name="x", scope="projects", projects=[foreign.pk])
    assert response.status_code == 200
    assert "raw_token" not in response.context
    assert response.context["form"].errors["projects"]
    assert not ApiToken.objects.exists()


def test_maintainer_may_scope_a_token_to_the_project(owner_client, owner):
    project = RoleFactory(user=owner, role="Maintainer", project=ProjectFactory()).project
    response = create(owner_client, name="m", scope="projects", projects=[project.pk])
    assert "raw_token" in response.context


def test_projects_scope_needs_a_project(owner_client):
    response = create(owner_client, name="x", scope="projects")
    assert "Choose at least one project" in str(response.context["form"].errors)


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "This field is required."), ("x" * 101, "at most 100 characters")],
)
def test_token_name_is_required_and_bounded(owner_client, name, message):
    response = create(owner_client, name=name)
    assert message in str(response.context["form"].errors["name"])


def test_token_name_is_unique_per_user(owner_client, owner, make_token):
    make_token(name="taken")
    response = create(owner_client, name="taken")
    assert "already have a token with this name" in str(response.context["form"].errors)
    other = UserFactory()
    make_token(user=other, name="same name elsewhere")
    assert "raw_token" in create(owner_client, name="same name elsewhere").context


@pytest.mark.parametrize("days", ["30", "90", "365"])
def test_preset_expiry_sets_the_expiration_caveat(owner_client, days):
    raw = create(owner_client, name="e", expiry=days).context["raw_token"]
    token = ApiToken.objects.get()
    expected = timezone.now() + timedelta(days=int(days))
    assert abs(token.expires_at - expected) < timedelta(minutes=1)
    assert any(caveat[0] == 0 for caveat in token.caveats)
    authenticate_upload(request_with(raw))


def test_expiry_on_a_date(owner_client):
    day = (timezone.now() + timedelta(days=10)).date()
    create(owner_client, name="d", expiry="date", expires_on=day.isoformat())
    assert ApiToken.objects.get().expires_at.date() == day


@pytest.mark.parametrize("expires_on", ["", "2001-01-01"])
def test_expiry_date_must_be_given_and_in_the_future(owner_client, expires_on):
    response = create(owner_client, name="d", expiry="date", expires_on=expires_on)
    assert response.context["form"].errors["expires_on"]


def test_ip_ranges_bind_the_token(owner_client):
    raw = create(owner_client, name="ip", ip_networks="192.0.2.0/24\n2001:db8::/32").context[
        "raw_token"
    ]
    authenticate_upload(request_with(raw, ip="192.0.2.7"))
    with pytest.raises(TokenAuthenticationError):
        authenticate_upload(request_with(raw, ip="198.51.100.7"))


def test_invalid_ip_range_is_explained(owner_client):
    response = create(owner_client, name="ip", ip_networks="not-an-ip")
    errors = response.context["form"].errors["ip_networks"]
    assert errors[0].startswith("'not-an-ip' is not an IP address or CIDR range")


def test_unverified_email_cannot_create_tokens(owner_client, owner):
    Email.objects.filter(user=owner).update(is_verified=False)
    response = create(owner_client, name="x")
    assert "Verify your email address" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_twenty_first_token_in_an_hour_is_rate_limited(owner_client):
    for number in range(20):
        assert "raw_token" in create(owner_client, name=f"t{number}").context
    response = create(owner_client, name="one too many")
    assert response.status_code == 429
    assert ApiToken.objects.count() == 20


def test_pages_require_reauthentication(client, owner):
    client.force_login(owner)
    for path in (LIST, CREATE):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/account/reauthenticate/")
    assert create(client, name="x").status_code == 302
    assert not ApiToken.objects.exists()


def test_pages_require_two_factor(db):
    user = UserFactory()
    client = Client()
    client.force_login(user)
    session = client.session
    session[AUTHENTICATED_AT_KEY] = int(time.time())
    session.save()
    assert client.get(LIST)["Location"] == "/account/two-factor/?next=%2Ftokens%2F"
    assert create(client, name="x").status_code == 302
    assert not ApiToken.objects.exists()


def test_anonymous_users_are_sent_to_login(client, db):
    response = client.get(LIST)
    assert response["Location"].startswith("/account/login/")


def test_a_token_never_authenticates_a_page(client, make_token):
    _token, raw = make_token()
    for header in (f"token {raw}", f"Bearer {raw}"):
        response = client.get(LIST, HTTP_AUTHORIZATION=header)
        assert response.status_code == 302
        assert response["Location"].startswith("/account/login/")


def test_list_shows_scope_expiry_and_last_use(owner_client, make_token, project):
    _token, raw = make_token(name="scoped", project_ids=[project.pk])
    make_token(name="limited", expires_at=timezone.now() + timedelta(days=3))
    authenticate_upload(request_with(raw, ip="203.0.113.5"))
    body = owner_client.get(LIST).content.decode()
    assert project.name in body
    assert "All projects" in body
    assert "from 203.0.113.5" in body
    assert "Never" in body


def test_list_query_count_does_not_grow_with_tokens(
    owner_client, make_token, project, django_assert_max_num_queries
):
    for number in range(10):
        make_token(name=f"t{number}", project_ids=[project.pk])
    with django_assert_max_num_queries(5):  # user, 2FA check, tokens, their projects (+1)
        assert owner_client.get(LIST).status_code == 200


def test_revoke_asks_for_confirmation_then_revokes(owner_client, owner, make_token, project):
    token, raw = make_token(name="old", project_ids=[project.pk])
    path = f"/tokens/{token.pk}/revoke/"
    assert "Revoke the token" in owner_client.get(path).content.decode()
    assert ApiToken.objects.filter(pk=token.pk).exists()
    response = owner_client.post(path)
    assert response["Location"] == LIST
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    with pytest.raises(TokenAuthenticationError):
        authenticate_upload(request_with(raw))
    removed = AuditEvent.objects.get(event_type=EventType.ACCOUNT_API_TOKEN_REMOVED)
    assert removed.user == owner
    assert removed.data["token_name"] == "old"
    project_event = AuditEvent.objects.get(event_type=EventType.PROJECT_API_TOKEN_REMOVED)
    assert project_event.project == project


def test_revoking_another_users_token_is_404_and_deletes_nothing(owner_client, make_token):
    someone = UserFactory()
    token, _raw = make_token(user=someone, name="theirs")
    assert owner_client.get(f"/tokens/{token.pk}/revoke/").status_code == 404
    assert owner_client.post(f"/tokens/{token.pk}/revoke/").status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()
    assert not AuditEvent.objects.filter(event_type=EventType.ACCOUNT_API_TOKEN_REMOVED).exists()


def test_list_marks_expired_tokens(owner_client, make_token):
    import time_machine  # noqa: PLC0415 - only this test travels

    expires = timezone.now() + timedelta(hours=1)
    make_token(name="short-lived", expires_at=expires)
    assert "Expired" not in owner_client.get(LIST).content.decode()
    with time_machine.travel(expires + timedelta(minutes=1)):
        session = owner_client.session
        session[AUTHENTICATED_AT_KEY] = int(time.time())
        session.save()
        assert "Expired" in owner_client.get(LIST).content.decode()


def test_a_token_whose_projects_were_deleted_is_not_listed_as_reaching_all_projects(
    owner_client, make_token, project
):
    make_token(name="orphaned", project_ids=[project.pk])
    project.delete()

    body = owner_client.get(LIST).content.decode()

    assert "No project (its projects were deleted)" in body
    assert "All projects" not in body


def test_revoking_a_token_needs_recent_authentication(client, owner, make_token):
    token, raw = make_token(name="kept")
    client.force_login(owner)  # logged in, but no recent password entry
    path = f"/tokens/{token.pk}/revoke/"

    response = client.post(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/account/reauthenticate/")
    assert ApiToken.objects.filter(pk=token.pk).exists()
    assert authenticate_upload(request_with(raw)).user == owner
    assert not AuditEvent.objects.filter(event_type=EventType.ACCOUNT_API_TOKEN_REMOVED).exists()
