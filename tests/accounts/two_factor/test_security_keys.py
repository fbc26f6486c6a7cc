"""WebAuthn: registration and login with a software authenticator (security.md §3 D)."""

import json

import pytest
from django.urls import reverse

from accounts.models import WebAuthnCredential
from auditlog.events import EventType
from auditlog.models import AuditEvent
from index_site.models import OutboxEmail
from tests.accounts.two_factor.conftest import begin_pending_login, login_recently
from tests.accounts.two_factor.soft_authenticator import FLAG_UV, SoftAuthenticator
from tests.factories import UserFactory

OPTIONS = "accounts:login_webauthn_options"
VERIFY = "accounts:login_webauthn_verify"


def post_json(client, name, body):
    return client.post(reverse(name), data=json.dumps(body), content_type="application/json")


def register_options(client, kind="security_key"):
    response = client.post(reverse("accounts:webauthn_register_options"), {"kind": kind})
    assert response.status_code == 200
    return response.json()


def login_options(client):
    response = client.post(reverse(OPTIONS))
    assert response.status_code == 200
    return response.json()


def failure_reasons(user):
    return list(
        AuditEvent.objects.filter(
            user=user, event_type=EventType.ACCOUNT_LOGIN_FAILURE
        ).values_list("data__reason", flat=True)
    )


def logged_in(client):
    return "_auth_user_id" in client.session


# -- Registration -------------------------------------------------------------------------


def test_security_key_is_registered_with_event_email_and_recovery_codes(client, db):
    user = UserFactory()
    login_recently(client, user)
    authenticator = SoftAuthenticator()
    options = register_options(client)
    assert options["rp"]["id"] == "testserver"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["authenticatorSelection"]["residentKey"] == "discouraged"
    response = post_json(
        client,
        "accounts:webauthn_register",
        {"label": "Blue key", "credential": authenticator.register(options)},
    )
    assert response.status_code == 200
    assert response.json() == {"redirect": reverse("accounts:recovery_codes")}
    credential = WebAuthnCredential.objects.get(user=user)
    assert bytes(credential.credential_id) == authenticator.credential_id
    assert credential.label == "Blue key"
    assert not credential.is_discoverable
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_TWO_FACTOR_METHOD_ADDED)
    assert event.data == {"method": "webauthn", "label": "Blue key", "discoverable": False}
    assert OutboxEmail.objects.filter(template="two_factor/method_added").count() == 1
    assert OutboxEmail.objects.filter(template="two_factor/recovery_codes_generated").count() == 1


def test_passkey_registration_requires_a_discoverable_credential(client, db):
    user = UserFactory()
    login_recently(client, user)
    options = register_options(client, kind="passkey")
    assert options["authenticatorSelection"]["residentKey"] == "required"
    post_json(
        client,
        "accounts:webauthn_register",
        {"label": "Phone", "credential": SoftAuthenticator().register(options)},
    )
    assert WebAuthnCredential.objects.get(user=user).is_discoverable


def test_options_exclude_the_users_existing_credentials(client, key_user):
    login_recently(client, key_user)
    options = register_options(client)
    excluded = [item["id"] for item in options["excludeCredentials"]]
    from tests.accounts.two_factor.soft_authenticator import b64u  # noqa: PLC0415

    assert excluded == [b64u(key_user.authenticator.credential_id)]


def test_credential_id_of_another_user_is_refused(client, key_user):
    other = UserFactory()
    login_recently(client, other)
    options = register_options(client)
    stolen = key_user.authenticator
    response = post_json(
        client,
        "accounts:webauthn_register",
        {"label": "Copy", "credential": stolen.register(options)},
    )
    assert response.status_code == 400
    assert "already registered" in response.json()["error"]
    assert not WebAuthnCredential.objects.filter(user=other).exists()


def test_credential_id_registered_twice_by_the_same_user_is_refused(client, key_user):
    login_recently(client, key_user)
    options = register_options(client)
    response = post_json(
        client,
        "accounts:webauthn_register",
        {"label": "Again", "credential": key_user.authenticator.register(options)},
    )
    assert response.status_code == 400
    assert WebAuthnCredential.objects.filter(user=key_user).count() == 1


@pytest.mark.parametrize(
    ("knobs", "label"),
    [
        ({"origin": "https://evil.example"}, "origin"),
        ({"rp_id": "evil.example"}, "rp id"),
        ({"type_": "webauthn.get"}, "type"),
        ({"flags": FLAG_UV}, "no user presence"),
        ({"alg": -999}, "algorithm not offered"),
    ],
)
def test_bad_registration_responses_are_refused(client, db, knobs, label):
    user = UserFactory()
    login_recently(client, user)
    options = register_options(client)
    response = post_json(
        client,
        "accounts:webauthn_register",
        {"label": "Key", "credential": SoftAuthenticator().register(options, **knobs)},
    )
    assert response.status_code == 400, label
    assert not WebAuthnCredential.objects.exists()


