from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


@never_cache
@require_GET
def health(request: HttpRequest) -> HttpResponse:
    """Answer 200 when the database answers, 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any database failure means "unhealthy"
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


def ratelimited(request: HttpRequest, exception: Exception) -> HttpResponse:
    """django-ratelimit's view for a tripped limit: 429 with Retry-After."""
    response = render(
        request,
        "429.html",
        {"message": "Too many attempts. Wait a few minutes and try again."},
        status=429,
    )
    response["Retry-After"] = "300"
    return response
