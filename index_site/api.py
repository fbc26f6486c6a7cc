"""Site-wide JSON endpoints: health checks and the OpenAPI schema of every JSON endpoint."""

from typing import Any

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularJSONAPIView
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from index_site.health import site_health
from index_site.json_api import JsonApiView


class DependencySerializer(serializers.Serializer):
    required = serializers.BooleanField(help_text="Whether the site answers 503 without it.")
    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    error = serializers.CharField(required=False, help_text="The failure's exception class.")


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    dependencies = serializers.DictField(child=DependencySerializer())


class LivenessSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="Always `ok`.")


class HealthView(JsonApiView):
    """Report each dependency (index_site.health); 503 when one the web process needs is down.

    For a load balancer's or proxy's readiness check: a replica answering 503 here answers 503
    to most requests too. The broker is reported but cannot make this 503 (the outbox keeps
    emails until it is back).
    """

    http_method_names = ["get"]

    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request: Request) -> Response:
        report = site_health()
        return Response(
            HealthSerializer(report.as_json()).data, status=200 if report.is_healthy else 503
        )


class LivenessView(JsonApiView):
    """Answer 200 while the process serves requests, touching no dependency.

    For a container's or orchestrator's liveness check: restarting web processes because the
    database is down would not bring it back, and would drop the requests they are serving.
    """

    http_method_names = ["get"]

    @extend_schema(responses={200: LivenessSerializer})
    def get(self, request: Request) -> Response:
        return Response(LivenessSerializer({"status": "ok"}).data)


class SchemaView(SpectacularJSONAPIView):
    """The OpenAPI 3 schema of every JSON endpoint, generated from the views themselves."""

    http_method_names = ["get"]
    # Public, as the endpoints it describes are: no session or credential is read.
    authentication_classes = ()
    permission_classes = ()


def without_slash_aliases(
    endpoints: list[tuple[str, str, str, Any]],
) -> list[tuple[str, str, str, Any]]:
    """drf-spectacular's preprocessing hook: a route served with and without its trailing slash
    (the JSON API, as on PyPI) is one operation in the schema, the one without."""
    paths = {path for path, *_rest in endpoints}
    return [
        endpoint
        for endpoint in endpoints
        if endpoint[0].removesuffix("/") not in paths - {endpoint[0]}
    ]