def test_registration_challenge_is_single_use(client, db):
    user = UserFactory()
    login_recently(client, user)
    options = register_options(client)
    authenticator = SoftAuthenticator()
    first = post_json(client, "accounts:webauthn_register", {"label": "Key", "credential": {}})
    assert first.status_code == 400
    response = post_json(
        client,
        "accounts:webauthn_register",
        {"label": "Key", "credential": authenticator.register(options)},
    )
    assert response.status_code == 400
    assert "expired or was already used" in response.json()["error"]


@pytest.mark.parametrize("label", ["", "   ", "x" * 65, "<script>alert(1)</script>" * 400])
def test_missing_or_oversized_labels_are_refused(client, db, label):
    user = UserFactory()
    login_recently(client, user)
    options = register_options(client)
    response = post_json(
        client,
        "accounts:webauthn_register",
        {"label": label, "credential": SoftAuthenticator().register(options)},
    )
    assert response.status_code == 400
    assert not WebAuthnCredential.objects.exists()


def test_label_is_escaped_on_the_page(client, db):
    user = UserFactory()
    login_recently(client, user)
    options = register_options(client)
    post_json(
        client,
        "accounts:webauthn_register",
        {"label": "<script>x</script>", "credential": SoftAuthenticator().register(options)},
    )
    page = client.get(reverse("accounts:two_factor")).content.decode()
    assert "<script>x</script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page


def test_registration_needs_recent_authentication(client, db):
    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("accounts:webauthn_register_options"), {"kind": "passkey"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:reauth"))


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'"a string"', b"[]", b"x" * (1024 * 1024)],
)
def test_malformed_registration_bodies_are_bad_requests(client, db, body):
    user = UserFactory()
    login_recently(client, user)
    register_options(client)
    response = client.post(
        reverse("accounts:webauthn_register"), data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert not WebAuthnCredential.objects.exists()


# -- Login --------------------------------------------------------------------------------


def test_security_key_logs_in(client, key_user):
    begin_pending_login(client, key_user)
    options = login_options(client)
    assert options["userVerification"] == "preferred"
    assert len(options["allowCredentials"]) == 1
    response = post_json(client, VERIFY, key_user.authenticator.assertion(options))
    assert response.status_code == 200
    assert logged_in(client)
    credential = WebAuthnCredential.objects.get(user=key_user)
    assert credential.sign_count == 1
    assert credential.last_used_at is not None
    success = AuditEvent.objects.get(event_type=EventType.ACCOUNT_LOGIN_SUCCESS)
    assert success.data == {"method": "webauthn"}


def test_user_verification_is_not_required_for_the_second_step(client, key_user):
    from tests.accounts.two_factor.soft_authenticator import FLAG_UP  # noqa: PLC0415

    begin_pending_login(client, key_user)
    options = login_options(client)
    response = post_json(client, VERIFY, key_user.authenticator.assertion(options, flags=FLAG_UP))
    assert response.status_code == 200


def test_replayed_assertion_is_refused(client, key_user):
    begin_pending_login(client, key_user)
    options = login_options(client)
    assertion = key_user.authenticator.assertion(options)
    assert post_json(client, VERIFY, assertion).status_code == 200
    client.logout()
    begin_pending_login(client, key_user)
    login_options(client)  # a fresh challenge: the captured answer signs the old one
    response = post_json(client, VERIFY, assertion)
    assert response.status_code == 400
    assert not logged_in(client)
    assert failure_reasons(key_user) == ["invalid_webauthn:invalid_assertion"]


def test_challenge_is_spent_by_a_failed_attempt(client, key_user):
    begin_pending_login(client, key_user)
    options = login_options(client)
    post_json(client, VERIFY, key_user.authenticator.assertion(options, origin="http://evil"))
    response = post_json(client, VERIFY, key_user.authenticator.assertion(options))
    assert response.status_code == 400
    assert "expired or was already used" in response.json()["error"]
    assert not logged_in(client)


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "https://testserver",
        "http://sub.testserver",
        "http://testserver:8443",
    ],
)
def test_assertion_from_another_origin_is_refused(client, key_user, origin):
    begin_pending_login(client, key_user)
    options = login_options(client)
    response = post_json(client, VERIFY, key_user.authenticator.assertion(options, origin=origin))
    assert response.status_code == 400
    assert not logged_in(client)
    assert failure_reasons(key_user) == ["invalid_webauthn:invalid_assertion"]


