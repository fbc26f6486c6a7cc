"""Encryption of secrets the server must read back (TOTP secrets, new recovery codes), with Fernet.

The key is FIELD_ENCRYPTION_KEY (one or more comma-separated Fernet keys, newest first, so a key
can rotate), or, when that is empty, a key derived from SECRET_KEY with HKDF. A stolen database
alone therefore does not reveal any secret.
"""

import base64

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# A distinct `info` keeps this key independent of anything else derived from SECRET_KEY.
HKDF_INFO = b"gatehouse field encryption v1"


def _derived_key() -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(settings.SECRET_KEY.encode()))


def _fernet() -> MultiFernet:
    configured = [key.strip() for key in settings.FIELD_ENCRYPTION_KEY.split(",") if key.strip()]
    keys = [key.encode() for key in configured] or [_derived_key()]
    return MultiFernet([Fernet(key) for key in keys])


def encrypt_bytes(value: bytes) -> bytes:
    """Return `value` encrypted and authenticated with the current key."""
    return _fernet().encrypt(value)


def decrypt_bytes(token: bytes | memoryview, *, ttl: int | None = None) -> bytes:
    """Return the plaintext of `token`; raise `cryptography.fernet.InvalidToken` if tampered.

    With `ttl`, a token encrypted more than `ttl` seconds ago is refused the same way.
    """
    return _fernet().decrypt(bytes(token), ttl=ttl)
