"""Trusted publishing in the admin: every change on the audit log, nothing that re-enables a
replay or silently changes who owns what."""

import time

import pytest
from django.urls import reverse

from accounts.login import SECOND_FACTOR_VERIFIED_KEY
from accounts.reauth import AUTHENTICATED_AT_KEY
from auditlog.events import EventType
from auditlog.models import AuditEvent
from index_site.models import OutboxEmail
from publishing.models import AdminFlag, OIDCIssuer, PendingPublisher, TrustedPublisher, UsedJwtId
from publishing.pending import register_pending_publisher
from publishing.selectors import publisher_may_upload_to
from tests.factories import ProjectFactory, TwoFactorUserFactory
from tests.publishing.oidc.conftest import GITHUB_CONFIG, add_publisher
from tokens.models import ApiToken
from tokens.services import create_publisher_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db):
    return TwoFactorUserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    session = client.session
    session[AUTHENTICATED_AT_KEY] = int(time.time())
    session[SECOND_FACTOR_VERIFIED_KEY] = True
    session.save()
    return client


def _url(model, action: str, *args) -> str:
    return reverse(f"admin:publishing_{model._meta.model_name}_{action}", args=args)


# Used JWT ids ------------------------------------------------------------------------------


def test_used_jwt_ids_cannot_be_deleted_or_edited_in_the_admin(admin_client):
    used = UsedJwtId.objects.create(
        issuer_url="https://issuer.example", jti="abc", expires_at="2030-01-01T00:00:00Z"
    )
    assert admin_client.get(_url(UsedJwtId, "changelist")).status_code == 200
    assert admin_client.post(_url(UsedJwtId, "delete", used.pk), {"post": "yes"}).status_code == 403
    change = admin_client.post(_url(UsedJwtId, "change", used.pk), {"jti": "other"})
    assert change.status_code == 403
    assert UsedJwtId.objects.get().jti == "abc"


# Admin flags -------------------------------------------------------------------------------


def test_flipping_an_admin_flag_is_audited(admin_client, superuser):
    AdminFlag.objects.create(id=AdminFlag.DISALLOW_OIDC, is_enabled=False)
    response = admin_client.post(
        _url(AdminFlag, "change", AdminFlag.DISALLOW_OIDC),
        {"is_enabled": "on", "description": "incident 42"},
    )
    assert response.status_code == 302
    assert AdminFlag.objects.get().is_enabled
    event = AuditEvent.objects.get(event_type=EventType.ADMIN_FLAG_CHANGED)
    assert event.actor_id == superuser.pk
    assert event.data["flag"] == AdminFlag.DISALLOW_OIDC
    assert (event.data["is_enabled"], event.data["was_enabled"]) == (True, False)


