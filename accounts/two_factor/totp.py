"""Authenticator apps (TOTP, RFC 6238): setup, confirmation, verification, removal.

Codes are SHA-1, six digits, 30-second steps. A code is accepted for the current step and one
step either side (RFC 6238 §5.2). The accepted *time step* is stored and must strictly increase,
so no code is accepted twice, however it is spaced or whichever window step it came from.
"""

import hmac
import io
import os
import re
import time
from base64 import b32encode
from enum import StrEnum

import pyotp
import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from accounts.encryption import decrypt_bytes, encrypt_bytes
from accounts.models import TOTPDevice, User
from accounts.two_factor.methods import (
    METHOD_TOTP,
    TwoFactorError,
    after_method_change,
    ensure_method_removable,
)
from auditlog.events import EventType
from auditlog.services import record_event

SECRET_BYTES = 20  # 160 bits, as RFC 4226 R6 recommends.
INTERVAL = 30
DIGITS = 6
ACCEPTED_STEPS = 1  # Steps either side of "now" that are accepted.
OUT_OF_SYNC_STEPS = 10  # Steps either side that are reported as clock drift (still refused).
# Long input is refused before any work; six digits with spaces never need more.
MAX_INPUT_LENGTH = 32
# ASCII only: `\d` would accept any Unicode digit, and pyotp's comparison applies NFKC, so
# fullwidth digits would otherwise verify like ASCII ones.
CODE_RE = re.compile(r"[0-9]{6}", re.ASCII)

INVALID_CODE_MESSAGE = (
    "That code is not valid. Enter the current six-digit code from your authenticator app. "
    "If it keeps failing, check that your phone's clock is set automatically."
)
# Not "check your clock": the code was right, it is the one already spent in this time step.
REUSED_CODE_MESSAGE = "That code was already used. Wait for the next one."
ALREADY_ENABLED_MESSAGE = (
    "An authenticator app is already set up for this account. Remove it first if you want to "
    "move to a new app."
)


class TOTPResult(StrEnum):
    ACCEPTED = "accepted"
    MALFORMED = "malformed"
    INVALID = "invalid"
    OUT_OF_SYNC = "out_of_sync"
    REPLAY = "replay"


def normalize_totp_code(raw: str) -> str | None:
    """Return the six ASCII digits of `raw` without spaces, or None if it is not such a code."""
    if len(raw) > MAX_INPUT_LENGTH:
        return None
    code = "".join(raw.split())
    return code if CODE_RE.fullmatch(code) else None


def _otp(encrypted_secret: bytes | memoryview) -> pyotp.TOTP:
    return pyotp.TOTP(totp_secret_base32(encrypted_secret), digits=DIGITS, interval=INTERVAL)


def totp_secret_base32(encrypted_secret: bytes | memoryview) -> str:
    """The secret as the base32 text an app accepts when typed in."""
    return b32encode(decrypt_bytes(encrypted_secret)).decode()


def totp_provisioning_uri(*, user: User, encrypted_secret: bytes | memoryview) -> str:
    """The `otpauth://` URI, naming SITE_NAME as issuer."""
    return _otp(encrypted_secret).provisioning_uri(
        name=user.username, issuer_name=settings.SITE_NAME
    )


def totp_qr_svg(*, user: User, encrypted_secret: bytes | memoryview) -> str:
    """The provisioning URI as an SVG QR code."""
    image = qrcode.make(
        totp_provisioning_uri(user=user, encrypted_secret=encrypted_secret),
        image_factory=qrcode.image.svg.SvgPathImage,
        box_size=8,
        border=2,
    )
    out = io.BytesIO()
    image.save(out)
    return out.getvalue().decode()


