"""Verifying a CI provider's JWT: issuer by exact `iss`, its own keys, its algorithms, one audience.

Nothing in the token chooses how it is verified except `iss` (exact match against trusted
issuers) and `kid` (a key of that issuer). `alg` must be one the issuer is configured for and
the key's own algorithm; `jku`, `x5u`, `jwk` and `x5c` are never read.
"""

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
        raise invalid_payload("unknown trusted publishing issuer")
    return issuer


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
        raise invalid_token() from error
