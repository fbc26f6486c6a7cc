"""Leak reports: secret scanners tell us a token was published, and it is revoked at once.

GitHub secret scanning posts a JSON list of `{"token", "type", "url", "source"}` records, signed
with ECDSA (SHA-256) over the raw body; the signature and the id of the signing key arrive in the
`Github-Public-Key-Signature` and `Github-Public-Key-Identifier` headers. The public keys are
configured (settings.SECRET_SCANNING_PUBLIC_KEYS, key id -> PEM), so nothing is fetched at
request time.
"""

import base64
import binascii
import logging
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from django.http import HttpRequest

from index_site.json_body import JSONBodyError, JSONBodyProblem, parse_json
from tokens.macaroons import find_authentic_token
from tokens.services import revoke_leaked_api_token

logger = logging.getLogger(__name__)

# A report carries at most this many records; GitHub batches far fewer.
MAX_RECORDS = 1000
# A record is a few hundred bytes (a token, its type, a URL of at most MAX_URL_LENGTH).
MAX_REPORT_BYTES = MAX_RECORDS * 4096
MAX_URL_LENGTH = 2048


class DisclosureError(Exception):
    """The report is unsigned, forged or unreadable; the argument says which."""


@dataclass(frozen=True)
class Disclosure:
    token: str
    url: str


def verify_signature(*, body: bytes, key_id: str, signature: str) -> None:
    """Raise DisclosureError unless `signature` is a valid ECDSA-SHA256 signature of `body`."""
    pem = settings.SECRET_SCANNING_PUBLIC_KEYS.get(key_id)
    if not pem:
        raise DisclosureError("unknown public key identifier")
    try:
        public_key = load_pem_public_key(pem.encode())
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise DisclosureError("the configured key is not an ECDSA key")
        public_key.verify(
            base64.b64decode(signature, validate=True), body, ec.ECDSA(hashes.SHA256())
        )
    except (InvalidSignature, ValueError, binascii.Error) as exc:
        raise DisclosureError("invalid signature") from exc


def parse_disclosures(body: bytes) -> list[Disclosure]:
    """The records of a report body, or DisclosureError for anything but a JSON list."""
    try:
        # A record naming `token` twice could be checked by one reader and revoked by another:
        # the one JSON parser refuses it, as it refuses nesting and text the database refuses.
        records = parse_json(body)
    except JSONBodyError as exc:
        if exc.problem is JSONBodyProblem.NOT_JSON:
            raise DisclosureError("the body is not JSON") from exc
        raise DisclosureError(exc.message.removesuffix(".")) from exc
    if not isinstance(records, list) or len(records) > MAX_RECORDS:
        raise DisclosureError("the body is not a list of records")
    disclosures = []
    for record in records:
        if not isinstance(record, dict) or not isinstance(record.get("token"), str):
            continue
        url = record.get("url")
        disclosures.append(
            Disclosure(
                token=record["token"].strip(),
                url=url[:MAX_URL_LENGTH] if isinstance(url, str) else "",
            )
        )
    return disclosures


def revoke_disclosed(
    disclosures: list[Disclosure], *, origin: str, request: HttpRequest | None
) -> int:
    """Revoke each authentic token reported; return how many were revoked."""
    revoked = 0
    for disclosure in disclosures:
        token = find_authentic_token(disclosure.token)
        if token is None:
            continue
        revoke_leaked_api_token(token=token, url=disclosure.url, origin=origin, request=request)
        revoked += 1
    return revoked
