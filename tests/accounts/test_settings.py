"""Account settings: display name and email addresses."""

import time

import pytest
from django.db import transaction
from django.test import Client

from accounts.models import Email
from accounts.reauth import AUTHENTICATED_AT_KEY
from accounts.services import AccountError, make_primary_email
from auditlog.models import AuditEvent
from tests.accounts.conftest import emails
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_for(db):
    def _client(user) -> Client:
        client = Client()
        client.force_login(user)
        session = client.session
        session[AUTHENTICATED_AT_KEY] = int(time.time())
        session.save()
        return client

    return _client


def _expire_authentication(client: Client) -> None:
    session = client.session
    session[AUTHENTICATED_AT_KEY] = int(time.time()) - 31 * 60
    session.save()


def test_settings_page_needs_login(client, db):
    response = client.get("/account/settings/")
    assert response.status_code == 302
    assert response["Location"].startswith("/account/login/?next=")


def test_settings_page_query_count_is_pinned(client_for, user, django_assert_max_num_queries):
    for number in range(5):
        Email.objects.create(user=user, email=f"extra{number}@example.com")
    client = client_for(user)
    with django_assert_max_num_queries(6):
        response = client.get("/account/settings/")
    assert response.status_code == 200
    assert b"extra4@example.com" in response.content


def test_display_name_is_saved_and_recorded(client_for, user):
    old_name = user.name
    client = client_for(user)
    response = client.post("/account/settings/profile/", {"name": "Ada L."})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.name == "Ada L."
    event = AuditEvent.objects.get(event_type="account:profile:change")
    assert event.user == user
    assert event.data == {"name": {"old": old_name, "new": "Ada L."}}


def test_adding_an_address_emails_a_verification_link(client_for, user):
    client = client_for(user)
    response = client.post("/account/settings/emails/add/", {"email": "second@example.com"})
    assert response.status_code == 302
    address = user.emails.get(email="second@example.com")
    assert not address.is_verified
    assert not address.is_primary
    assert emails("accounts/verify_email", "second@example.com")
    event = AuditEvent.objects.get(event_type="account:email:add")
    assert event.data == {"email": "second@example.com"}


def test_adding_an_address_of_another_account_reveals_nothing(client_for, user):
    UserFactory(email="theirs@example.com")
    client = client_for(user)
    taken = client.post(
        "/account/settings/emails/add/", {"email": "theirs@example.com"}, follow=True
    )
    fresh = client.post(
        "/account/settings/emails/add/", {"email": "fresh@example.com"}, follow=True
    )
    taken_messages = [str(m) for m in taken.context["messages"]]
    fresh_messages = [str(m) for m in fresh.context["messages"]]
    assert taken_messages == [m.replace("fresh@", "theirs@") for m in fresh_messages]
    assert not user.emails.filter(email="theirs@example.com").exists()
    (notice,) = emails("accounts/address_in_use")
    assert notice.recipient == "theirs@example.com"


@pytest.mark.usefixtures("frozen_clock")
def test_third_address_in_a_day_is_refused(client_for, user):
    client = client_for(user)
    for number in range(2):
        response = client.post("/account/settings/emails/add/", {"email": f"a{number}@example.com"})
        assert response.status_code == 302
    response = client.post("/account/settings/emails/add/", {"email": "a2@example.com"})
    assert response.status_code == 429
    assert "Retry-After" in response
    assert not user.emails.filter(email="a2@example.com").exists()
    assert not emails("accounts/verify_email", "a2@example.com")


@pytest.mark.usefixtures("frozen_clock")
def test_fourth_verification_resend_in_six_hours_is_refused(client_for, user):
    address = Email.objects.create(user=user, email="pending@example.com")
    client = client_for(user)
    url = f"/account/settings/emails/{address.pk}/resend/"
    for _ in range(3):
        assert client.post(url).status_code == 302
    response = client.post(url)
    assert response.status_code == 429
    assert "Retry-After" in response
    assert len(emails("accounts/verify_email", "pending@example.com")) == 3


