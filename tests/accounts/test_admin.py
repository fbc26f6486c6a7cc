"""Django admin for users and addresses: no password hashes, audited account changes."""

import pytest
from django.contrib.auth.models import Group
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


def _change_form_data(client, user, **changes):
    """The user's admin change form as the page fills it, with `changes` applied."""
    url = f"/admin/accounts/user/{user.pk}/change/"
    context = client.get(url).context
    form = context["adminform"].form
    data = {name: form.initial.get(name) for name in form.fields}
    data["groups"] = [group.pk for group in data["groups"] or []]
    for inline in context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(k): v for k, v in management.initial.items()})
        for inline_form in inline.formset.forms:
            data.update(
                {
                    inline_form.add_prefix(name): getattr(inline_form.instance, name).pk
                    if name != "id"
                    else inline_form.instance.pk
                    for name in inline_form.fields
                }
            )
    data.update(changes)
    return url, {k: v for k, v in data.items() if v is not None and v is not False}


def test_admin_granting_staff_and_a_group_is_recorded(admin_client, user):
    group = Group.objects.create(name="moderators")
    url, data = _change_form_data(admin_client, user, is_staff=True, groups=[group.pk])
    response = admin_client.post(url, data)
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.is_staff
    assert list(user.groups.all()) == [group]
    event = AuditEvent.objects.get(event_type="account:admin:change")
    assert event.user == user
    assert event.actor_username == "root"
    assert event.data == {
        "changes": {
            "is_staff": {"old": False, "new": True},
            "groups": {"old": [], "new": ["moderators"]},
        }
    }


def test_admin_revoking_superuser_is_recorded(admin_client):
    other = UserFactory(is_staff=True, is_superuser=True)
    url, data = _change_form_data(admin_client, other)
    data.pop("is_superuser")
    assert admin_client.post(url, data).status_code == 302
    assert not User.objects.get(pk=other.pk).is_superuser
    event = AuditEvent.objects.get(event_type="account:admin:change")
    assert event.data == {"changes": {"is_superuser": {"old": True, "new": False}}}


def test_admin_saving_an_unchanged_user_records_nothing(admin_client, user):
    url, data = _change_form_data(admin_client, user)
    assert admin_client.post(url, data).status_code == 302
    assert not AuditEvent.objects.filter(event_type="account:admin:change").exists()


def test_admin_cannot_delete_users_or_addresses(admin_client, user):
    assert admin_client.get(f"/admin/accounts/user/{user.pk}/delete/").status_code == 403
    address = user.emails.get()
    assert admin_client.get(f"/admin/accounts/email/{address.pk}/delete/").status_code == 403
    response = admin_client.post(
        "/admin/accounts/user/", {"action": "delete_selected", "_selected_action": [user.pk]}
    )
    assert User.objects.filter(pk=user.pk).exists()
    assert response.status_code in {200, 302}


def test_re_enabling_an_account_is_recorded(admin_client, user):
    admin_client.post(
        "/admin/accounts/user/", {"action": "disable_accounts", "_selected_action": [user.pk]}
    )
    admin_client.post(
        "/admin/accounts/user/", {"action": "enable_accounts", "_selected_action": [user.pk]}
    )
    event = AuditEvent.objects.get(event_type="account:enabled")
    assert event.user == user
    assert event.actor_username == "root"