@pytest.mark.parametrize(
    "knobs",
    [{"rp_id": "evil.example"}, {"type_": "webauthn.create"}, {"flags": FLAG_UV}],
    ids=["rp-id-hash", "type", "user-presence-cleared"],
)
def test_assertion_with_a_broken_check_is_refused(client, key_user, knobs):
    begin_pending_login(client, key_user)
    options = login_options(client)
    response = post_json(client, VERIFY, key_user.authenticator.assertion(options, **knobs))
    assert response.status_code == 400
    assert not logged_in(client)


def test_sign_count_regression_is_refused_reported_and_emailed(client, key_user):
    credential = WebAuthnCredential.objects.get(user=key_user)
    credential.sign_count = 10
    credential.save()
    for count in (10, 9):
        begin_pending_login(client, key_user)
        options = login_options(client)
        response = post_json(
            client, VERIFY, key_user.authenticator.assertion(options, sign_count=count)
        )
        assert response.status_code == 400
        assert "copied" in response.json()["error"]
        assert not logged_in(client)
    clones = AuditEvent.objects.filter(event_type=EventType.ACCOUNT_WEBAUTHN_POSSIBLE_CLONE)
    assert clones.count() == 2
    assert clones.first().data["stored_count"] == 10
    assert OutboxEmail.objects.filter(template="two_factor/possible_clone").count() == 2
    assert WebAuthnCredential.objects.get(user=key_user).sign_count == 10


def test_zero_sign_counts_are_accepted_for_synced_passkeys(client, key_user):
    for _ in range(2):
        client.logout()
        begin_pending_login(client, key_user)
        options = login_options(client)
        response = post_json(
            client, VERIFY, key_user.authenticator.assertion(options, sign_count=0)
        )
        assert response.status_code == 200
    assert not AuditEvent.objects.filter(event_type=EventType.ACCOUNT_WEBAUTHN_POSSIBLE_CLONE)


def test_user_handle_of_another_user_is_refused(client, key_user):
    begin_pending_login(client, key_user)
    options = login_options(client)
    response = post_json(
        client, VERIFY, key_user.authenticator.assertion(options, user_handle=b"\x01" * 16)
    )
    assert response.status_code == 400
    assert failure_reasons(key_user) == ["invalid_webauthn:user_handle_mismatch"]


def test_credential_of_another_user_cannot_finish_this_users_login(client, key_user):
    other = UserFactory()
    from tests.accounts.two_factor.conftest import enable_security_key  # noqa: PLC0415

    other_key = enable_security_key(other)
    begin_pending_login(client, key_user)
    options = login_options(client)
    response = post_json(client, VERIFY, other_key.assertion(options))
    assert response.status_code == 400
    assert not logged_in(client)


def test_challenge_older_than_five_minutes_is_refused(client, key_user, clock):
    begin_pending_login(client, key_user)
    options = login_options(client)
    clock.shift(4 * 60)
    # The pending login is still valid (under 5 minutes) but the challenge is not re-issued.
    session = client.session
    session["webauthn_authenticate"]["issued_at"] -= 120
    session.save()
    response = post_json(client, VERIFY, key_user.authenticator.assertion(options))
    assert response.status_code == 400
    assert failure_reasons(key_user) == ["invalid_webauthn:expired_challenge"]


def test_challenge_issued_to_another_session_is_refused(client, key_user):
    from django.test import Client  # noqa: PLC0415

    attacker = Client()
    begin_pending_login(attacker, key_user)
    stolen_options = login_options(attacker)
    begin_pending_login(client, key_user)
    login_options(client)
    response = post_json(client, VERIFY, key_user.authenticator.assertion(stolen_options))
    assert response.status_code == 400
    assert not logged_in(client)


@pytest.mark.parametrize("body", [b"{not json", b"[]", b"x" * (1024 * 1024)])
def test_malformed_assertions_are_bad_requests_and_counted(client, key_user, body):
    begin_pending_login(client, key_user)
    login_options(client)
    response = client.post(reverse(VERIFY), data=body, content_type="application/json")
    assert response.status_code == 400
    assert failure_reasons(key_user) == ["invalid_webauthn:malformed"]


def test_assertion_with_garbage_fields_is_a_bad_request(client, key_user):
    begin_pending_login(client, key_user)
    options = login_options(client)
    assertion = key_user.authenticator.assertion(options)
    assertion["response"]["authenticatorData"] = "!!not base64url!!"
    response = post_json(client, VERIFY, assertion)
    assert response.status_code == 400
    assert not logged_in(client)


