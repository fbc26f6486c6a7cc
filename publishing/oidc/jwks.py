"""Each issuer's signing keys, from its JWKS, cached in the Django cache (Redis in production).

Keys come only from the issuer's own discovery document (or a JWKS an admin pinned), never
from a token's `jku`/`x5u`/`jwk`/`x5c` headers (RFC 8725 §3.10). The cached key set records when
it was fetched. It is fetched again when it is older than OIDC_JWKS_MAX_AGE (so a key the issuer
removed stops verifying) or when a token names an unknown `kid`; at most one refresh per
OIDC_JWKS_REFRESH_INTERVAL per issuer. A failed refresh keeps the cached keys, so tokens keep
verifying while the issuer is down: stale keys are served only then.

An issuer that is down or hangs costs at most OIDC_JWKS_TIMEOUT, once per refresh interval: the
whole fetch (discovery and key set, each read included) shares that one deadline, and only the
request that wins the refresh waits for it. A token naming a key that is not cached while the
issuer cannot be reached raises SigningKeysUnavailableError (the client is told to retry), not
"invalid token": the key may well be the issuer's newest.
"""

import hashlib
import json
import logging
import time

import requests
from django.conf import settings
from django.core.cache import cache
from jwt import PyJWK
from jwt.exceptions import PyJWTError

from publishing.oidc.issuers import Issuer

logger = logging.getLogger(__name__)

MAX_JWKS_BYTES = 256 * 1024


def _cache_key(issuer_url: str, suffix: str) -> str:
    digest = hashlib.sha256(issuer_url.encode()).hexdigest()
    return f"publishing:oidc:jwks:{digest}:{suffix}"


class SigningKeysUnavailableError(Exception):
    """The issuer's keys could not be fetched, and the key asked for is not among those cached."""


def _get_json(url: str, *, deadline: float) -> dict:
    """GET a JSON object, all of it before `deadline` (time.monotonic): a server that answers
    a byte at a time cannot stretch one read timeout into minutes."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise requests.Timeout("no time left to fetch the issuer's keys")
    response = requests.get(url, timeout=remaining, allow_redirects=False, stream=True)
    try:
        response.raise_for_status()
        body = b""
        for chunk in response.iter_content(16 * 1024):
            body += chunk
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError("response too large")
            if time.monotonic() > deadline:
                raise requests.Timeout("the issuer answered too slowly")
    finally:
        response.close()
    data = json.loads(body)
    if not isinstance(data, dict):
        raise TypeError("not a JSON object")
    return data


def fetch_jwks(issuer_url: str) -> dict[str, dict]:
    """Fetch the issuer's keys through OpenID discovery; return them by `kid`.

    Discovery and key set together take at most OIDC_JWKS_TIMEOUT seconds.
    """
    deadline = time.monotonic() + settings.OIDC_JWKS_TIMEOUT
    discovery = _get_json(
        f"{issuer_url.rstrip('/')}/.well-known/openid-configuration", deadline=deadline
    )
    # OIDC Discovery §4.3: the document must name the issuer it was fetched for.
    if discovery.get("issuer") != issuer_url:
        raise ValueError("discovery document names another issuer")
    jwks_uri = discovery.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not jwks_uri.startswith("https://"):
        raise ValueError("jwks_uri is missing or not https")
    return keys_by_kid(_get_json(jwks_uri, deadline=deadline))


def keys_by_kid(jwks: dict) -> dict[str, dict]:
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list):
        return {}
    return {
        key["kid"]: key
        for key in keys
        if isinstance(key, dict) and isinstance(key.get("kid"), str) and key.get("kty") != "oct"
    }


def _cached_keys(issuer: Issuer, kid: str) -> dict[str, dict]:
    if issuer.pinned_jwks is not None:
        return keys_by_kid(issuer.pinned_jwks)
    # The entry never expires from the cache: stale keys are the fallback while the issuer
    # is down. Its `fetched_at` decides when it is too old to use without trying a refresh.
    keyset_key = _cache_key(issuer.url, "keyset")
    cached = cache.get(keyset_key)
    keys: dict[str, dict] = {}
    fetched_at = 0.0
    if isinstance(cached, dict):
        keys = cached.get("keys") or {}
        fetched_at = float(cached.get("fetched_at") or 0)
    is_fresh = time.time() - fetched_at < settings.OIDC_JWKS_MAX_AGE
    if kid in keys and is_fresh:
        return keys
    # cache.add is atomic (SET NX in Redis): one refresh per interval across all web replicas.
    if not cache.add(_cache_key(issuer.url, "cooldown"), 1, settings.OIDC_JWKS_REFRESH_INTERVAL):
        if kid not in keys and cache.get(_cache_key(issuer.url, "unreachable")):
            raise SigningKeysUnavailableError(issuer.url)
        return keys
    fetched = _refresh(issuer, kid, keys)
    if not fetched:
        return keys
    cache.set(keyset_key, {"fetched_at": time.time(), "keys": fetched}, None)
    return fetched


def _refresh(issuer: Issuer, kid: str, keys: dict[str, dict]) -> dict[str, dict]:
    """Fetch the issuer's keys; {} when it published none usable (the cached ones stay).

    While the issuer cannot be reached, an "unreachable" mark lasts until the next refresh, so
    a key that is not cached is "unavailable" until then, not "unknown".
    """
    unreachable_key = _cache_key(issuer.url, "unreachable")
    try:
        fetched = fetch_jwks(issuer.url)
    except requests.RequestException as error:
        # Down, hanging or failing: the token may be fine, the client should retry.
        logger.warning("Could not reach OIDC issuer %s for its keys: %s", issuer.url, error)
        cache.set(unreachable_key, 1, settings.OIDC_JWKS_REFRESH_INTERVAL)
        if kid not in keys:
            raise SigningKeysUnavailableError(issuer.url) from error
        return {}
    except (ValueError, TypeError) as error:
        # Reached, but what it published cannot be trusted: an uncached key stays unknown.
        logger.warning("Could not refresh the keys of OIDC issuer %s: %s", issuer.url, error)
        return {}
    cache.delete(unreachable_key)
    if not fetched:
        logger.warning("OIDC issuer %s published no usable keys; keeping cached ones", issuer.url)
    return fetched


def get_signing_key(issuer: Issuer, kid: str) -> PyJWK | None:
    """Return the issuer's key `kid` bound to its one algorithm, or None if it has none.

    Raise SigningKeysUnavailableError when `kid` is not cached and the issuer cannot be reached.
    """
    jwk = _cached_keys(issuer, kid).get(kid)
    if jwk is None:
        return None
    try:
        key = PyJWK(jwk)
    except PyJWTError:
        logger.warning("OIDC issuer %s published an unusable key %r", issuer.url, kid)
        return None
    if key.algorithm_name not in issuer.algorithms:
        return None
    return key
