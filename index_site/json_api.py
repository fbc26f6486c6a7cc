"""The base of the site's JSON endpoints (Django REST framework): one way to read, answer, refuse.

Every JSON endpoint is a `JsonApiView`. It reads bodies with the site's one JSON reader
(`index_site.json_body`: size cap before reading, nesting limit, one value per key, storable
text), always answers JSON whatever the client's Accept or Content-Type says (CI clients send
`*/*` or nothing), never caches, and turns every refusal into the endpoint's own error body.

DRF authenticates nobody here: no authentication or permission classes, so a session cookie
never reaches these views and nothing relies on DRF's CSRF handling. Each endpoint proves its
caller itself (an API token in the header, an OIDC token or a signature in the body).
"""

from typing import Any

from django.utils.cache import add_never_cache_headers
from rest_framework import exceptions, serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from index_site.json_body import MAX_JSON_BODY_BYTES, JSONBodyError, parse_json, read_body


class JSONBodyRefused(exceptions.ParseError):
    """The body is not JSON the site reads; `error` is the reader's refusal."""

    def __init__(self, error: JSONBodyError) -> None:
        super().__init__(detail=error.message)
        self.error = error


class RawBodyParser(BaseParser):
    """The body's exact bytes, read within the view's `max_body_bytes`: for signed bodies."""

    media_type = "application/json"

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        context = parser_context or {}
        max_bytes = getattr(context.get("view"), "max_body_bytes", MAX_JSON_BODY_BYTES)
        try:
            # The declared length is checked before anything is read, so a large body costs
            # no memory; DRF's stream is the same Django request underneath.
            return self.read(read_body(context["request"]._request, max_bytes=max_bytes))
        except JSONBodyError as error:
            raise JSONBodyRefused(error) from None

    def read(self, body: bytes) -> Any:
        return body


class LimitedJSONParser(RawBodyParser):
    """The body as a JSON value, read within the view's `max_body_bytes` (`parse_json` rules)."""

    def read(self, body: bytes) -> Any:
        return parse_json(body)


class ClientJSONRenderer(JSONRenderer):
    """JSON spelled as the endpoints always answered it: `{"code": "x"}`, ASCII only.

    Clients show these bodies verbatim (uv prints a refused mint-token's body), and scripts and
    tests around them match on that text; DRF's compact spelling would change every byte.
    """

    compact = False
    ensure_ascii = True


class JSONOnlyNegotiation(BaseContentNegotiation):
    """Read every body with the view's parser and answer with its renderer, whatever the headers.

    The clients of these endpoints send `Accept: */*` or none, and some post JSON without a
    JSON Content-Type; refusing them with 406 or 415 would break uploads that work today.
    """

    def select_parser(self, request: Request, parsers: list[BaseParser]) -> BaseParser:
        return parsers[0]

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        return renderers[0], renderers[0].media_type


class MessageSerializer(serializers.Serializer):
    """The refusal body of the site's own JSON endpoints."""

    message = serializers.CharField(help_text="Why the request was refused, as a sentence.")


class JsonApiView(APIView):
    """A JSON endpoint: explicit methods, the site's body limits, its own error body."""

    authentication_classes = ()
    permission_classes = ()
    parser_classes = (LimitedJSONParser,)
    renderer_classes = (ClientJSONRenderer,)
    content_negotiation_class = JSONOnlyNegotiation
    # No DRF metadata pages: a view lists its methods in `http_method_names`, and any other
    # method, OPTIONS included, answers 405.
    metadata_class = None
    max_body_bytes = MAX_JSON_BODY_BYTES

    def refusal(self, *, status: int, code: str, message: str) -> Response:
        """The body of every refusal this endpoint answers; subclasses use their clients' shape."""
        return Response(MessageSerializer({"message": message}).data, status=status)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, exceptions.MethodNotAllowed):
            allowed = ", ".join(self.allowed_methods)
            return self.refusal(
                status=405,
                code="method-not-allowed",
                message=f"This endpoint does not answer {self.request.method}; send {allowed}.",
            )
        if isinstance(exc, exceptions.APIException):
            return self.refusal(status=exc.status_code, code=str(exc.get_codes()), message=str(exc))
        # Anything else (a database or cache outage) goes on to Django: OutageMiddleware
        # answers it with a 503.
        return super().handle_exception(exc)

    def finalize_response(
        self, request: Request, response: Any, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)
        return response
