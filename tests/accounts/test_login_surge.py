"""A login surge (many failures from many places) never locks out a known device or network.

The surge is driven with real failed logins through the test client from many addresses; the
threshold is lowered through its setting so the test stays fast. Windows are held still with
the clock mock, and moved on where a TOTP code must not be a replay.
"""

import io
import logging

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.known_clients import KNOWN_DEVICE_COOKIE
from accounts.ratelimits import Limit, limit_subject, login_limiter_state
from auditlog.models import AuditEvent
from tests.accounts.two_factor.conftest import code_at, current_step, enable_totp
from tests.admin_login import log_in_for_admin
from tests.factories import TwoFactorUserFactory, UserFactory
from tests.publishing.upload.conftest import basic_auth
from tests.publishing.upload.dists import make_wheel, multipart_body
from tokens.services import create_api_token

pytestmark = pytest.mark.django_db

LOGIN_URL = "/account/login/"
TWO_FACTOR_URL = "/account/login/two-factor/"
SURGE_FAILURES = 20
# The attack: one address per failure, in a network that is not anyone's known network.
ATTACK_ADDRESSES = [f"203.0.113.{number}" for number in range(1, SURGE_FAILURES + 1)]
ATTACK_NETWORK = "203.0.113.0/24"
REFUSED_TEXT = b"Too many attempts. Wait a few minutes and try again."


@pytest.fixture(autouse=True)
def _small_surge(settings):
    settings.LOGIN_SURGE_FAILURES = SURGE_FAILURES
    # The users here own no critical project, so a complete login lands on the next page.
    settings.TWO_FACTOR_POLICY = "critical"


@pytest.fixture
def clock(frozen_clock):
    return frozen_clock


def totp_user(password: str):
    user = UserFactory(password=password)
    return user, enable_totp(user)


def log_in(client: Client, user, password: str, secret: str):
    """The password step, then the TOTP step; the response of the last step reached."""
    response = client.post(LOGIN_URL, {"username": user.username, "password": password})
    if response.status_code != 302 or response["Location"] != TWO_FACTOR_URL:
        return response
    return client.post(TWO_FACTOR_URL, {"code": code_at(secret, current_step())})


def assert_logged_in(client: Client, response, user) -> None:
    assert response.status_code == 302, response.content
    assert response["Location"] == "/manage/projects/"
    assert client.session["_auth_user_id"] == str(user.pk)


def drive_surge(victim) -> None:
    """One wrong password from each attack address, half of them at `victim`'s account."""
    for number, address in enumerate(ATTACK_ADDRESSES):
        username = victim.username if number % 2 else f"guess{number}"
        response = Client(REMOTE_ADDR=address).post(
            LOGIN_URL, {"username": username, "password": "wrong pass"}
        )
        assert response.status_code == 200
    assert login_limiter_state().is_surge


def assert_refused(response) -> None:
    assert response.status_code == 429
    assert REFUSED_TEXT in response.content
    assert int(response["Retry-After"]) > 0


def test_known_device_logs_in_from_the_attacking_network_during_a_surge(clock, password):
    user, secret = totp_user(password)
    browser = Client(REMOTE_ADDR="198.51.100.7")
    assert_logged_in(browser, log_in(browser, user, password, secret), user)
    assert KNOWN_DEVICE_COOKIE in browser.cookies
    browser.post("/account/logout/")
    clock.shift(60)  # a later TOTP step: the next code is not a replay
    drive_surge(user)

    browser.defaults["REMOTE_ADDR"] = "203.0.113.200"
    assert_logged_in(browser, log_in(browser, user, password, secret), user)


def test_known_network_logs_in_during_a_surge(clock, password):
    user, secret = totp_user(password)
    first = Client(REMOTE_ADDR="198.51.100.7")
    assert_logged_in(first, log_in(first, user, password, secret), user)
    clock.shift(60)
    drive_surge(user)
    # The attack reaches the user's network too, past the network's surge limit.
    for number in range(10, 22):
        Client(REMOTE_ADDR=f"198.51.100.{number}").post(
            LOGIN_URL, {"username": f"guess{number}", "password": "wrong pass"}
        )

    elsewhere_in_network = Client(REMOTE_ADDR="198.51.100.200")  # no device cookie
    response = log_in(elsewhere_in_network, user, password, secret)
    assert_logged_in(elsewhere_in_network, response, user)
    stranger = Client(REMOTE_ADDR="198.51.100.201")
    assert_refused(stranger.post(LOGIN_URL, {"username": "someone", "password": "wrong pass"}))


def test_new_network_logs_in_during_a_surge_while_under_its_own_limits(clock, password):
    user, secret = totp_user(password)
    drive_surge(user)
    newcomer = Client(REMOTE_ADDR="192.0.2.44")
    assert_logged_in(newcomer, log_in(newcomer, user, password, secret), user)


