"""The password step of login: enumeration, sessions, disabled accounts, redirects, limits."""

import re

import pytest
from django.test import Client

from accounts.login import PENDING_LOGIN_KEY, get_pending_login_user
from accounts.ratelimits import Limit, login_limiter_state
from auditlog.models import AuditEvent
from tests.accounts.conftest import BREACHED, emails
from tests.factories import TwoFactorUserFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN_URL = "/account/login/"
CSRF_INPUT_RE = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')


@pytest.fixture(autouse=True)
def _policy_for_critical_projects_only(settings):
    # Users here own no critical project, so a successful login lands on the next page.
    settings.TWO_FACTOR_POLICY = "critical"


def _normalised(response) -> bytes:
    """The body without the per-render CSRF mask, which differs on every page."""
    return CSRF_INPUT_RE.sub(b"csrf", response.content)


def test_unknown_user_and_wrong_password_get_identical_answers(user):
    unknown, known = Client(), Client()
    wrong_password = known.post(LOGIN_URL, {"username": user.username, "password": "wrong pass"})
    no_such_user = unknown.post(LOGIN_URL, {"username": "nobody-here", "password": "wrong pass"})
    assert wrong_password.status_code == no_such_user.status_code == 200
    assert _normalised(wrong_password).replace(user.username.encode(), b"U") == _normalised(
        no_such_user
    ).replace(b"nobody-here", b"U")
    assert set(wrong_password.cookies) == set(no_such_user.cookies)
    assert b"The username or password is incorrect" in wrong_password.content


def test_wrong_password_is_recorded_for_the_user_and_unknown_user_is_not(user):
    Client().post(LOGIN_URL, {"username": user.username, "password": "wrong pass"})
    Client().post(LOGIN_URL, {"username": "nobody-here", "password": "wrong pass"})
    (event,) = AuditEvent.objects.filter(event_type="account:login:failure")
    assert event.user == user
    assert event.data == {"reason": "bad_password"}


def test_login_rotates_the_session_key(client, user, password):
    client.get(LOGIN_URL)
    session = client.session
    session["planted"] = True
    session.save()
    planted_key = session.session_key
    response = client.post(LOGIN_URL, {"username": user.username, "password": password})
    assert response.status_code == 302
    assert client.session.session_key != planted_key
    assert client.session["_auth_user_id"] == str(user.pk)


def test_login_records_success_with_the_method(client, user, password):
    client.post(LOGIN_URL, {"username": user.username, "password": password})
    event = AuditEvent.objects.get(event_type="account:login:success")
    assert event.user == user
    assert event.data == {"method": "password"}


def test_username_is_case_insensitive(client, user, password):
    response = client.post(LOGIN_URL, {"username": user.username.upper(), "password": password})
    assert response.status_code == 302


def test_password_is_not_trimmed(client, db):
    spaced = "  spaces around this long passphrase  "
    user = UserFactory(password=spaced)
    trimmed = client.post(LOGIN_URL, {"username": user.username, "password": spaced.strip()})
    assert trimmed.status_code == 200
    exact = client.post(LOGIN_URL, {"username": user.username, "password": spaced})
    assert exact.status_code == 302


