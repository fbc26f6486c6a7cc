"""The trusted-publishing JSON endpoints CI clients call (uv, twine, gh-action-pypi-publish).

`GET /_/oidc/audience`, `POST /_/oidc/mint-token` (also `/_/oidc/github/mint-token`) and
`POST /_/oidc/burn-token`. CSRF-exempt (DRF views are) on purpose: they take no cookies and
authenticate by the posted token alone. Error bodies are PyPI's, so the clients print them.
"""

import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import is_ratelimited
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from index_site.json_api import JsonApiView, JSONBodyRefused, MessageSerializer
from index_site.json_body import JSONBodyProblem
from index_site.outages import RETRY_AFTER_SECONDS
from publishing import services
from publishing.oidc.errors import TokenRequestError, invalid_payload
from publishing.selectors import trusted_publishing_disabled_reason

logger = logging.getLogger(__name__)

NOT_JSON = 'the request body must be JSON: {"token": "<JWT>"}'
NOT_EXACTLY_A_TOKEN = 'the request body must be exactly {"token": "<JWT>"}'  # noqa: S105 - a message
RATE_LIMITED = "too many token requests from this address; wait a minute and try again"
RATE_LIMIT_WINDOW_SECONDS = 60


class TokenRequestSerializer(serializers.Serializer):
    """`{"token": "<JWT>"}` and nothing else: the body of mint-token and burn-token."""

    token = serializers.CharField(help_text="The CI provider's OIDC token (a JWT).")

    def to_internal_value(self, data: Any) -> dict[str, str]:
        # Exactly one key, a non-empty string: a lenient reader would turn `{"token": 5}` into
        # "5" or let a second key ride along unseen.
        if not isinstance(data, dict) or set(data) != {"token"}:
            raise serializers.ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: NOT_EXACTLY_A_TOKEN}
            )
        token = data["token"]
        if not isinstance(token, str) or not token:
            raise serializers.ValidationError({"token": "'token' must be a non-empty string"})
        return {"token": token}


class MintedTokenSerializer(serializers.Serializer):
    success = serializers.BooleanField(help_text="Always true.")
    token = serializers.CharField(help_text="The upload token: the password for `__token__`.")
    expires = serializers.IntegerField(help_text="When the token stops working (Unix time).")


class BurnedTokenSerializer(serializers.Serializer):
    success = serializers.BooleanField(help_text="Always true.")


class TokenRequestErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="PyPI's error code, such as `invalid-publisher`.")
    description = serializers.CharField(help_text="What went wrong and what to fix.")


class TokenRequestFailureSerializer(serializers.Serializer):
    message = serializers.CharField(help_text="Always `Token request failed`.")
    errors = TokenRequestErrorSerializer(many=True)


class AudienceSerializer(serializers.Serializer):
    audience = serializers.CharField(help_text="The `aud` CI providers must put in the JWT.")


def _rate(group: str, request: HttpRequest) -> str:
    return settings.OIDC_MINT_RATE_LIMIT


class ClientIpRateThrottle(BaseThrottle):
    """OIDC_MINT_RATE_LIMIT per client IP, counted in the shared cache (django-ratelimit).

    Each view counts in its own `rate_limit_group`, as the decorator did before these were
    DRF views, so mint-token and burn-token do not share a budget.
    """

    def allow_request(self, request: Request, view: APIView) -> bool:
        return not is_ratelimited(
            request._request,
            group=view.rate_limit_group,  # type: ignore[attr-defined]  # set by each view below
            key="ip",
            rate=_rate,
            increment=True,
        )

    def wait(self) -> float:
        return RATE_LIMIT_WINDOW_SECONDS


class TrustedPublishingView(JsonApiView):
    """A POST of `{"token": ...}`, rate limited per IP, refused in PyPI's shape.

    Every refusal is `{"message": "Token request failed", "errors": [{"code", "description"}]}`.
    """

    http_method_names = ["post"]
    throttle_classes = (ClientIpRateThrottle,)

    def refusal(self, *, status: int, code: str, message: str) -> Response:
        body = {
            "message": "Token request failed",
            "errors": [{"code": code, "description": message}],
        }
        return Response(TokenRequestFailureSerializer(body).data, status=status)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, JSONBodyRefused):
            exc = invalid_payload(
                NOT_JSON if exc.error.problem is JSONBodyProblem.NOT_JSON else exc.error.message
            )
        if isinstance(exc, TokenRequestError):
            # The operator's copy of the refusal: its code and the sentence the client got
            # (claims the token proved, never the token), on the request's JSON log line.
            logger.info(
                "token request refused",
                extra={"code": exc.code, "reason": exc.message, "status": exc.status},
            )
            response = self.refusal(status=exc.status, code=exc.code, message=exc.message)
            if exc.status == 503:
                # Something this depends on is down (the replay store, an issuer's keys).
                response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        if isinstance(exc, serializers.ValidationError):
            return self.handle_exception(invalid_payload(_first_message(exc.detail)))
        if isinstance(exc, Throttled):
            response = self.refusal(status=429, code="rate-limited", message=RATE_LIMITED)
            response["Retry-After"] = str(RATE_LIMIT_WINDOW_SECONDS)
            return response
        return super().handle_exception(exc)

    def posted_token(self, request: Request) -> str:
        """The `token` of a `{"token": "..."}` body; raise for anything else."""
        if request.stream is None:
            # No body at all: the same sentence as a body that is not JSON.
            raise invalid_payload(NOT_JSON)
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data["token"]


def _first_message(detail: Any) -> str:
    while isinstance(detail, list | dict):
        detail = next(iter(detail.values() if isinstance(detail, dict) else detail))
    return str(detail)


class AudienceView(JsonApiView):
    """The audience CI providers must put in the JWT."""

    http_method_names = ["get"]

    @extend_schema(
        responses={200: AudienceSerializer, 403: MessageSerializer, 404: MessageSerializer},
    )
    def get(self, request: Request) -> Response:
        if not settings.OIDC_AUDIENCE:
            return self.refusal(
                status=404,
                code="not-configured",
                message="Trusted publishing is not configured on this index.",
            )
        if trusted_publishing_disabled_reason():
            return self.refusal(
                status=403,
                code="not-enabled",
                message="Trusted publishing functionality not enabled",
            )
        return Response(AudienceSerializer({"audience": settings.OIDC_AUDIENCE}).data)


REFUSALS = {
    422: TokenRequestFailureSerializer,
    429: TokenRequestFailureSerializer,
    503: TokenRequestFailureSerializer,
}


class MintTokenView(TrustedPublishingView):
    """Exchange a CI JWT for a 15-minute upload token."""

    rate_limit_group = "publishing:oidc:mint"

    @extend_schema(
        request=TokenRequestSerializer,
        responses={200: MintedTokenSerializer, **REFUSALS},
    )
    def post(self, request: Request) -> Response:
        minted = services.mint_publisher_token(
            raw_token=self.posted_token(request), request=request._request
        )
        body = {"success": True, "token": minted.token, "expires": minted.expires}
        return Response(MintedTokenSerializer(body).data)


class BurnTokenView(TrustedPublishingView):
    """Revoke a minted token at once (uv calls this after every publish run)."""

    rate_limit_group = "publishing:oidc:burn"

    @extend_schema(
        request=TokenRequestSerializer,
        responses={202: BurnedTokenSerializer, **REFUSALS},
    )
    def post(self, request: Request) -> Response:
        services.burn_publisher_token(
            raw_token=self.posted_token(request), request=request._request
        )
        return Response(BurnedTokenSerializer({"success": True}).data, status=202)
