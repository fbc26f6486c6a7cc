"""The token-authenticated JSON endpoints: leak reports and self-revocation (DRF).

Neither takes a session: a secret-scanning report proves itself with an ECDSA signature over
its body, self-revocation with the token in the Authorization header. So both are CSRF-exempt
(DRF views are) and a logged-in browser cannot make either act.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from index_site.json_api import JsonApiView, JSONBodyRefused, MessageSerializer, RawBodyParser
from tokens import disclosure, services
from tokens.authentication import INVALID_TOKEN_PREFIX, token_from_header
from tokens.exceptions import TokenAuthenticationError
from tokens.macaroons import NOT_FOUND, find_authentic_token

SIGNED_REPORTS_ONLY = "This endpoint accepts signed secret-scanning reports only."


class DisclosedTokenSerializer(serializers.Serializer):
    """One record of a report (GitHub secret scanning's format)."""

    token = serializers.CharField(help_text="The token found in public.")
    type = serializers.CharField(required=False, help_text="The scanner's name for the token kind.")
    url = serializers.CharField(required=False, help_text="Where the token was found.")
    source = serializers.CharField(required=False, help_text="Where the scanner looked.")


SIGNATURE_HEADERS = [
    OpenApiParameter(
        "Github-Public-Key-Identifier",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=True,
        description="The id of the scanner's key in SECRET_SCANNING_PUBLIC_KEYS.",
    ),
    OpenApiParameter(
        "Github-Public-Key-Signature",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=True,
        description="base64 of the DER ECDSA-SHA256 signature of the exact body.",
    ),
]


class DiscloseTokenView(JsonApiView):
    """Secret-scanning reports: 404 without signature headers, 400 when forged, else 204.

    GitHub's format. In-house scanners use the same endpoint and format: an admin adds the
    scanner's ECDSA P-256 public key to SECRET_SCANNING_PUBLIC_KEYS under an id of their choice,
    and the scanner signs each body with it (headers `Github-Public-Key-Identifier: <id>`,
    `Github-Public-Key-Signature: base64(DER signature)`).
    """

    http_method_names = ["post"]
    # The signature covers the exact bytes: the body is verified before it is parsed.
    parser_classes = (RawBodyParser,)
    max_body_bytes = disclosure.MAX_REPORT_BYTES

    @extend_schema(
        parameters=SIGNATURE_HEADERS,
        request=DisclosedTokenSerializer(many=True),
        responses={
            204: None,
            400: MessageSerializer,
            404: MessageSerializer,
            413: MessageSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        key_id = request.headers.get("Github-Public-Key-Identifier", "")
        signature = request.headers.get("Github-Public-Key-Signature", "")
        if not key_id or not signature:
            return self.refusal(status=404, code="unsigned", message=SIGNED_REPORTS_ONLY)
        try:
            body = request.data if request.stream is not None else b""
        except JSONBodyRefused as refused:
            return self.refusal(status=413, code="too-large", message=refused.error.message)
        try:
            disclosure.verify_signature(body=body, key_id=key_id, signature=signature)
            disclosures = disclosure.parse_disclosures(body)
        except disclosure.DisclosureError as error:
            return self.refusal(
                status=400, code="refused", message=f"The report was refused: {error}."
            )
        disclosure.revoke_disclosed(
            disclosures, origin="a secret-scanning service", request=request._request
        )
        return Response(status=204)


class CurrentTokenView(JsonApiView):
    """The token in the Authorization header: `DELETE /_/tokens/current` revokes it."""

    http_method_names = ["delete"]

    @extend_schema(
        # Each item is emitted as a security requirement object, though typed as a name.
        auth=[{"apiToken": []}],  # type: ignore[list-item]
        responses={204: None, 401: MessageSerializer, 403: MessageSerializer},
    )
    def delete(self, request: Request) -> Response:
        try:
            raw = token_from_header(request._request)
        except TokenAuthenticationError as error:
            return self.refusal(status=error.status, code="invalid-auth", message=error.message)
        token = find_authentic_token(raw)
        if token is None:
            return self.refusal(
                status=403, code="invalid-token", message=f"{INVALID_TOKEN_PREFIX}{NOT_FOUND}"
            )
        services.revoke_api_token(
            token=token,
            actor=token.user,
            reason="revoked with the token itself",
            request=request._request,
        )
        return Response(status=204)