def test_over_long_password_is_refused_before_any_hash(client, user, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a hasher ran")

    monkeypatch.setattr("accounts.login.check_password_for_login", fail)
    response = client.post(LOGIN_URL, {"username": user.username, "password": "x" * 4097})
    assert response.status_code == 200
    assert b"at most 4096 bytes" in response.content
    assert "_auth_user_id" not in client.session


def test_disabled_account_with_wrong_password_gets_the_generic_error(client, db):
    user = UserFactory(is_active=False)
    response = client.post(LOGIN_URL, {"username": user.username, "password": "wrong pass"})
    assert b"The username or password is incorrect" in response.content
    assert b"disabled" not in response.content


def test_disabled_account_with_right_password_is_told_and_not_logged_in(client, password, db):
    user = UserFactory(is_active=False)
    response = client.post(LOGIN_URL, {"username": user.username, "password": password})
    assert response.status_code == 200
    assert b"This account is disabled" in response.content
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(event_type="account:login:failure")
    assert event.data == {"reason": "disabled"}


@pytest.mark.parametrize(
    "next_url",
    ["//evil.com", "/\t/evil.com/", "https://evil.com", "javascript:alert(1)", "///x"],
)
def test_login_never_redirects_off_site(client, user, password, next_url):
    response = client.post(
        LOGIN_URL, {"username": user.username, "password": password, "next": next_url}
    )
    assert response.status_code == 302
    assert response["Location"] == "/manage/projects/"


def test_login_follows_a_same_site_next(client, user, password):
    response = client.post(
        f"{LOGIN_URL}?next=/account/settings/", {"username": user.username, "password": password}
    )
    assert response["Location"] == "/account/settings/"


def test_user_with_a_second_factor_gets_a_pending_login_not_a_session(client, password):
    user = TwoFactorUserFactory()
    client.get(LOGIN_URL)
    key_before = client.session.session_key
    response = client.post(LOGIN_URL, {"username": user.username, "password": password})
    assert response.status_code == 302
    assert response["Location"] == "/account/login/two-factor/"
    session = client.session
    assert "_auth_user_id" not in session
    assert PENDING_LOGIN_KEY in session
    assert session.session_key != key_before


def test_password_reset_does_not_skip_the_second_factor(client, password):
    """A password set through a reset still leads to the second-factor step."""
    user = TwoFactorUserFactory()
    user.set_password("a freshly reset passphrase")
    user.save()
    response = client.post(
        LOGIN_URL, {"username": user.username, "password": "a freshly reset passphrase"}
    )
    assert response["Location"] == "/account/login/two-factor/"
    assert "_auth_user_id" not in client.session


def test_pending_login_survives_into_the_request(client, password, rf):
    user = TwoFactorUserFactory()
    client.post(LOGIN_URL, {"username": user.username, "password": password})
    request = rf.get("/")
    request.session = client.session
    assert get_pending_login_user(request) == user


def test_user_without_required_two_factor_is_sent_to_set_it_up(client, user, password, settings):
    settings.TWO_FACTOR_POLICY = "all"
    response = client.post(LOGIN_URL, {"username": user.username, "password": password})
    assert response.status_code == 302
    assert response["Location"] == "/account/two-factor/"
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.usefixtures("frozen_clock")
def test_eleventh_attempt_from_one_ip_is_refused_even_with_the_right_password(user, password):
    client = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(10):
        response = client.post(LOGIN_URL, {"username": user.username, "password": "wrong pass"})
        assert response.status_code == 200
    response = client.post(LOGIN_URL, {"username": user.username, "password": password})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(event_type="account:login:failure").count() == 10


@pytest.mark.usefixtures("frozen_clock")
def test_wrong_passwords_from_one_ip_do_not_lock_the_owner_out_elsewhere(user, password):
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(11):
        attacker.post(LOGIN_URL, {"username": user.username, "password": "wrong pass"})
    owner = Client(REMOTE_ADDR="198.51.100.7")
    response = owner.post(LOGIN_URL, {"username": user.username, "password": password})
    assert response.status_code == 302
    assert owner.session["_auth_user_id"] == str(user.pk)


@pytest.mark.usefixtures("frozen_clock")
def test_one_account_guessed_at_from_many_ips_is_limited_at_a_higher_ceiling(
    user, password, monkeypatch
):
    # The real figure is 100 per 5 minutes; a smaller one keeps the test fast.
    monkeypatch.setattr(
        "accounts.ratelimits.LOGIN_PER_USER", (Limit("accounts.login.user", "3/5m"),)
    )
    for attempt in range(3):
        response = Client(REMOTE_ADDR=f"198.51.100.{attempt}").post(
            LOGIN_URL, {"username": user.username, "password": "wrong pass"}
        )
        assert response.status_code == 200
    client = Client(REMOTE_ADDR="192.0.2.200")
    response = client.post(LOGIN_URL, {"username": user.username, "password": password})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.usefixtures("frozen_clock")
def test_user_limit_keys_unknown_usernames_alike(db):
    for _ in range(10):
        Client().post(LOGIN_URL, {"username": "nobody-here", "password": "wrong pass"})
    response = Client().post(LOGIN_URL, {"username": "nobody-here", "password": "wrong pass"})
    assert response.status_code == 429


@pytest.mark.usefixtures("frozen_clock")
def test_one_ip_trying_many_users_is_limited(db):
    users = UserFactory.create_batch(11)
    for user in users[:10]:
        response = Client(REMOTE_ADDR="192.0.2.9").post(
            LOGIN_URL, {"username": user.username, "password": "wrong pass"}
        )
        assert response.status_code == 200
    response = Client(REMOTE_ADDR="192.0.2.9").post(
        LOGIN_URL, {"username": users[10].username, "password": "wrong pass"}
    )
    assert response.status_code == 429
    assert "Retry-After" in response


@pytest.mark.usefixtures("frozen_clock")
def test_distributed_guessing_turns_the_surge_on_but_refuses_no_one_by_itself(db, settings, caplog):
    # The real figure is 1000 per 5 minutes; a smaller one keeps the test fast.
    settings.LOGIN_SURGE_FAILURES = 3
    for number in range(3):
        response = Client(REMOTE_ADDR=f"198.51.100.{number}").post(
            LOGIN_URL, {"username": f"victim{number}", "password": "wrong pass"}
        )
        assert response.status_code == 200
    assert login_limiter_state().is_surge
    assert "login surge started" in caplog.text
    response = Client(REMOTE_ADDR="198.51.100.99").post(
        LOGIN_URL, {"username": "someone-else", "password": "wrong pass"}
    )
    assert response.status_code == 200
    assert b"The username or password is incorrect" in response.content


@pytest.mark.usefixtures("frozen_clock")
def test_spoofed_forwarded_for_does_not_escape_the_ip_limit(db, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    users = UserFactory.create_batch(11)
    for number, user in enumerate(users):
        response = Client().post(
            LOGIN_URL,
            {"username": user.username, "password": "wrong pass"},
            # The client forges the left entry; the trusted proxy appends the real address.
            HTTP_X_FORWARDED_FOR=f"10.0.0.{number}, 192.0.2.77",
        )
    assert response.status_code == 429


def test_login_form_post_without_csrf_token_is_refused(csrf_client, user, password):
    response = csrf_client.post(LOGIN_URL, {"username": user.username, "password": password})
    assert response.status_code == 403
    assert "_auth_user_id" not in csrf_client.session


def test_login_page_renders_accessibly(client, db):
    response = client.get(LOGIN_URL)
    assert response.status_code == 200
    assert b'<label for="id_username">' in response.content
    assert b'autocomplete="current-password"' in response.content


def test_already_logged_in_user_visiting_login_is_redirected(logged_in_client):
    response = logged_in_client.get(LOGIN_URL)
    assert response.status_code == 302
    assert response["Location"] == "/manage/projects/"


def test_right_but_breached_password_is_voided_and_a_reset_link_sent(range_server):
    user = UserFactory(password=BREACHED)
    client = Client()
    response = client.post(LOGIN_URL, {"username": user.username, "password": BREACHED})
    assert response.status_code == 200
    assert b"appears in a public data breach" in response.content
    assert "_auth_user_id" not in client.session
    user.refresh_from_db()
    assert not user.has_usable_password()
    event = AuditEvent.objects.get(event_type="account:login:failure")
    assert event.data == {"reason": "compromised_password"}
    (email,) = emails("accounts/password_compromised", user.email)
    assert "/account/password-reset/" in email.body_text
    # The old password is dead for good, even once the breach service is unreachable.
    range_server.status = 503
    again = Client().post(LOGIN_URL, {"username": user.username, "password": BREACHED})
    assert b"The username or password is incorrect" in again.content


@pytest.mark.usefixtures("frozen_clock")
def test_rate_limited_login_writes_a_log_line_and_no_audit_row(user, caplog):
    for _ in range(10):
        Client().post(LOGIN_URL, {"username": user.username, "password": "wrong pass"})
    response = Client().post(LOGIN_URL, {"username": user.username, "password": "wrong pass"})
    assert response.status_code == 429
    assert "ratelimited /account/login/" in caplog.text
    assert AuditEvent.objects.filter(event_type="account:login:failure").count() == 10
