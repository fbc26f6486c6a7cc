"""Token services: creation rules, revocation with notice, expiry bookkeeping."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone
from django.views.debug import ExceptionReporter

from accounts.models import Email
from auditlog.events import EventType
from auditlog.models import AuditEvent
from index_site.models import OutboxEmail
from tests.factories import TwoFactorUserFactory
from tests.tokens.conftest import request_with
from tokens.authentication import authenticate_upload
from tokens.exceptions import (
    TokenAuthenticationError,
    TokenCreationError,
    TokenCreationLimitedError,
)
from tokens.models import ApiToken
from tokens.services import (
    create_api_token,
    create_publisher_token,
    record_expired_api_tokens,
    revoke_api_token,
)
from tokens.tasks import record_expired_api_tokens as expiry_task


def test_user_without_a_verified_email_is_given_no_token(owner):
    Email.objects.filter(user=owner).update(is_verified=False)

    with pytest.raises(TokenCreationError, match="Verify your email address"):
        create_api_token(user=owner, name="x", actor=None)

    assert not ApiToken.objects.exists()
    assert not AuditEvent.objects.filter(event_type=EventType.ACCOUNT_API_TOKEN_ADDED).exists()


def test_twenty_first_token_in_an_hour_is_refused_whoever_creates_it(owner):
    for number in range(20):
        create_api_token(user=owner, name=f"t{number}", actor=None)

    with pytest.raises(TokenCreationLimitedError, match="Wait an hour"):
        create_api_token(user=owner, name="one too many", actor=owner)

    assert ApiToken.objects.count() == 20


def test_token_creation_limit_is_per_user_and_resets_after_an_hour(owner):
    other = TwoFactorUserFactory()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for number in range(20):
            create_api_token(user=owner, name=f"t{number}", actor=owner)
        create_api_token(user=other, name="t0", actor=other)

        clock.shift(timedelta(hours=1, minutes=1))
        create_api_token(user=owner, name="next hour", actor=owner)

    assert ApiToken.objects.filter(user=owner).count() == 21


def test_expiry_in_the_past_is_refused(owner):
    with pytest.raises(TokenCreationError, match="in the future"):
        create_api_token(
            user=owner, name="x", expires_at=timezone.now() - timedelta(days=1), actor=owner
        )


def test_not_before_after_expiry_is_refused(owner):
    now = timezone.now()
    with pytest.raises(TokenCreationError, match="valid before it expires"):
        create_api_token(
            user=owner,
            name="x",
            expires_at=now + timedelta(days=1),
            not_before=now + timedelta(days=2),
            actor=owner,
        )


def test_empty_project_list_is_refused(owner):
    with pytest.raises(TokenCreationError, match="at least one project"):
        create_api_token(user=owner, name="x", project_ids=[], actor=owner)


def test_too_many_ip_ranges_are_refused(owner):
    networks = [f"10.0.{n}.0/24" for n in range(40)]
    with pytest.raises(TokenCreationError, match="at most 32"):
        create_api_token(user=owner, name="x", ip_networks=networks, actor=owner)


def test_a_token_belongs_to_a_user_or_a_publisher_never_both(owner):
    with pytest.raises(IntegrityError):
        ApiToken.objects.create(user=owner, publisher_id=1, name="both", key_id="1")


def test_publisher_token_carries_publisher_project_and_expiry_caveats(project):
    token, raw = create_publisher_token(
        publisher_id=12, project_ids=[project.pk], lifetime=timedelta(minutes=5)
    )
    tags = [caveat[0] for caveat in token.caveats]
    assert tags == [4, 2, 0]
    assert token.user is None
    assert token.key_id == settings.TOKEN_SECRET_ID
    assert list(token.projects.all()) == [project]
    assert abs(token.expires_at - (timezone.now() + timedelta(minutes=5))) < timedelta(seconds=5)
    assert raw.startswith("pypi-")


def test_admin_revocation_emails_the_owner_with_the_reason(make_token, owner):
    admin = TwoFactorUserFactory(is_staff=True)
    token, _raw = make_token(name="suspicious")
    revoke_api_token(token=token, actor=admin, reason="found in a public gist", notify=True)
    email = OutboxEmail.objects.get(template="tokens/revoked")
    assert email.recipient == owner.email
    assert "suspicious" in email.subject
    assert "found in a public gist" in email.body_text
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_API_TOKEN_REMOVED)
    assert event.actor == admin
    assert event.user == owner
    assert event.data["reason"] == "found in a public gist"
    assert event.data["removed_by"] == admin.username


def test_owner_revocation_sends_no_email(make_token, owner):
    token, _raw = make_token()
    revoke_api_token(token=token, actor=owner, reason="done")
    assert not OutboxEmail.objects.filter(template="tokens/revoked").exists()


def test_expiry_is_recorded_once_per_token(make_token, owner):
    expires = timezone.now() + timedelta(days=1)
    token, _raw = make_token(name="short", expires_at=expires)
    make_token(name="forever")
    assert record_expired_api_tokens() == 0
    with time_machine.travel(expires + timedelta(minutes=1)):
        assert expiry_task.delay().get() == 1
        assert record_expired_api_tokens() == 0
    events = AuditEvent.objects.filter(event_type=EventType.ACCOUNT_API_TOKEN_EXPIRED)
    assert events.count() == 1
    assert events.get().user == owner
    assert events.get().data["token_name"] == "short"
    token.refresh_from_db()
    assert token.expiry_recorded_at is not None


def test_publisher_tokens_are_deleted_a_day_after_creation(project):
    old, _ = create_publisher_token(publisher_id=1, project_ids=[project.pk])
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        fresh, _ = create_publisher_token(publisher_id=1, project_ids=[project.pk])
        record_expired_api_tokens()
    assert not ApiToken.objects.filter(pk=old.pk).exists()
    assert ApiToken.objects.filter(pk=fresh.pk).exists()


def test_expiry_task_is_scheduled():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "tokens.tasks.record_expired_api_tokens" in tasks


def test_revoking_a_publisher_token_leaves_histories_to_trusted_publishing(project):
    token, _raw = create_publisher_token(publisher_id=4, project_ids=[project.pk])
    revoke_api_token(token=token, actor=None, reason="burned after publishing")
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert not AuditEvent.objects.exists()


def test_duplicate_name_racing_past_the_check_is_a_clear_error(owner, monkeypatch):
    create_api_token(user=owner, name="ci", actor=owner)
    # As if a concurrent request created "ci" between the check and the insert.
    monkeypatch.setattr("tokens.services._validated_name", lambda *, user, name: name)
    with pytest.raises(TokenCreationError, match="already have a token with this name"):
        create_api_token(user=owner, name="ci", actor=owner)
    assert ApiToken.objects.filter(user=owner).count() == 1


def test_tracebacks_hide_the_token(make_token):
    _token, raw = make_token()
    forged = raw[:-3] + ("AAA" if not raw.endswith("AAA") else "BBB")
    request = request_with(forged, scheme="token")
    with pytest.raises(TokenAuthenticationError) as info:
        authenticate_upload(request)
    reporter = ExceptionReporter(request, info.type, info.value, info.tb)
    # The application's frames (this test's own frame holds the token in its variables).
    frames = [f for f in reporter.get_traceback_frames() if "/tests/" not in f["filename"]]
    assert len(frames) > 3
    shown = repr([frame["vars"] for frame in frames])
    assert forged not in shown
    assert forged.removeprefix("pypi-")[:40] not in shown