def test_surge_refuses_the_attack_with_the_usual_answer_and_records_it(password, caplog):
    user, _secret = totp_user(password)
    with caplog.at_level(logging.INFO):
        drive_surge(user)
        # A new address of the attacking network: its network already failed too often.
        response = Client(REMOTE_ADDR="203.0.113.222").post(
            LOGIN_URL, {"username": user.username, "password": password}
        )
    assert_refused(response)
    # Every failure at a real account is in its history; the others are log lines.
    failures = AuditEvent.objects.filter(event_type="account:login:failure", user=user)
    assert failures.count() == SURGE_FAILURES // 2
    assert "login surge started" in caplog.text
    assert caplog.text.count("login failure for an unknown username") == SURGE_FAILURES // 2
    assert "ratelimited /account/login/: ip=203.0.113.222" in caplog.text
    assert [(r.subject, r.kind) for r in login_limiter_state().refusals] == [
        ("net:203.0.113.0/24", "network")
    ]


def test_during_a_surge_an_unknown_address_gets_three_wrong_passwords(clock, password):
    user, secret = totp_user(password)
    drive_surge(user)
    client = Client(REMOTE_ADDR="192.0.2.44")
    for _ in range(3):
        response = client.post(LOGIN_URL, {"username": user.username, "password": "wrong pass"})
        assert response.status_code == 200
    assert_refused(log_in(client, user, password, secret))


def test_outside_a_surge_three_wrong_passwords_do_not_stop_a_login(password):
    user, secret = totp_user(password)
    client = Client(REMOTE_ADDR="192.0.2.44")
    for _ in range(3):
        client.post(LOGIN_URL, {"username": user.username, "password": "wrong pass"})
    assert not login_limiter_state().is_surge
    assert_logged_in(client, log_in(client, user, password, secret), user)


def test_surge_outlasts_the_window_that_started_it(clock, password):
    user, _secret = totp_user(password)
    drive_surge(user)
    clock.shift(6 * 60)  # a new global window: its count starts again
    state = login_limiter_state()
    assert state.global_failures == 0
    assert state.is_surge
    clock.shift(15 * 60)
    assert not login_limiter_state().is_surge


def test_known_device_still_has_its_own_limit_per_address(clock, password):
    user, secret = totp_user(password)
    browser = Client(REMOTE_ADDR="198.51.100.7")
    log_in(browser, user, password, secret)
    browser.post("/account/logout/")
    clock.shift(60)
    for _ in range(10):
        response = browser.post(LOGIN_URL, {"username": user.username, "password": "wrong pass"})
        assert response.status_code == 200
    assert_refused(log_in(browser, user, password, secret))


def test_known_device_is_not_locked_out_by_a_guess_at_its_account_from_everywhere(
    clock, password, monkeypatch
):
    # The real figure is 100 per 5 minutes; a smaller one keeps the test fast.
    monkeypatch.setattr(
        "accounts.ratelimits.LOGIN_PER_USER", (Limit("accounts.login.user", "3/5m"),)
    )
    user, secret = totp_user(password)
    browser = Client(REMOTE_ADDR="198.51.100.7")
    log_in(browser, user, password, secret)
    browser.post("/account/logout/")
    clock.shift(60)
    for address in ATTACK_ADDRESSES[:3]:
        Client(REMOTE_ADDR=address).post(
            LOGIN_URL, {"username": user.username, "password": "wrong pass"}
        )
    assert_refused(
        Client(REMOTE_ADDR="192.0.2.44").post(
            LOGIN_URL, {"username": user.username, "password": password}
        )
    )
    assert_logged_in(browser, log_in(browser, user, password, secret), user)


def _known_device_cookie(password: str) -> tuple[object, str, str]:
    """A user, their TOTP secret and the known-device cookie a complete login gave them."""
    user, secret = totp_user(password)
    browser = Client(REMOTE_ADDR="198.51.100.7")
    log_in(browser, user, password, secret)
    return user, secret, browser.cookies[KNOWN_DEVICE_COOKIE].value


@pytest.mark.parametrize(
    "tamper",
    [
        lambda value: value[:-1] + ("A" if value[-1] != "A" else "B"),  # the signature
        lambda value: "x" + value,  # the payload
        lambda value: "",
        lambda value: "not a signed value",
    ],
)
def test_a_forged_known_device_cookie_counts_for_nothing(clock, password, tamper):
    user, secret, cookie = _known_device_cookie(password)
    clock.shift(60)
    drive_surge(user)
    forger = Client(REMOTE_ADDR="203.0.113.200")
    forger.cookies[KNOWN_DEVICE_COOKIE] = tamper(cookie)
    assert_refused(log_in(forger, user, password, secret))


def test_a_known_device_cookie_cannot_be_moved_to_another_account(clock, password):
    _owner, _secret, cookie = _known_device_cookie(password)
    other, other_secret = totp_user(password)
    clock.shift(60)
    drive_surge(other)
    client = Client(REMOTE_ADDR="203.0.113.200")
    client.cookies[KNOWN_DEVICE_COOKIE] = cookie
    assert_refused(log_in(client, other, password, other_secret))


