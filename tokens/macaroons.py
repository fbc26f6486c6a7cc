"""Minting and verifying the macaroon inside a token string.

A token is `<TOKEN_PREFIX>-` followed by the unpadded base64url of a pymacaroons V2 macaroon.
Its identifier is the ApiToken row's UUID, its location the site's host. The root key is
HMAC-SHA256(TOKEN_SECRETS[row.key_id], row.id): derived on demand, never stored, so a copy of the
database alone can neither verify nor mint a token, and the secret can rotate by key id.
"""

import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.views.decorators.debug import sensitive_variables
from pymacaroons import MACAROON_V2, Macaroon, Verifier
from pymacaroons.exceptions import MacaroonInvalidSignatureException

from tokens import caveats as caveat_types
from tokens.exceptions import CaveatError, TokenVerificationError
from tokens.models import ApiToken
from tokens.selectors import token_with_owner

# Far above a real token (a few hundred characters, more with a long attenuation chain) and far
# below anything that costs to parse: longer strings are refused before base64 or JSON decoding.
MAX_TOKEN_LENGTH = 4096
MAX_CAVEATS = 32
_BODY_RE = re.compile(r"[A-Za-z0-9_-]+\Z")

MALFORMED = "malformed macaroon"
NOT_FOUND = "deleted or nonexistent macaroon"
BAD_SIGNATURE = "signatures do not match"


@dataclass
class VerifiedToken:
    """A token whose signature and caveats checked out."""

    token: ApiToken
    projects: caveat_types.ProjectConstraints
    is_attenuated: bool


def serialize_caveat(caveat: list[Any]) -> str:
    return json.dumps(caveat, separators=(",", ":"), allow_nan=False)


@sensitive_variables()
def derive_root_key(*, key_id: str, token_id: uuid.UUID) -> bytes:
    """The token's root key: HMAC-SHA256 of its id under the server secret `key_id`."""
    secret = settings.TOKEN_SECRETS.get(key_id)
    if not secret:
        # The secret was retired: every token signed with it is dead.
        raise TokenVerificationError("token was signed with a retired key")
    return hmac.new(str(secret).encode(), str(token_id).encode(), hashlib.sha256).digest()


def mint_token(*, token: ApiToken) -> str:
    """The token string for `token`, carrying its issued caveats."""
    macaroon = Macaroon(
        location=settings.SITE_HOST,
        identifier=str(token.id),
        key=derive_root_key(key_id=token.key_id, token_id=token.id),
        version=MACAROON_V2,
    )
    for caveat in token.caveats:
        macaroon.add_first_party_caveat(serialize_caveat(caveat))
    return f"{settings.TOKEN_PREFIX}-{macaroon.serialize()}"


@sensitive_variables()
def parse_token(raw: str) -> tuple[Macaroon, uuid.UUID]:
    """Check the format cheaply, then deserialize; return the macaroon and its token id.

    Any failure is TokenVerificationError: pymacaroons raises assorted generic exceptions on
    garbage (ecordell/pymacaroons#50), so every one of them means "malformed".
    """
    prefix = f"{settings.TOKEN_PREFIX}-"
    if len(raw) > MAX_TOKEN_LENGTH or not raw.startswith(prefix):
        raise TokenVerificationError(MALFORMED)
    body = raw[len(prefix) :]
    if not _BODY_RE.match(body):
        raise TokenVerificationError(MALFORMED)
    try:
        macaroon = Macaroon.deserialize(body)
        identifier = macaroon.identifier_bytes.decode("utf-8")
        version = macaroon.version
        # One encoding per token: unused base64 bits or non-minimal lengths that decode to the
        # same bytes are refused, so any change to the string is a different, failing token.
        canonical = macaroon.serialize() == body
        location = macaroon.location
    except Exception as exc:  # pymacaroons raises anything on garbage
        raise TokenVerificationError(MALFORMED) from exc
    if version != MACAROON_V2 or not canonical:
        raise TokenVerificationError(MALFORMED)
    if location not in settings.TOKEN_LOCATIONS:
        # The location is not covered by the signature; only the locations this index issues
        # are accepted, so the string cannot be altered there either.
        raise TokenVerificationError("token was not issued by this index")
    try:
        token_id = uuid.UUID(identifier)
    except ValueError as exc:
        raise TokenVerificationError(NOT_FOUND) from exc
    if str(token_id) != identifier:
        # One spelling per token: no braces, upper case or URN forms of the same id.
        raise TokenVerificationError(NOT_FOUND)
    return macaroon, token_id


