"""Verifying a CI provider's JWT: issuer by exact `iss`, its own keys, its algorithms, one audience.

Nothing in the token chooses how it is verified except `iss` (exact match against trusted
issuers) and `kid` (a key of that issuer). `alg` must be one the issuer is configured for and
the key's own algorithm; `jku`, `x5u`, `jwk` and `x5c` are never read.
"""

import time
from datetime import UTC, datetime
from typing import Any

import jwt
from django.conf import settings

from publishing.oidc.errors import TokenRequestError, invalid_payload, invalid_token
from publishing.oidc.issuers import Issuer, resolve_issuer
from publishing.oidc.jwks import SigningKeysUnavailableError, get_signing_key

REQUIRED_CLAIMS = ["iss", "iat", "exp", "aud"]


def peek_issuer(token: str) -> Issuer:
    """Find the trusted issuer named by the unverified `iss` claim."""
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise invalid_payload("malformed JWT") from error
    iss = unverified.get("iss")
    if not isinstance(iss, str) or not iss:
        raise invalid_payload("malformed JWT")
    issuer = resolve_issuer(iss)
    if issuer is None:
        # The sender's own claim, echoed back (repr escapes control characters) so a CI engineer
        # sees which issuer URL their provider put in the token; no trusted issuer is named.
        raise invalid_payload(f"unknown trusted publishing issuer {iss[:200]!r}")
    return issuer


def _moment(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _clock_message(claims: dict[str, Any], error: jwt.PyJWTError) -> str | None:
    """Say which time claim refused the token and the server's time, for a skewed CI clock."""
    now = f"server time {_moment(time.time())}; check the CI clock"
    if isinstance(error, jwt.ExpiredSignatureError):
        return f"token expired at {_moment(float(claims['exp']))} ({now})"
    if isinstance(error, jwt.ImmatureSignatureError):
        future = [
            float(claims[name])
            for name in ("nbf", "iat")
            if isinstance(claims.get(name), int | float)
        ]
        return f"token is not valid before {_moment(max(future))} ({now})"
    return None


def _audience_message(claims: dict[str, Any], expected: str) -> str:
    """Say which audience the token carries and which one this index expects."""
    where = "(GET /_/oidc/audience)"
    audience = claims.get("aud")
    if audience is None:
        return f"token has no audience ('aud' claim) but this index expects '{expected}' {where}"
    if isinstance(audience, list):
        return (
            f"audience is a list {audience!r} but this index expects the single audience "
            f"'{expected}' {where}"
        )
    return f"audience is {str(audience)[:200]!r} but this index expects '{expected}' {where}"


def _explain(token: str, issuer: Issuer, error: jwt.PyJWTError) -> TokenRequestError:
    """The refusal for a token whose signature held but whose claims did not.

    PyJWT checks the signature before any claim, so every claim read here was signed by the
    issuer: naming the times and the audience reveals nothing the token's holder lacks.
    """
    if isinstance(error, jwt.InvalidSignatureError | jwt.DecodeError):
        return invalid_token()
    claims = jwt.decode(token, options={"verify_signature": False})
    clock = _clock_message(claims, error)
    if clock is not None:
        return invalid_token(clock)
    if isinstance(error, jwt.MissingRequiredClaimError):
        if error.claim == "aud":
            return invalid_token(_audience_message(claims, issuer.audience))
        return invalid_token(f"token has no '{error.claim}' claim")
    if isinstance(error, jwt.InvalidAudienceError):
        return invalid_token(_audience_message(claims, issuer.audience))
    return invalid_token()


def verify_token(token: str, issuer: Issuer) -> dict[str, Any]:
    """Check signature, issuer, audience and times; return the claims."""
    if not issuer.audience:
        raise TokenRequestError(
            "not-enabled", "trusted publishing functionality not enabled", status=422
        )
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise invalid_token() from error
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or header.get("alg") not in issuer.algorithms:
        raise invalid_token()
    try:
        key = get_signing_key(issuer, kid)
    except SigningKeysUnavailableError:
        raise TokenRequestError(
            "service-unavailable",
            f"the signing keys of {issuer.url} could not be fetched (the issuer is down or too "
            "slow to answer); try again in a minute",
            status=503,
        ) from None
    if key is None:
        raise invalid_token()
    try:
        return jwt.decode(
            token,
            key=key,
            algorithms=list(issuer.algorithms),
            audience=issuer.audience,
            issuer=issuer.url,
            leeway=settings.OIDC_LEEWAY,
            options={
                "require": REQUIRED_CLAIMS,
                "strict_aud": True,
                "verify_signature": True,
                "verify_exp": True,
                "verify_nbf": True,
                "verify_iat": True,
                "verify_aud": True,
                "verify_iss": True,
            },
        )
    except jwt.PyJWTError as error:
        raise _explain(token, issuer, error) from error
