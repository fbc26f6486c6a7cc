import time

import pytest
from django.urls import reverse

from accounts.login import SECOND_FACTOR_VERIFIED_KEY
from accounts.reauth import AUTHENTICATED_AT_KEY
from auditlog.events import EventType
from auditlog.models import AuditEvent
from auditlog.services import record_event
from tests.factories import TwoFactorUserFactory


@pytest.fixture
def admin_client(client, db):
    superuser = TwoFactorUserFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    session = client.session
    session[AUTHENTICATED_AT_KEY] = int(time.time())
    session[SECOND_FACTOR_VERIFIED_KEY] = True
    session.save()
    return client


@pytest.fixture
def event(db):
    user = TwoFactorUserFactory()
    record_event(event_type=EventType.ACCOUNT_CREATE, actor=user)
    return AuditEvent.objects.get()


def test_superuser_can_read_the_audit_log_in_the_admin(admin_client, event):
    response = admin_client.get(reverse("admin:auditlog_auditevent_changelist"))
    assert response.status_code == 200
    assert EventType.ACCOUNT_CREATE in response.content.decode()


def test_superuser_cannot_add_audit_events_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:auditlog_auditevent_add")).status_code == 403


def test_superuser_cannot_change_or_delete_audit_events_in_the_admin(admin_client, event):
    change_url = reverse("admin:auditlog_auditevent_change", args=[event.pk])
    delete_url = reverse("admin:auditlog_auditevent_delete", args=[event.pk])
    assert admin_client.post(change_url, {"event_type": "forged"}).status_code == 403
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert event.event_type == EventType.ACCOUNT_CREATE


def _events_listed(response) -> int:
    return response.content.decode().count('class="field-event_type"')


@pytest.fixture
def investigated(db):
    """Events from two networks, about two tokens and a publisher."""
    from django.test import RequestFactory  # noqa: PLC0415 - only these tests build requests

    user = TwoFactorUserFactory(username="maya")
    for address, data in [
        ("203.0.113.5", {"token_id": "6f1c2a4e-9b7d-4f1e-8a3c-6d2b1e0f9a87", "reason": "x"}),
        ("203.0.113.77", {"publisher_id": 42}),
        ("198.51.100.1", {"token_id": "00000000-0000-4000-8000-000000000001"}),
    ]:
        request = RequestFactory().get("/", REMOTE_ADDR=address)
        record_event(
            event_type=EventType.ACCOUNT_API_TOKEN_REFUSED, actor=user, request=request, data=data
        )
    record_event(event_type=EventType.ACCOUNT_LOGIN_SUCCESS, actor=user)
    return user


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ({"q": "203.0.113.0/24"}, 2),
        ({"q": "198.51.100.1"}, 1),
        ({"q": "6f1c2a4e-9b7d-4f1e-8a3c-6d2b1e0f9a87"}, 1),
        ({"q": "publisher:42"}, 1),
        ({"q": "maya"}, 4),
        ({"kind": "sign-in"}, 1),
        ({"outcome": "problems"}, 3),
    ],
)
def test_the_site_wide_audit_view_searches_by_address_network_token_and_publisher(
    admin_client, investigated, query, count
):
    response = admin_client.get(reverse("admin:auditlog_auditevent_changelist"), query)

    assert response.status_code == 200
    assert _events_listed(response) == count


def test_users_projects_and_tokens_link_to_their_audit_events(admin_client, investigated):
    from tests.factories import ProjectFactory  # noqa: PLC0415
    from tokens.services import create_api_token  # noqa: PLC0415

    project = ProjectFactory()
    token, _raw = create_api_token(user=investigated, name="ci", actor=investigated)
    pages = {
        reverse("admin:accounts_user_change", args=[investigated.pk]): f"user_pk={investigated.pk}",
        reverse("admin:projects_project_change", args=[project.pk]): f"project_pk={project.pk}",
        reverse("admin:tokens_apitoken_change", args=[token.pk]): f"data__token_id={token.pk}",
    }
    for page, lookup in pages.items():
        html = admin_client.get(page).content.decode()
        assert f"/admin/auditlog/auditevent/?{lookup}" in html, page
    events = admin_client.get(
        reverse("admin:auditlog_auditevent_changelist"), {"user_pk": investigated.pk}
    )
    assert _events_listed(events) == AuditEvent.objects.filter(user_pk=investigated.pk).count()