def test_webauthn_failures_share_the_two_factor_limiter(client, key_user, clock):
    begin_pending_login(client, key_user)
    for _ in range(5):
        options = login_options(client)
        post_json(client, VERIFY, key_user.authenticator.assertion(options, origin="http://x"))
    options = login_options(client)
    response = post_json(client, VERIFY, key_user.authenticator.assertion(options))
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert not logged_in(client)


def test_webauthn_login_without_a_password_step_is_refused(client, key_user):
    response = client.post(reverse(OPTIONS))
    assert response.status_code == 403
    assert "password again" in response.json()["error"]


# -- Passkey login without a username ------------------------------------------------------


@pytest.fixture
def passkey_user(db):
    from tests.accounts.two_factor.conftest import enable_security_key  # noqa: PLC0415

    user = UserFactory()
    user.authenticator = enable_security_key(user, label="Phone", passkey=True)
    return user


def test_passkey_logs_in_without_a_username(client, passkey_user):
    options = client.post(reverse("accounts:passkey_login_options")).json()
    assert options["allowCredentials"] == []
    assert options["userVerification"] == "required"
    response = post_json(
        client, "accounts:passkey_login_verify", passkey_user.authenticator.assertion(options)
    )
    assert response.status_code == 200
    assert int(client.session["_auth_user_id"]) == passkey_user.pk
    success = AuditEvent.objects.get(event_type=EventType.ACCOUNT_LOGIN_SUCCESS)
    assert success.data == {"method": "passkey"}


def test_passkey_login_needs_user_verification(client, passkey_user):
    from tests.accounts.two_factor.soft_authenticator import FLAG_UP  # noqa: PLC0415

    options = client.post(reverse("accounts:passkey_login_options")).json()
    response = post_json(
        client,
        "accounts:passkey_login_verify",
        passkey_user.authenticator.assertion(options, flags=FLAG_UP),
    )
    assert response.status_code == 400
    assert not logged_in(client)


def test_passkey_login_needs_the_user_handle(client, passkey_user):
    options = client.post(reverse("accounts:passkey_login_options")).json()
    response = post_json(
        client,
        "accounts:passkey_login_verify",
        passkey_user.authenticator.assertion(options, user_handle=None),
    )
    assert response.status_code == 400
    assert not logged_in(client)


def test_passkey_login_failures_are_limited_per_ip(client, passkey_user, clock):
    for _ in range(10):
        options = client.post(reverse("accounts:passkey_login_options")).json()
        post_json(
            client,
            "accounts:passkey_login_verify",
            passkey_user.authenticator.assertion(options, origin="http://x"),
        )
    options = client.post(reverse("accounts:passkey_login_options")).json()
    response = post_json(
        client, "accounts:passkey_login_verify", passkey_user.authenticator.assertion(options)
    )
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


# -- Removal (D50) ------------------------------------------------------------------------


def test_removing_a_key_needs_recent_authentication(client, key_user):
    credential = WebAuthnCredential.objects.get(user=key_user)
    client.force_login(key_user)
    response = client.post(reverse("accounts:webauthn_remove", args=[credential.pk]))
    assert response["Location"].startswith(reverse("accounts:reauth"))
    assert WebAuthnCredential.objects.filter(pk=credential.pk).exists()


def test_last_key_cannot_be_removed(client, key_user):
    credential = WebAuthnCredential.objects.get(user=key_user)
    login_recently(client, key_user)
    response = client.post(reverse("accounts:webauthn_remove", args=[credential.pk]), follow=True)
    assert "last two-factor method" in response.content.decode()
    assert WebAuthnCredential.objects.filter(pk=credential.pk).exists()


def test_key_is_removed_with_event_and_email_when_another_remains(client, key_user):
    from tests.accounts.two_factor.conftest import enable_security_key  # noqa: PLC0415

    enable_security_key(key_user, label="Spare")
    credential = WebAuthnCredential.objects.get(user=key_user, label="Keyring key")
    login_recently(client, key_user)
    client.post(reverse("accounts:webauthn_remove", args=[credential.pk]))
    assert not WebAuthnCredential.objects.filter(pk=credential.pk).exists()
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_TWO_FACTOR_METHOD_REMOVED)
    assert event.data == {"method": "webauthn", "label": "Keyring key"}
    email = OutboxEmail.objects.get(template="two_factor/method_removed")
    assert "Keyring key" in email.body_text


def test_another_users_key_cannot_be_removed(client, key_user):
    other = UserFactory()
    login_recently(client, other)
    credential = WebAuthnCredential.objects.get(user=key_user)
    client.post(reverse("accounts:webauthn_remove", args=[credential.pk]))
    assert WebAuthnCredential.objects.filter(pk=credential.pk).exists()
