"""Recovery codes: eight single-use codes for when every device is lost.

Each code is 64 random bits (16 lowercase hex characters), shown once and stored only as an
Argon2 hash. Using one burns it with a conditional UPDATE, so two simultaneous uses of one code
succeed once.
"""

import re
import secrets
from enum import StrEnum

from django.contrib.auth.hashers import Argon2PasswordHasher
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import RecoveryCode, User
from accounts.notifications import email_user
from accounts.sessions import end_other_sessions
from auditlog.events import EventType
from auditlog.services import record_event
from index_site.links import absolute_url

CODE_COUNT = 8
CODE_BYTES = 8  # 64 bits each.
LOW_REMAINING = 2  # A reminder email is sent once this few codes remain.
# Refused before any hashing: a huge input must not cost an Argon2 run per stored code.
MAX_INPUT_LENGTH = 64
CODE_RE = re.compile(r"[0-9a-f]{16}", re.ASCII)

INVALID_CODE_MESSAGE = (
    "That recovery code is not valid. Enter one of the 16-character codes you saved when you "
    "set up two-factor authentication."
)
BURNED_CODE_MESSAGE = (
    "That recovery code has been used before. Each code works once: use another of your codes."
)


class RecoveryCodeHasher(Argon2PasswordHasher):
    """Argon2id at OWASP's minimum cost (19 MiB, 2 passes).

    The codes are 64 random bits, not guessable passwords, so the slow-hash budget Django spends
    on passwords would only make each login attempt (which tries every stored code) expensive.
    """

    memory_cost = 19456
    time_cost = 2
    parallelism = 1


HASHER = RecoveryCodeHasher()


class RecoveryCodeResult(StrEnum):
    ACCEPTED = "accepted"
    MALFORMED = "malformed"
    INVALID = "invalid"
    BURNED = "burned"


def normalize_recovery_code(raw: str) -> str | None:
    """Lowercase `raw` and drop all whitespace; None unless 16 hex characters remain."""
    if len(raw) > MAX_INPUT_LENGTH:
        return None
    code = "".join(raw.split()).lower()
    return code if CODE_RE.fullmatch(code) else None


def format_recovery_code(code: str) -> str:
    """Group a code in fours for reading; normalisation removes the spaces again."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def remaining_recovery_codes(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, burned_at__isnull=True).count()


def has_recovery_codes(user: User) -> bool:
    return RecoveryCode.objects.filter(user=user).exists()


@transaction.atomic
def generate_recovery_codes(*, user: User, actor: User, request: HttpRequest | None) -> list[str]:
    """Replace all of `user`'s recovery codes with eight new ones; return them (shown once).

    Every other session of `user` ends.
    """
    codes = [secrets.token_hex(CODE_BYTES) for _ in range(CODE_COUNT)]
    replaced = RecoveryCode.objects.filter(user=user).delete()[0]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, code_hash=HASHER.encode(code, HASHER.salt())) for code in codes
    )
    record_event(
        event_type=(
            EventType.ACCOUNT_RECOVERY_CODES_REGENERATED
            if replaced
            else EventType.ACCOUNT_RECOVERY_CODES_GENERATED
        ),
        actor=actor,
        user=user,
        request=request,
        data={"code_count": CODE_COUNT},
    )
    # Whoever held the old codes may be logged in with one: their sessions end with them.
    end_other_sessions(user=user, request=request)
    email_user(
        user=user,
        template="two_factor/recovery_codes_generated",
        context={
            "is_regenerated": bool(replaced),
            "manage_url": absolute_url("accounts:two_factor"),
        },
    )
    return codes


@transaction.atomic
def use_recovery_code(
    *, user: User, raw_code: str, request: HttpRequest | None
) -> RecoveryCodeResult:
    """Burn the matching code of `user`; email them that a code was used."""
    code = normalize_recovery_code(raw_code)
    if code is None:
        return RecoveryCodeResult.MALFORMED
    match = None
    for row in RecoveryCode.objects.filter(user=user):
        if HASHER.verify(code, row.code_hash):
            match = row
    if match is None:
        return RecoveryCodeResult.INVALID
    burned = RecoveryCode.objects.filter(pk=match.pk, burned_at__isnull=True).update(
        burned_at=timezone.now()
    )
    if not burned:
        return RecoveryCodeResult.BURNED
    remaining = remaining_recovery_codes(user)
    record_event(
        event_type=EventType.ACCOUNT_RECOVERY_CODE_USED,
        actor=user,
        request=request,
        data={"remaining": remaining},
    )
    email_user(
        user=user,
        template="two_factor/recovery_code_used",
        context={
            "remaining": remaining,
            "is_low": remaining <= LOW_REMAINING,
            "manage_url": absolute_url("accounts:two_factor"),
            "help_url": absolute_url("accounts:two_factor_help"),
        },
    )
    return RecoveryCodeResult.ACCEPTED
