"""The trusted-publishing JSON endpoints CI clients call (uv, twine, gh-action-pypi-publish).

`GET /_/oidc/audience`, `POST /_/oidc/mint-token` (also `/_/oidc/github/mint-token`) and
`POST /_/oidc/burn-token`. CSRF-exempt on purpose: they take no cookies and authenticate by
the posted token alone. Error bodies are PyPI's, so the clients print them.
"""

import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_ratelimit.decorators import ratelimit

from index_site.json_body import (
    MAX_JSON_BODY_BYTES,
    JSONBodyError,
    JSONBodyProblem,
    read_json_object,
)
from index_site.outages import RETRY_AFTER_SECONDS
from publishing import services
from publishing.oidc.errors import TokenRequestError, invalid_payload
from publishing.selectors import trusted_publishing_disabled_reason

logger = logging.getLogger(__name__)

# A CI JWT is a few kilobytes; anything much larger is refused before parsing.
MAX_BODY_BYTES = MAX_JSON_BODY_BYTES


def _rate(group: str, request: HttpRequest) -> str:
    return settings.OIDC_MINT_RATE_LIMIT


def _failure(error: TokenRequestError) -> JsonResponse:
    # The operator's copy of the refusal: its code and the sentence the client got (claims the
    # token proved, never the token), on the request's JSON log line.
    logger.info(
        "token request refused",
        extra={"code": error.code, "reason": error.message, "status": error.status},
    )
    response = JsonResponse(
        {
            "message": "Token request failed",
            "errors": [{"code": error.code, "description": error.message}],
        },
        status=error.status,
    )
    if error.status == 503:
        # Something this depends on is down (the replay store, an issuer's keys): retry soon.
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _too_many() -> JsonResponse:
    response = JsonResponse(
        {
            "message": "Token request failed",
            "errors": [
                {
                    "code": "rate-limited",
                    "description": "too many token requests from this address; "
                    "wait a minute and try again",
                }
            ],
        },
        status=429,
    )
    response["Retry-After"] = "60"
    return response


def _posted_token(request: HttpRequest) -> str:
    """The `token` string of a `{"token": "..."}` body, or TokenRequestError."""
    try:
        payload = read_json_object(request, max_bytes=MAX_BODY_BYTES)
    except JSONBodyError as error:
        if error.problem is JSONBodyProblem.NOT_JSON:
            raise invalid_payload('the request body must be JSON: {"token": "<JWT>"}') from None
        if error.problem is not JSONBodyProblem.NOT_AN_OBJECT:
            raise invalid_payload(error.message) from None
        payload = {}
    if set(payload) != {"token"}:
        raise invalid_payload('the request body must be exactly {"token": "<JWT>"}')
    token = payload["token"]
    if not isinstance(token, str) or not token:
        raise invalid_payload("'token' must be a non-empty string")
    return token


@never_cache
@require_GET
def audience(request: HttpRequest) -> JsonResponse:
    """The audience CI providers must put in the JWT."""
    if not settings.OIDC_AUDIENCE:
        return JsonResponse(
            {"message": "Trusted publishing is not configured on this index."}, status=404
        )
    if trusted_publishing_disabled_reason():
        return JsonResponse({"message": "Trusted publishing functionality not enabled"}, status=403)
    return JsonResponse({"audience": settings.OIDC_AUDIENCE})


@csrf_exempt
@never_cache
@require_POST
@ratelimit(key="ip", rate=_rate, group="publishing:oidc:mint", block=False)
def mint_token(request: HttpRequest) -> JsonResponse:
    """Exchange a CI JWT for a 15-minute upload token."""
    if getattr(request, "limited", False):
        return _too_many()
    try:
        minted = services.mint_publisher_token(raw_token=_posted_token(request), request=request)
    except TokenRequestError as error:
        return _failure(error)
    return JsonResponse({"success": True, "token": minted.token, "expires": minted.expires})


@csrf_exempt
@never_cache
@require_POST
@ratelimit(key="ip", rate=_rate, group="publishing:oidc:burn", block=False)
def burn_token(request: HttpRequest) -> JsonResponse:
    """Revoke a minted token at once (uv calls this after every publish run)."""
    if getattr(request, "limited", False):
        return _too_many()
    try:
        services.burn_publisher_token(raw_token=_posted_token(request), request=request)
    except TokenRequestError as error:
        return _failure(error)
    return JsonResponse({"success": True}, status=202)