def _check_signature(macaroon: Macaroon, key: bytes) -> None:
    verifier = Verifier()
    # Caveats are judged afterwards, one by one, so the reason can be reported; here only the
    # HMAC chain over the identifier and every caveat is checked.
    verifier.satisfy_general(lambda _predicate: True)
    try:
        verifier.verify(macaroon, key)
    except MacaroonInvalidSignatureException as exc:
        raise TokenVerificationError(BAD_SIGNATURE) from exc
    except Exception as exc:  # pymacaroons raises anything on garbage
        raise TokenVerificationError(MALFORMED) from exc


@sensitive_variables()
def verify_token(raw: str, *, client_ip: str, now: int) -> VerifiedToken:
    """Verify a token string completely, except project caveats, which are collected.

    One indexed query (the row by primary key, with its user). The server's issued caveats are
    appended to the presented macaroon, so they bind even when the holder stripped them; caveats
    the holder added (attenuation) are verified too, so they can only narrow.
    """
    macaroon, token_id = parse_token(raw)
    if macaroon.third_party_caveats():
        raise TokenVerificationError("third-party caveats are not supported")
    presented = [caveat.caveat_id_bytes for caveat in macaroon.first_party_caveats()]
    if len(presented) > MAX_CAVEATS:
        raise TokenVerificationError(MALFORMED)

    token = token_with_owner(token_id)
    if token is None:
        raise TokenVerificationError(NOT_FOUND)
    key = derive_root_key(key_id=token.key_id, token_id=token.id)

    issued = [serialize_caveat(caveat) for caveat in token.caveats]
    for caveat in issued:
        macaroon.add_first_party_caveat(caveat)
    _check_signature(macaroon, key)

    # From here the token is authentic: reasons may be reported and recorded for its owner.
    if token.user is not None and not token.user.is_active:
        raise TokenVerificationError("the account that owns this token is disabled", token=token)
    context = caveat_types.VerificationContext(
        now=now, user_id=token.user_id, publisher_id=token.publisher_id, client_ip=client_ip
    )
    projects = caveat_types.ProjectConstraints()
    reasons: list[str] = []
    for raw_caveat in [*presented, *(caveat.encode() for caveat in issued)]:
        try:
            caveat_types.deserialize(raw_caveat).verify(context, projects)
        except CaveatError as exc:
            if exc.reason not in reasons:
                reasons.append(exc.reason)
    if reasons:
        raise TokenVerificationError(", ".join(reasons), token=token)
    issued_bytes = {caveat.encode() for caveat in issued}
    return VerifiedToken(
        token=token,
        projects=projects,
        is_attenuated=any(caveat not in issued_bytes for caveat in presented),
    )


@sensitive_variables()
def find_authentic_token(raw: str) -> ApiToken | None:
    """The row of a token whose signature checks, whatever its caveats say; else None.

    For revocation (leak reports, self-revocation): a token that has expired or is bound to
    other addresses is still a leaked credential worth revoking, but a forgery revokes nothing.
    """
    try:
        macaroon, token_id = parse_token(raw)
        if macaroon.third_party_caveats():
            return None
        token = token_with_owner(token_id)
        if token is None:
            return None
        for caveat in token.caveats:
            macaroon.add_first_party_caveat(serialize_caveat(caveat))
        _check_signature(macaroon, derive_root_key(key_id=token.key_id, token_id=token.id))
    except TokenVerificationError:
        return None
    return token
