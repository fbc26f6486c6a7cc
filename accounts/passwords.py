"""Password rules beyond Django's own validators."""

import hashlib
import logging

import requests
from django.conf import settings
from django.core.exceptions import ValidationError

logger = logging.getLogger(__name__)

# Passwords longer than this (in UTF-8 bytes) are refused before any hash runs: hashing a
# megabyte-long password with Argon2 is a cheap denial of service.
MAX_PASSWORD_BYTES = 4096
PASSWORD_TOO_LONG_MESSAGE = f"Use a password of at most {MAX_PASSWORD_BYTES} bytes."
BREACH_FOUND_MESSAGE = (
    "This password appears in a public data breach, so attackers try it first. "
    "Choose a different password; a password manager can generate one for you."
)
BREACHED_PASSWORDS_TIMEOUT = 3  # seconds; the check fails open, so keep the wait short


def is_password_too_long(password: str) -> bool:
    return len(password.encode()) > MAX_PASSWORD_BYTES


def is_password_breached(password: str) -> bool | None:
    """Ask the k-anonymity range service; None when it is not configured or cannot answer.

    Only the first five hex digits of the SHA-1 leave this server (HaveIBeenPwned's range API);
    the service answers every suffix it knows for that prefix as `SUFFIX:COUNT` lines.
    """
    base_url = settings.BREACHED_PASSWORDS_URL
    if not base_url:
        return None
    digest = hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()
    prefix, suffix = digest[:5], digest[5:]
    try:
        response = requests.get(
            f"{base_url.rstrip('/')}/{prefix}",
            timeout=BREACHED_PASSWORDS_TIMEOUT,
            headers={"Add-Padding": "true"},
        )
        response.raise_for_status()
    except requests.RequestException as exc:
        # Fail open: an outage of the breach service must not stop people from registering.
        logger.warning("breached-password check unavailable: %s", type(exc).__name__)
        return None
    for line in response.text.splitlines():
        candidate, _, count = line.strip().partition(":")
        # Padding lines (Add-Padding) carry a count of 0 and match no real password.
        if candidate.upper() == suffix and count.strip() not in ("", "0"):
            return True
    return False


class BreachedPasswordValidator:
    """Refuse passwords a HaveIBeenPwned-compatible range service reports as breached."""

    def validate(self, password: str, user=None) -> None:
        if is_password_breached(password):
            raise ValidationError(BREACH_FOUND_MESSAGE, code="password_breached")

    def get_help_text(self) -> str:
        return "Your password must not appear in a known data breach."
