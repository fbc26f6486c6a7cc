"""Registration: validation, no address enumeration, email verification."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import Email, User
from accounts.services import make_email_verification_token
from auditlog.models import AuditEvent
from tests.accounts.conftest import emails, link_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REGISTER_URL = "/account/register/"
PASSWORD = "a long and unusual passphrase 42"


def _form(**overrides):
    return {
        "username": "grace",
        "name": "Grace Hopper",
        "email": "grace@example.com",
        "new_password1": PASSWORD,
        "new_password2": PASSWORD,
        **overrides,
    }


def test_registration_creates_an_unverified_account_and_emails_a_link(client):
    response = client.post(REGISTER_URL, _form())
    assert response["Location"] == "/account/register/done/"
    user = User.objects.get(username="grace")
    assert user.name == "Grace Hopper"
    assert user.check_password(PASSWORD)
    address = user.emails.get()
    assert address.is_primary
    assert not address.is_verified
    (email,) = emails("accounts/verify_email", "grace@example.com")
    assert "/account/verify-email/?token=" in email.body_text
    assert set(AuditEvent.objects.filter(user=user).values_list("event_type", flat=True)) == {
        "account:create",
        "account:email:add",
    }
    assert "_auth_user_id" not in client.session


def test_registering_an_address_in_use_looks_the_same_and_warns_its_owner():
    owner = UserFactory(email="taken@example.com")
    fresh = Client().post(REGISTER_URL, _form(username="first", email="new@example.com"))
    taken = Client().post(REGISTER_URL, _form(username="second", email="TAKEN@example.com"))
    assert fresh.status_code == taken.status_code == 302
    assert fresh["Location"] == taken["Location"]
    assert set(fresh.cookies) == set(taken.cookies)
    assert not User.objects.filter(username="second").exists()
    assert owner.emails.count() == 1
    (warning,) = emails("accounts/address_in_use")
    assert warning.recipient == "TAKEN@example.com"
    assert "tried to register" in warning.subject
    assert not emails("accounts/verify_email", "TAKEN@example.com")
    assert not AuditEvent.objects.filter(username="second").exists()


def test_taken_username_is_a_form_error(client):
    UserFactory(username="Grace")
    response = client.post(REGISTER_URL, _form())
    assert response.status_code == 200
    assert b"This username is taken" in response.content
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"new_password1": "short1!", "new_password2": "short1!"}, b"too short"),
        ({"new_password1": "password123", "new_password2": "password123"}, b"too common"),
        (
            {
                "username": "quartermaster",
                "new_password1": "quartermaster",
                "new_password2": "quartermaster",
            },
            b"too similar",
        ),
        ({"new_password2": PASSWORD + "x"}, b"The two passwords differ"),
        ({"new_password1": "p" * 4097, "new_password2": "p" * 4097}, b"at most 4096 bytes"),
        ({"username": "-bad-"}, b"Use only letters"),
        ({"username": "x" * 51}, b"at most 50 characters"),
        ({"name": "visit https://spam.example"}, b"without a web address"),
    ],
)
def test_registration_refuses_bad_input_with_a_sentence(client, overrides, message):
    response = client.post(REGISTER_URL, _form(**overrides))
    assert response.status_code == 200
    assert message in response.content
    assert not User.objects.exists()
    assert not emails()


def test_registration_errors_are_linked_to_their_fields(client):
    response = client.post(REGISTER_URL, _form(new_password2="different passphrase 1"))
    assert b'id="id_new_password2_error"' in response.content
    assert b'aria-describedby="id_new_password2_error"' in response.content
    assert b'aria-invalid="true"' in response.content


def test_verification_link_verifies_once_posted(client):
    client.post(REGISTER_URL, _form())
    (email,) = emails("accounts/verify_email")
    link = link_in(email, "/account/verify-email/")
    # Opening the link (as a mail scanner would) changes nothing.
    assert client.get(link).status_code == 200
    assert not Email.objects.get(email="grace@example.com").is_verified
    (token,) = parse_qs(urlsplit(link).query)["token"]
    response = client.post("/account/verify-email/", {"token": token})
    assert response["Location"] == "/account/login/"
    address = Email.objects.get(email="grace@example.com")
    assert address.is_verified
    assert address.verified_at is not None
    assert AuditEvent.objects.filter(event_type="account:email:verified").count() == 1


def test_verification_link_expires(client, settings):
    user = UserFactory(email__verified=False)
    address = user.emails.get()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        token = make_email_verification_token(address)
        clock.shift(timedelta(seconds=settings.EMAIL_VERIFICATION_MAX_AGE + 1))
        response = client.post("/account/verify-email/", {"token": token})
    assert response.status_code == 400
    assert b"invalid or has expired" in response.content
    address.refresh_from_db()
    assert not address.is_verified


def test_verification_token_for_a_removed_and_readded_address_is_void(client):
    user = UserFactory(email__verified=False)
    address = user.emails.get()
    token = make_email_verification_token(address)
    address.email = "someone-else@example.com"
    address.save()
    response = client.post("/account/verify-email/", {"token": token})
    assert response.status_code == 400
    address.refresh_from_db()
    assert not address.is_verified


def test_tampered_verification_token_is_refused(client):
    response = client.post("/account/verify-email/", {"token": "eyJlbWFpbF9pZCI6MX0:abc:def"})
    assert response.status_code == 400


def test_registration_post_without_csrf_token_is_refused(csrf_client):
    response = csrf_client.post(REGISTER_URL, _form())
    assert response.status_code == 403
    assert not User.objects.exists()


def test_verification_post_without_csrf_token_is_refused(csrf_client):
    user = UserFactory(email__verified=False)
    token = make_email_verification_token(user.emails.get())
    response = csrf_client.post("/account/verify-email/", {"token": token})
    assert response.status_code == 403
    assert not user.emails.get().is_verified


@pytest.mark.usefixtures("frozen_clock")
def test_registrations_from_one_ip_are_limited():
    client = Client(REMOTE_ADDR="203.0.113.5")
    for number in range(10):
        response = client.post(
            REGISTER_URL, _form(username=f"user{number}", email=f"user{number}@example.com")
        )
        assert response.status_code == 302
    response = client.post(REGISTER_URL, _form(username="user10", email="user10@example.com"))
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert not User.objects.filter(username="user10").exists()
    other = Client(REMOTE_ADDR="198.51.100.5").post(REGISTER_URL, _form())
    assert other.status_code == 302
    assert User.objects.filter(username="grace").exists()


def test_an_address_in_use_is_warned_about_at_most_once_a_day(frozen_clock):
    UserFactory(email="taken@example.com")
    for number in range(3):
        response = Client(REMOTE_ADDR=f"198.51.100.{number}").post(
            REGISTER_URL, _form(username=f"spam{number}", email="taken@example.com")
        )
        assert response.status_code == 302
    assert len(emails("accounts/address_in_use", "taken@example.com")) == 1
    frozen_clock.shift(timedelta(days=1, seconds=1))
    Client().post(REGISTER_URL, _form(username="later", email="taken@example.com"))
    assert len(emails("accounts/address_in_use", "taken@example.com")) == 2