def test_making_an_address_primary_needs_recent_authentication(client_for, user):
    address = Email.objects.create(user=user, email="new@example.com", is_verified=True)
    client = client_for(user)
    _expire_authentication(client)
    response = client.post(f"/account/settings/emails/{address.pk}/primary/")
    assert response.status_code == 302
    assert response["Location"].startswith("/account/reauthenticate/")
    address.refresh_from_db()
    assert not address.is_primary


def test_making_an_address_primary_tells_the_old_address(client_for, user):
    old_address = user.email
    address = Email.objects.create(user=user, email="new@example.com", is_verified=True)
    client = client_for(user)
    response = client.post(f"/account/settings/emails/{address.pk}/primary/")
    assert response.status_code == 302
    address.refresh_from_db()
    assert address.is_primary
    assert not user.emails.get(email=old_address).is_primary
    (notice,) = emails("accounts/primary_email_changed")
    assert notice.recipient == old_address
    assert "new@example.com" in notice.body_text
    event = AuditEvent.objects.get(event_type="account:email:primary:change")
    assert event.data == {"old_email": old_address, "new_email": "new@example.com"}


def test_unverified_address_cannot_become_primary(client_for, user):
    address = Email.objects.create(user=user, email="new@example.com")
    with pytest.raises(AccountError):
        make_primary_email(user=user, email=address)
    client = client_for(user)
    client.post(f"/account/settings/emails/{address.pk}/primary/")
    address.refresh_from_db()
    assert not address.is_primary
    assert not AuditEvent.objects.exists()


def test_primary_change_rolls_back_with_its_event(user):
    old = user.emails.get()
    address = Email.objects.create(user=user, email="new@example.com", is_verified=True)

    def change_then_fail():
        with transaction.atomic():
            make_primary_email(user=user, email=address)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        change_then_fail()
    old.refresh_from_db()
    assert old.is_primary
    assert not AuditEvent.objects.exists()
    assert not emails()


def test_another_users_address_cannot_be_touched(client_for, user):
    other = UserFactory()
    theirs = Email.objects.create(user=other, email="x@example.com", is_verified=True)
    client = client_for(user)
    assert client.post(f"/account/settings/emails/{theirs.pk}/remove/").status_code == 404
    assert client.post(f"/account/settings/emails/{theirs.pk}/primary/").status_code == 404
    assert Email.objects.filter(pk=theirs.pk).exists()


def test_removing_a_secondary_address(client_for, user):
    address = Email.objects.create(user=user, email="old@example.com")
    client = client_for(user)
    assert client.post(f"/account/settings/emails/{address.pk}/remove/").status_code == 302
    assert not Email.objects.filter(pk=address.pk).exists()
    event = AuditEvent.objects.get(event_type="account:email:remove")
    assert event.data == {"email": "old@example.com"}


def test_primary_address_cannot_be_removed(client_for, user):
    primary = user.emails.get()
    client = client_for(user)
    response = client.post(f"/account/settings/emails/{primary.pk}/remove/", follow=True)
    assert b"Make another verified address primary first" in response.content
    assert Email.objects.filter(pk=primary.pk).exists()


@pytest.mark.parametrize(
    "url",
    [
        "/account/settings/profile/",
        "/account/settings/emails/add/",
        "/account/settings/emails/{pk}/resend/",
        "/account/settings/emails/{pk}/primary/",
        "/account/settings/emails/{pk}/remove/",
    ],
)
def test_settings_actions_without_csrf_token_are_refused(user, url):
    address = Email.objects.create(user=user, email="csrf@example.com", is_verified=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(url.format(pk=address.pk), {"name": "x", "email": "y@example.com"})
    assert response.status_code == 403
    address.refresh_from_db()
    assert not address.is_primary
    assert not AuditEvent.objects.exists()
