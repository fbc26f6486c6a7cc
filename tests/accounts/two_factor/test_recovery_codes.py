"""Recovery codes: generation, login, burning, regeneration (security.md §3 C)."""

import re
import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import RecoveryCode
from accounts.two_factor.recovery_codes import (
    RecoveryCodeResult,
    format_recovery_code,
    generate_recovery_codes,
    normalize_recovery_code,
    use_recovery_code,
)
from accounts.two_factor.views import CODES_TO_SHOW_KEY
from auditlog.events import EventType
from auditlog.models import AuditEvent
from index_site.models import OutboxEmail
from tests.accounts.two_factor.conftest import begin_pending_login, login_recently

LOGIN_CODE = "accounts:login_recovery_code"


@pytest.fixture
def codes(totp_user):
    return generate_recovery_codes(user=totp_user, actor=totp_user, request=None)


def failures(user, reason):
    return AuditEvent.objects.filter(
        user=user, event_type=EventType.ACCOUNT_LOGIN_FAILURE, data__reason=reason
    )


def test_eight_codes_of_64_bits_are_made_and_stored_only_as_hashes(totp_user, codes):
    assert len(codes) == 8
    assert len(set(codes)) == 8
    assert all(re.fullmatch(r"[0-9a-f]{16}", code) for code in codes)
    stored = list(RecoveryCode.objects.filter(user=totp_user).values_list("code_hash", flat=True))
    assert len(stored) == 8
    assert all(value.startswith("argon2$argon2id$") for value in stored)
    assert not any(code in value for code in codes for value in stored)
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_RECOVERY_CODES_GENERATED)
    assert event.data == {"code_count": 8}


def test_valid_code_logs_in_burns_the_code_and_emails(client, totp_user, codes):
    begin_pending_login(client, totp_user)
    response = client.post(reverse(LOGIN_CODE), {"code": codes[0]})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == totp_user.pk
    assert RecoveryCode.objects.filter(user=totp_user, burned_at__isnull=False).count() == 1
    used = AuditEvent.objects.get(event_type=EventType.ACCOUNT_RECOVERY_CODE_USED)
    assert used.data == {"remaining": 7}
    success = AuditEvent.objects.get(event_type=EventType.ACCOUNT_LOGIN_SUCCESS)
    assert success.data == {"method": "recovery_code"}
    email = OutboxEmail.objects.get(template="two_factor/recovery_code_used")
    assert "7 unused codes remain" in email.body_text
    assert "http://testserver/account/two-factor/" in email.body_text


def test_burned_code_is_refused_with_its_own_message(client, totp_user, codes):
    assert use_recovery_code(user=totp_user, raw_code=codes[1], request=None) == (
        RecoveryCodeResult.ACCEPTED
    )
    begin_pending_login(client, totp_user)
    response = client.post(reverse(LOGIN_CODE), {"code": codes[1]})
    assert response.status_code == 200
    assert "has been used before" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert failures(totp_user, "burned_recovery_code").count() == 1


@pytest.mark.parametrize(
    "variant",
    [
        lambda code: format_recovery_code(code).upper(),
        lambda code: code[:8].upper() + code[8:],
        lambda code: code[:4] + "\u00a0" + code[4:8] + "\u2003" + code[8:],
        lambda code: "  " + format_recovery_code(code) + "\t",
    ],
)
def test_spacing_and_case_are_normalised(totp_user, codes, variant):
    assert use_recovery_code(user=totp_user, raw_code=variant(codes[2]), request=None) == (
        RecoveryCodeResult.ACCEPTED
    )


@pytest.mark.parametrize(
    "raw", ["", "0123456789abcde", "0123456789abcdef0", "0123456789abcdeg", "x" * 1_000_000]
)
def test_codes_outside_the_alphabet_are_form_errors_and_counted(client, totp_user, codes, raw):
    begin_pending_login(client, totp_user)
    response = client.post(reverse(LOGIN_CODE), {"code": raw})
    assert response.status_code == 200
    assert "Enter a recovery code" in response.content.decode()
    assert failures(totp_user, "malformed_recovery_code").count() == 1


def test_oversized_input_runs_no_hash(totp_user, codes, monkeypatch):
    from accounts.two_factor import recovery_codes  # noqa: PLC0415 - patched only here

    def refuse(*args, **kwargs):
        raise AssertionError("hashed an oversized input")

    monkeypatch.setattr(recovery_codes.HASHER, "verify", refuse)
    assert normalize_recovery_code("a" * 1_000_000) is None
    assert use_recovery_code(user=totp_user, raw_code="a" * 1_000_000, request=None) == (
        RecoveryCodeResult.MALFORMED
    )


