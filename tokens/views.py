"""Token pages (session-authenticated, re-authenticated, 2FA) and the token-authenticated
endpoints: leak reports and self-revocation.

The pages never accept a token: they are session views behind `require_reauth` and
`require_two_factor`. Only two views are CSRF-exempt, each because its caller is not a browser
and proves itself otherwise: the secret-scanning webhook (ECDSA signature) and self-revocation
(the token in Authorization).
"""

from typing import cast

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from accounts.reauth import require_reauth
from accounts.selectors import verified_primary_email_for_user
from index_site.json_body import JSONBodyError, read_body
from index_site.single_values import single_query_value
from projects.policy import require_two_factor
from tokens import disclosure, selectors, services
from tokens.authentication import INVALID_TOKEN_PREFIX, token_from_header
from tokens.exceptions import (
    TokenAuthenticationError,
    TokenCreationError,
    TokenCreationLimitedError,
)
from tokens.forms import TokenCreateForm
from tokens.macaroons import find_authentic_token


def _user(request: HttpRequest) -> User:
    # The decorators above every page let only logged-in users through.
    return cast(User, request.user)


def _json_error(message: str, *, status: int) -> JsonResponse:
    return JsonResponse({"message": message}, status=status)


@require_reauth
@require_two_factor
@require_http_methods(["GET"])
def token_list(request: HttpRequest) -> HttpResponse:
    tokens = list(selectors.tokens_for_user(_user(request)))
    return render(request, "tokens/list.html", {"tokens": tokens, "now": timezone.now()})


@never_cache
@require_reauth
@require_two_factor
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


@require_reauth
@require_two_factor
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


@csrf_exempt
@require_POST
def disclose_token(request: HttpRequest) -> HttpResponse:
    """Secret-scanning reports: 404 without signature headers, 400 when forged, else 204.

    GitHub's format. In-house scanners use the same endpoint and format: an admin adds the
    scanner's ECDSA P-256 public key to SECRET_SCANNING_PUBLIC_KEYS under an id of their choice,
    and the scanner signs each body with it (headers `Github-Public-Key-Identifier: <id>`,
    `Github-Public-Key-Signature: base64(DER signature)`).
    """
    key_id = request.headers.get("Github-Public-Key-Identifier", "")
    signature = request.headers.get("Github-Public-Key-Signature", "")
    if not key_id or not signature:
        return _json_error("This endpoint accepts signed secret-scanning reports only.", status=404)
    try:
        body = read_body(request, max_bytes=disclosure.MAX_REPORT_BYTES)
    except JSONBodyError as error:
        return _json_error(error.message, status=413)
    try:
        disclosure.verify_signature(body=body, key_id=key_id, signature=signature)
        disclosures = disclosure.parse_disclosures(body)
    except disclosure.DisclosureError as error:
        return _json_error(f"The report was refused: {error}.", status=400)
    disclosure.revoke_disclosed(disclosures, origin="a secret-scanning service", request=request)
    return HttpResponse(status=204)


@csrf_exempt
@require_http_methods(["DELETE"])
def revoke_current_token(request: HttpRequest) -> HttpResponse:
    """Revoke the token in the Authorization header (`DELETE /_/tokens/current`)."""
    try:
        raw = token_from_header(request)
    except TokenAuthenticationError as error:
        return _json_error(error.message, status=error.status)
    token = find_authentic_token(raw)
    if token is None:
        return _json_error(f"{INVALID_TOKEN_PREFIX}deleted or nonexistent macaroon", status=403)
    services.revoke_api_token(
        token=token, actor=token.user, reason="revoked with the token itself", request=request
    )
    return HttpResponse(status=204)