def test_a_password_change_voids_the_known_device_cookies_issued_before(clock, password):
    user, secret, cookie = _known_device_cookie(password)
    user.set_password("a brand new long passphrase")
    user.save()
    clock.shift(60)
    drive_surge(user)
    client = Client(REMOTE_ADDR="203.0.113.200")
    client.cookies[KNOWN_DEVICE_COOKIE] = cookie
    assert_refused(log_in(client, user, "a brand new long passphrase", secret))


def test_known_device_cookie_is_http_only_and_kept_to_the_account_pages(password, settings):
    settings.SESSION_COOKIE_SECURE = True
    user, secret = totp_user(password)
    browser = Client()
    log_in(browser, user, password, secret)
    morsel = browser.cookies[KNOWN_DEVICE_COOKIE]
    assert morsel["httponly"]
    assert morsel["secure"]
    assert morsel["path"] == "/account/"
    assert int(morsel["max-age"]) == 90 * 24 * 60 * 60


def test_authenticated_pages_work_from_the_attacking_network_during_a_surge(clock, password):
    user, secret = totp_user(password)
    browser = Client(REMOTE_ADDR="203.0.113.200")
    log_in(browser, user, password, secret)
    drive_surge(user)
    assert browser.get("/account/settings/").status_code == 200


def test_token_upload_works_from_the_attacking_network_during_a_surge(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    uploader = UserFactory()
    enable_totp(uploader)
    _row, token = create_api_token(user=uploader, name="ci upload", actor=uploader)
    drive_surge(uploader)
    wheel = make_wheel("surge_pkg", "1.0")
    body, content_type = multipart_body(
        wheel.form(),
        filename=wheel.filename,
        content=wheel.content,
        content_type="application/octet-stream",
    )
    response = Client(REMOTE_ADDR="203.0.113.200").generic(
        "POST",
        "/legacy/",
        body,
        content_type=content_type,
        HTTP_AUTHORIZATION=basic_auth(token),
    )
    assert response.status_code == 200, response.content


def test_login_limits_command_shows_the_surge_and_the_refused_addresses(clock, password):
    victim, _secret = totp_user(password)
    drive_surge(victim)
    for _ in range(4):
        Client(REMOTE_ADDR=ATTACK_ADDRESSES[0]).post(
            LOGIN_URL, {"username": victim.username, "password": "wrong pass"}
        )
    out = io.StringIO()

    call_command("login_limits", stdout=out)

    report = out.getvalue()
    assert report.startswith("Surge: on since ")
    assert f"a surge starts at {SURGE_FAILURES}" in report
    assert f"network                    net:{ATTACK_NETWORK}" in report


def test_clearing_an_address_lets_it_try_again_and_is_recorded(clock, password):
    victim, secret = totp_user(password)
    drive_surge(victim)
    attacker = Client(REMOTE_ADDR=ATTACK_ADDRESSES[0])
    for _ in range(4):
        attacker.post(LOGIN_URL, {"username": victim.username, "password": "wrong pass"})
    assert_refused(attacker.post(LOGIN_URL, {"username": victim.username, "password": password}))
    out = io.StringIO()

    call_command("login_limits", clear_address=ATTACK_NETWORK, stdout=out)

    subject = limit_subject(address=ATTACK_NETWORK)
    assert out.getvalue() == f"The login counters of {subject} start again from zero.\n"
    assert AuditEvent.objects.filter(event_type="admin:login_limits:cleared").count() == 1
    assert_logged_in(attacker, log_in(attacker, victim, password, secret), victim)


def test_clearing_refuses_a_value_that_is_no_address():
    with pytest.raises(CommandError):
        call_command("login_limits", clear_address="not an address")


def test_admin_login_limits_page_shows_the_surge_and_clears_a_network(clock, password, client):
    victim, secret = totp_user(password)
    drive_surge(victim)
    attacker = Client(REMOTE_ADDR=ATTACK_ADDRESSES[0])
    for _ in range(4):
        attacker.post(LOGIN_URL, {"username": victim.username, "password": "wrong pass"})
    admin = TwoFactorUserFactory(username="root", is_staff=True, is_superuser=True)
    log_in_for_admin(client, admin)
    page = "/admin/accounts/user/login-limits/"

    shown = client.get(page)
    cleared = client.post(page, {"kind": "address", "value": ATTACK_NETWORK}, follow=True)

    assert shown.status_code == 200
    assert ATTACK_NETWORK.encode() in shown.content
    subject = limit_subject(address=ATTACK_NETWORK)
    assert f"The login counters of {subject} start again from zero.".encode() in cleared.content
    event = AuditEvent.objects.get(event_type="admin:login_limits:cleared")
    assert event.actor == admin
    assert_logged_in(attacker, log_in(attacker, victim, password, secret), victim)


def test_admin_login_limits_page_needs_the_change_permission(client):
    staff = TwoFactorUserFactory(username="viewer", is_staff=True)
    log_in_for_admin(client, staff)

    assert client.get("/admin/accounts/user/login-limits/").status_code == 403
