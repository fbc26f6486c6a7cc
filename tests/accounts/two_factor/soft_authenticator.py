"""A software WebAuthn authenticator for tests: real keys, real signatures, chosen flaws.

It builds what a browser's `credential.toJSON()` would post, so the server's verification runs
for real. Each knob (origin, RP ID, type, flags, sign count, user handle) lets a test break
exactly one check.
"""

import hashlib
import json
import os
import struct
from base64 import urlsafe_b64decode, urlsafe_b64encode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import encode_cbor

FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_AT = 0x40


def b64u(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


class SoftAuthenticator:
    def __init__(self, *, rp_id: str = "testserver", origin: str = "http://testserver") -> None:
        self.rp_id = rp_id
        self.origin = origin
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(16)
        self.sign_count = 0
        self.user_handle: bytes | None = None

    def _cose_key(self, alg: int = -7) -> bytes:
        numbers = self.private_key.public_key().public_numbers()
        return encode_cbor(
            {
                1: 2,  # kty: EC2
                3: alg,  # -7: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _auth_data(
        self, *, rp_id: str, flags: int, sign_count: int, attested: bool, alg: int = -7
    ) -> bytes:
        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags])
        data += struct.pack(">I", sign_count)
        if attested:
            data += bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id
            data += self._cose_key(alg)
        return data

    @staticmethod
    def _client_data(*, type_: str, challenge: str, origin: str) -> bytes:
        return json.dumps(
            {"type": type_, "challenge": challenge, "origin": origin, "crossOrigin": False}
        ).encode()

    def register(
        self,
        options: dict,
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        type_: str = "webauthn.create",
        flags: int = FLAG_UP | FLAG_UV,
        alg: int = -7,
    ) -> dict:
        """The JSON of `navigator.credentials.create()` for `options` (the server's JSON)."""
        self.user_handle = _b64u_decode(options["user"]["id"])
        client_data = self._client_data(
            type_=type_, challenge=options["challenge"], origin=origin or self.origin
        )
        auth_data = self._auth_data(
            rp_id=rp_id or self.rp_id, flags=flags | FLAG_AT, sign_count=0, attested=True, alg=alg
        )
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64u(self.credential_id),
            "rawId": b64u(self.credential_id),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64u(client_data),
                "attestationObject": b64u(attestation),
                "transports": ["usb"],
            },
        }

    def assertion(
        self,
        options: dict,
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        type_: str = "webauthn.get",
        flags: int = FLAG_UP | FLAG_UV,
        sign_count: int | None = None,
        user_handle: bytes | bool | None = True,
    ) -> dict:
        """The JSON of `navigator.credentials.get()`; the count goes up by one unless given.

        `user_handle=True` sends the registered handle, None sends none, bytes send those.
        """
        if sign_count is None:
            self.sign_count += 1
            sign_count = self.sign_count
        client_data = self._client_data(
            type_=type_, challenge=options["challenge"], origin=origin or self.origin
        )
        auth_data = self._auth_data(
            rp_id=rp_id or self.rp_id, flags=flags, sign_count=sign_count, attested=False
        )
        signature = self.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        handle = self.user_handle if user_handle is True else user_handle
        return {
            "id": b64u(self.credential_id),
            "rawId": b64u(self.credential_id),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64u(client_data),
                "authenticatorData": b64u(auth_data),
                "signature": b64u(signature),
                "userHandle": b64u(handle) if handle else None,
            },
        }


def _b64u_decode(value: str) -> bytes:
    return urlsafe_b64decode(value + "=" * (-len(value) % 4))
