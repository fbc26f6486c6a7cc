"""Django admin for users and addresses: no password hashes, audited account changes."""

import pytest
from django.test import Client

from accounts.models import User
from auditlog.models import AuditEvent
from tests.accounts.conftest import emails
from tests.admin_login import log_in_for_admin
from tests.factories import TwoFactorUserFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = TwoFactorUserFactory(username="root", is_staff=True, is_superuser=True)
    return log_in_for_admin(client, admin)


def test_user_list_searches_by_address(admin_client, django_assert_max_num_queries):
    UserFactory.create_batch(5)
    target = UserFactory(username="findme", email="needle@example.com")
    with django_assert_max_num_queries(10):
        response = admin_client.get("/admin/accounts/user/", {"q": "needle"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [target]


def test_user_page_never_shows_the_password_hash(admin_client, user):
    response = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")
    assert response.status_code == 200
    assert user.password.encode() not in response.content
    assert b"argon2" not in response.content
    assert b'name="password' not in response.content


def test_admin_cannot_add_users(admin_client):
    assert admin_client.get("/admin/accounts/user/add/").status_code == 403


def test_admin_sends_a_password_reset_link(admin_client, user):
    response = admin_client.post(
        "/admin/accounts/user/",
        {"action": "send_password_reset", "_selected_action": [user.pk]},
    )
    assert response.status_code == 302
    (email,) = emails("accounts/password_reset", user.email)
    assert "/account/password-reset/" in email.body_text
    event = AuditEvent.objects.get(event_type="account:password:reset:request")
    assert event.user == user
    assert event.actor_username == "root"


def test_admin_disables_an_account_and_its_sessions_stop(admin_client, user):
    victim_session = Client()
    victim_session.force_login(user)
    response = admin_client.post(
        "/admin/accounts/user/",
        {"action": "disable_accounts", "_selected_action": [user.pk]},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active
    event = AuditEvent.objects.get(event_type="account:disabled")
    assert event.user == user
    assert victim_session.get("/account/settings/").status_code == 302

    admin_client.post(
        "/admin/accounts/user/",
        {"action": "enable_accounts", "_selected_action": [user.pk]},
    )
    assert User.objects.get(pk=user.pk).is_active


def test_email_admin_lists_addresses(admin_client, user, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        response = admin_client.get("/admin/accounts/email/")
    assert response.status_code == 200
    assert user.email.encode() in response.content