def test_flipping_a_flag_from_the_list_is_audited(admin_client):
    AdminFlag.objects.create(id=AdminFlag.DISALLOW_OIDC, is_enabled=True)
    response = admin_client.post(
        _url(AdminFlag, "changelist"),
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": AdminFlag.DISALLOW_OIDC,
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    assert not AdminFlag.objects.get().is_enabled
    event = AuditEvent.objects.get(event_type=EventType.ADMIN_FLAG_CHANGED)
    assert (event.data["is_enabled"], event.data["was_enabled"]) == (False, True)


def test_admin_flags_cannot_be_deleted(admin_client):
    AdminFlag.objects.create(id=AdminFlag.DISALLOW_OIDC, is_enabled=True)
    response = admin_client.post(
        _url(AdminFlag, "delete", AdminFlag.DISALLOW_OIDC), {"post": "yes"}
    )
    assert response.status_code == 403
    assert AdminFlag.objects.exists()


# OIDC issuers ------------------------------------------------------------------------------


def _issuer_form(**overrides) -> dict:
    return {
        "name": "Forgejo",
        "issuer_url": "https://forgejo.example",
        "kind": OIDCIssuer.Kind.CUSTOM,
        "key_source": OIDCIssuer.KeySource.DISCOVERY,
        "pinned_jwks": "{}",
        "audience": "",
        "algorithms": "[]",
        "requires_jti": "on",
        "is_enabled": "on",
        **overrides,
    }


def test_adding_changing_and_deleting_an_issuer_is_audited(admin_client, superuser):
    assert admin_client.post(_url(OIDCIssuer, "add"), _issuer_form()).status_code == 302
    issuer = OIDCIssuer.objects.get()
    changed = admin_client.post(
        _url(OIDCIssuer, "change", issuer.pk), _issuer_form(audience="other-audience")
    )
    assert changed.status_code == 302
    deleted = admin_client.post(_url(OIDCIssuer, "delete", issuer.pk), {"post": "yes"})
    assert deleted.status_code == 302
    events = AuditEvent.objects.filter(event_type=EventType.ADMIN_OIDC_ISSUER_CHANGED).order_by(
        "pk"
    )
    assert [event.data["action"] for event in events] == ["added", "changed", "deleted"]
    assert "audience" in events[1].data["fields"]
    assert {event.actor_id for event in events} == {superuser.pk}
    assert not OIDCIssuer.objects.exists()


# Trusted publishers ------------------------------------------------------------------------


def test_publisher_configuration_is_read_only_in_the_admin(admin_client):
    project = ProjectFactory(name="widget")
    publisher = add_publisher(project, **GITHUB_CONFIG)
    response = admin_client.post(
        _url(TrustedPublisher, "change", publisher.pk),
        {"repository_owner": "attacker", "repository_name": "evil", "projects": [project.pk]},
    )
    assert response.status_code == 302
    publisher.refresh_from_db()
    assert (publisher.repository_owner, publisher.repository_name) == ("acme", "widget")


def test_removing_a_project_in_the_admin_is_audited_and_stops_live_tokens(admin_client, superuser):
    project = ProjectFactory(name="widget")
    kept = ProjectFactory(name="kept")
    publisher = add_publisher(project, **GITHUB_CONFIG)
    publisher.projects.add(kept)
    token, _raw = create_publisher_token(publisher_id=publisher.pk, project_ids=[project.pk])

    response = admin_client.post(
        _url(TrustedPublisher, "change", publisher.pk), {"projects": [kept.pk]}
    )

    assert response.status_code == 302
    assert list(publisher.projects.all()) == [kept]
    event = AuditEvent.objects.get(event_type=EventType.PROJECT_OIDC_PUBLISHER_REMOVED)
    assert (event.project, event.actor_id) == (project, superuser.pk)
    assert not publisher_may_upload_to(publisher_id=publisher.pk, project=project)
    assert not ApiToken.objects.filter(pk=token.pk).exists()


def test_adding_a_project_in_the_admin_is_audited_and_emails_collaborators(admin_client):
    project = ProjectFactory(name="widget")
    other = ProjectFactory(name="other")
    publisher = add_publisher(project, **GITHUB_CONFIG)

    response = admin_client.post(
        _url(TrustedPublisher, "change", publisher.pk), {"projects": [project.pk, other.pk]}
    )

    assert response.status_code == 302
    event = AuditEvent.objects.get(event_type=EventType.PROJECT_OIDC_PUBLISHER_ADDED)
    assert event.project == other


def test_publishers_cannot_be_added_or_deleted_in_the_admin(admin_client):
    publisher = add_publisher(ProjectFactory(name="widget"), **GITHUB_CONFIG)
    assert admin_client.get(_url(TrustedPublisher, "add")).status_code == 403
    deleted = admin_client.post(_url(TrustedPublisher, "delete", publisher.pk), {"post": "yes"})
    assert deleted.status_code == 403
    assert TrustedPublisher.objects.exists()


# Pending publishers ------------------------------------------------------------------------


def test_pending_publisher_registrant_cannot_be_changed_in_the_admin(admin_client):
    registrant = TwoFactorUserFactory()
    pending = register_pending_publisher(
        user=registrant, project_name="new-widget", config=dict(GITHUB_CONFIG)
    )
    response = admin_client.post(
        _url(PendingPublisher, "change", pending.pk),
        {"added_by": TwoFactorUserFactory().pk, "project_name": "other-name"},
    )
    assert response.status_code == 302
    pending.refresh_from_db()
    assert (pending.added_by, pending.project_name) == (registrant, "new-widget")


def test_deleting_a_pending_publisher_in_the_admin_is_on_the_registrants_history(
    admin_client, superuser
):
    registrant = TwoFactorUserFactory()
    pending = register_pending_publisher(
        user=registrant, project_name="new-widget", config=dict(GITHUB_CONFIG)
    )
    response = admin_client.post(_url(PendingPublisher, "delete", pending.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not PendingPublisher.objects.exists()
    assert not TrustedPublisher.objects.exists()
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_OIDC_PENDING_PUBLISHER_REMOVED)
    assert (event.user, event.actor_id) == (registrant, superuser.pk)
    assert event.data["removed_by"] == f"admin:{superuser.username}"
    assert not OutboxEmail.objects.filter(template__startswith="publishing/pending").exists()