def _matching_step(
    encrypted_secret: bytes | memoryview, code: str, now: float, reach: int
) -> int | None:
    otp = _otp(encrypted_secret)
    current = int(now // INTERVAL)
    found = None
    # Every candidate is computed and compared in constant time, so timing does not tell
    # which step matched.
    for step in range(current - reach, current + reach + 1):
        if hmac.compare_digest(otp.generate_otp(step), code):
            found = step
    return found


def _accepted_step(encrypted_secret: bytes | memoryview, raw_code: str) -> int | TOTPResult:
    """The time step `raw_code` is the code of (now or one step either side), or why not."""
    code = normalize_totp_code(raw_code)
    if code is None:
        return TOTPResult.MALFORMED
    now = time.time()
    step = _matching_step(encrypted_secret, code, now, ACCEPTED_STEPS)
    if step is None:
        if _matching_step(encrypted_secret, code, now, OUT_OF_SYNC_STEPS) is not None:
            return TOTPResult.OUT_OF_SYNC
        return TOTPResult.INVALID
    return step


def check_totp_code(*, device: TOTPDevice, raw_code: str) -> TOTPResult:
    """Check `raw_code` against `device`; on success consume its time step.

    The step is stored with a conditional UPDATE (only if greater than the stored one), so
    two requests racing with one code cannot both succeed.
    """
    step = _accepted_step(device.encrypted_secret, raw_code)
    if not isinstance(step, int):
        return step
    consumed = (
        TOTPDevice.objects.filter(pk=device.pk)
        .filter(Q(last_used_step__isnull=True) | Q(last_used_step__lt=step))
        .update(last_used_step=step)
    )
    if not consumed:
        return TOTPResult.REPLAY
    device.last_used_step = step
    return TOTPResult.ACCEPTED


def start_totp_setup(*, user: User) -> bytes:
    """A fresh 160-bit secret for `user`'s new app, encrypted; nothing is stored.

    The caller keeps it (the setup page: in the session) until a code from it is confirmed,
    so opening the setup page changes no row. Refused when an app is already confirmed: one
    authenticator app per account.
    """
    if TOTPDevice.objects.filter(user=user, is_confirmed=True).exists():
        raise TwoFactorError(ALREADY_ENABLED_MESSAGE)
    return encrypt_bytes(os.urandom(SECRET_BYTES))


@transaction.atomic
def confirm_totp_device(
    *, user: User, encrypted_secret: bytes, raw_code: str, request: HttpRequest | None
) -> TOTPResult:
    """Turn on an app with `encrypted_secret` (from `start_totp_setup`) when `raw_code` is a
    valid code from it; end other sessions.

    The accepted step is stored with the app, so the code that confirmed it cannot log in.
    """
    # The user's row is locked so two confirmations racing cannot both add an app.
    User.objects.select_for_update().filter(pk=user.pk).first()
    existing = TOTPDevice.objects.filter(user=user).first()
    if existing is not None and existing.is_confirmed:
        raise TwoFactorError(ALREADY_ENABLED_MESSAGE)
    step = _accepted_step(encrypted_secret, raw_code)
    if not isinstance(step, int):
        return step
    if existing is not None:
        # An unconfirmed app left by an older version, which stored setups as rows.
        existing.delete()
    TOTPDevice.objects.create(
        user=user,
        encrypted_secret=encrypted_secret,
        is_confirmed=True,
        confirmed_at=timezone.now(),
        last_used_step=step,
    )
    record_event(
        event_type=EventType.ACCOUNT_TWO_FACTOR_METHOD_ADDED,
        actor=user,
        request=request,
        data={"method": METHOD_TOTP},
    )
    after_method_change(
        user=user, request=request, template="two_factor/method_added", method=METHOD_TOTP
    )
    return TOTPResult.ACCEPTED


@transaction.atomic
def remove_totp_device(*, user: User, actor: User, request: HttpRequest | None) -> None:
    """Remove the confirmed app and end the user's other sessions.

    Refused if it is the last method the policy needs.
    """
    device = TOTPDevice.objects.select_for_update().filter(user=user, is_confirmed=True).first()
    if device is None:
        raise TwoFactorError("There is no authenticator app on this account to remove.")
    ensure_method_removable(user)
    device.delete()
    record_event(
        event_type=EventType.ACCOUNT_TWO_FACTOR_METHOD_REMOVED,
        actor=actor,
        user=user,
        request=request,
        data={"method": METHOD_TOTP},
    )
    after_method_change(
        user=user, request=request, template="two_factor/method_removed", method=METHOD_TOTP
    )