def test_wrong_code_is_refused(client, totp_user, codes):
    begin_pending_login(client, totp_user)
    response = client.post(reverse(LOGIN_CODE), {"code": "0" * 16})
    assert "not valid" in response.content.decode()
    assert failures(totp_user, "invalid_recovery_code").count() == 1
    assert not RecoveryCode.objects.filter(burned_at__isnull=False).exists()


def test_recovery_codes_share_the_two_factor_limiter(client, totp_user, codes):
    begin_pending_login(client, totp_user)
    for _ in range(5):
        client.post(reverse(LOGIN_CODE), {"code": "0" * 16})
    response = client.post(reverse(LOGIN_CODE), {"code": codes[0]})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert not RecoveryCode.objects.filter(burned_at__isnull=False).exists()


def test_regenerating_needs_recent_authentication(client, totp_user, codes):
    client.force_login(totp_user)
    response = client.post(reverse("accounts:recovery_codes"))
    assert response["Location"].startswith(reverse("accounts:reauth"))
    assert use_recovery_code(user=totp_user, raw_code=codes[0], request=None) == (
        RecoveryCodeResult.ACCEPTED
    )


def test_regenerating_voids_every_old_code_and_emails(client, totp_user, codes):
    login_recently(client, totp_user)
    response = client.post(reverse("accounts:recovery_codes"))
    assert response["Location"] == reverse("accounts:recovery_codes")
    page = client.get(reverse("accounts:recovery_codes")).content.decode()
    new_codes = [c.replace(" ", "") for c in re.findall(r"<code>([0-9a-f ]{19})</code>", page)]
    assert len(new_codes) == 8
    for old in codes:
        assert use_recovery_code(user=totp_user, raw_code=old, request=None) == (
            RecoveryCodeResult.INVALID
        )
    assert use_recovery_code(user=totp_user, raw_code=new_codes[0], request=None) == (
        RecoveryCodeResult.ACCEPTED
    )
    assert AuditEvent.objects.filter(
        event_type=EventType.ACCOUNT_RECOVERY_CODES_REGENERATED
    ).exists()
    email = (
        OutboxEmail.objects.filter(template="two_factor/recovery_codes_generated")
        .order_by("pk")
        .last()
    )
    assert "old codes no longer work" in email.body_text


def test_new_codes_wait_in_the_session_encrypted_and_are_shown_once(client, totp_user, codes):
    login_recently(client, totp_user)
    client.post(reverse("accounts:recovery_codes"))
    stored = str(dict(client.session.items()))
    page = client.get(reverse("accounts:recovery_codes")).content.decode()
    new_codes = re.findall(r"<code>([0-9a-f ]{19})</code>", page)
    assert len(new_codes) == 8
    for code in new_codes:
        assert code not in stored
        assert code.replace(" ", "") not in stored
    assert CODES_TO_SHOW_KEY not in client.session
    again = client.get(reverse("accounts:recovery_codes"))
    assert again["Location"] == reverse("accounts:two_factor")


def test_new_codes_not_shown_within_ten_minutes_are_never_shown(client, totp_user, codes):
    login_recently(client, totp_user)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client.post(reverse("accounts:recovery_codes"))
        traveller.shift(timedelta(minutes=10, seconds=1))
        response = client.get(reverse("accounts:recovery_codes"))
    assert response["Location"] == reverse("accounts:two_factor")
    assert CODES_TO_SHOW_KEY not in client.session


def test_reminder_when_few_codes_remain(client, totp_user, codes):
    for code in codes[:6]:
        use_recovery_code(user=totp_user, raw_code=code, request=None)
    last_email = (
        OutboxEmail.objects.filter(template="two_factor/recovery_code_used").order_by("pk").last()
    )
    assert "running out of recovery codes" in last_email.body_text
    begin_pending_login(client, totp_user)
    response = client.post(reverse(LOGIN_CODE), {"code": codes[6]}, follow=True)
    assert "Make new codes" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_simultaneous_uses_of_one_code_succeed_once(totp_user):
    if connection.vendor == "sqlite":
        pytest.skip("concurrent writers need PostgreSQL (CI runs it); SQLite locks the table")
    codes = generate_recovery_codes(user=totp_user, actor=totp_user, request=None)
    results = []
    barrier = threading.Barrier(2)

    def use() -> None:
        barrier.wait()
        try:
            results.append(use_recovery_code(user=totp_user, raw_code=codes[0], request=None))
        finally:
            connection.close()

    threads = [threading.Thread(target=use) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [RecoveryCodeResult.ACCEPTED, RecoveryCodeResult.BURNED]
