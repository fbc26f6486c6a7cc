"""Token pages: session-authenticated, re-authenticated, 2FA.

The pages never accept a token: they are session views that need a second factor and a fresh
authentication (`protected`). The token-authenticated endpoints (leak reports, self-revocation) are
JSON views in `tokens.api`.
"""

from typing import cast

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.models import User
from accounts.protection import Need, protected
from accounts.selectors import verified_primary_email_for_user
from index_site.single_values import single_query_value
from tokens import selectors, services
from tokens.exceptions import (
    TokenCreationError,
    TokenCreationLimitedError,
)
from tokens.forms import TokenCreateForm


def _user(request: HttpRequest) -> User:
    # The decorators above every page let only logged-in users through.
    return cast(User, request.user)


@protected(Need.SECOND_FACTOR, Need.FRESH_AUTH)
@require_http_methods(["GET"])
def token_list(request: HttpRequest) -> HttpResponse:
    tokens = list(selectors.tokens_for_user(_user(request)))
    return render(request, "tokens/list.html", {"tokens": tokens, "now": timezone.now()})


@never_cache
@protected(Need.SECOND_FACTOR, Need.FRESH_AUTH)
@require_http_methods(["GET", "POST"])
def token_create(request: HttpRequest) -> HttpResponse:
    has_verified_email = verified_primary_email_for_user(_user(request)) is not None
    initial = {}
    selected = single_query_value(request.GET, "selected_project")
    if selected.isdigit():
        initial = {"scope": "projects", "projects": [int(selected)]}
    form = TokenCreateForm(request.POST or None, user=_user(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = services.create_api_token(
                user=_user(request),
                name=form.cleaned_data["name"],
                project_ids=form.project_ids,
                expires_at=form.expires_at,
                ip_networks=form.networks,
                actor=_user(request),
                request=request,
            )
        except TokenCreationLimitedError as error:
            response = render(request, "429.html", {"message": error.message}, status=429)
            response["Retry-After"] = "3600"
            return response
        except TokenCreationError as error:
            form.add_error(error.field, error.message)
        else:
            # Shown in this response only; nothing keeps the secret after it is sent.
            return render(
                request,
                "tokens/created.html",
                {
                    "token": token,
                    "raw_token": raw,
                    "upload_url": f"{settings.SITE_URL}/legacy/",
                    "repository_name": settings.SITE_HOST,
                },
            )
    return render(
        request,
        "tokens/create.html",
        {
            "form": form,
            "has_verified_email": has_verified_email,
            "verify_message": services.VERIFY_EMAIL_MESSAGE,
        },
    )


@protected(Need.SECOND_FACTOR, Need.FRESH_AUTH)
@require_http_methods(["GET", "POST"])
def token_revoke(request: HttpRequest, token_id) -> HttpResponse:
    # Only the user's own tokens: another user's id is a 404, and nothing is deleted.
    token = selectors.get_token_for_user(_user(request), token_id)
    if token is None:
        raise Http404("No such token.")
    if request.method == "POST":
        name = token.name
        services.revoke_api_token(
            token=token, actor=_user(request), reason="revoked by its owner", request=request
        )
        messages.success(request, f"Revoked the API token '{name}'. It no longer works.")
        return redirect("tokens:list")
    return render(request, "tokens/revoke.html", {"token": token})
