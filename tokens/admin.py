"""Admin for API tokens: list and search (never a secret), revoke with a reason, decode a token.

Nothing here can show a token string: the server never keeps one. Revocation goes through the
service, so it is audited and the owner is emailed.
"""

import json
from typing import cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters

from accounts.models import User
from auditlog.admin import audit_events_link
from index_site.strict_admin import StrictInputAdmin
from index_site.strict_forms import StrictForm
from tokens import caveats as caveat_types
from tokens.exceptions import CaveatError, TokenVerificationError
from tokens.macaroons import find_authentic_token, parse_token
from tokens.models import ApiToken
from tokens.services import revoke_api_token


class RevokeForm(StrictForm):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Sent to the owner and kept in their security history.",
    )
    notify = forms.BooleanField(required=False, initial=True, label="Email the owner")


class DecodeForm(StrictForm):
    token = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 80}))


def decode_token(raw: str) -> dict:
    """What a pasted token says: location, identifier, caveats, and the row it names."""
    macaroon, token_id = parse_token(raw.strip())
    described = []
    for caveat in macaroon.first_party_caveats():
        text = caveat.caveat_id_bytes.decode("utf-8", "replace")
        try:
            meaning = type(caveat_types.deserialize(caveat.caveat_id_bytes)).__name__
        except CaveatError as exc:
            meaning = f"unreadable: {exc.reason}"
        described.append({"raw": text, "meaning": meaning})
    row = ApiToken.objects.select_related("user").filter(pk=token_id).first()
    return {
        "location": macaroon.location,
        "identifier": str(token_id),
        "caveats": described,
        "third_party_caveats": len(macaroon.third_party_caveats()),
        "row": row,
        "is_authentic": row is not None and find_authentic_token(raw.strip()) is not None,
    }


@admin.register(ApiToken)
class ApiTokenAdmin(StrictInputAdmin):
    list_display = (
        "name",
        "user",
        "publisher_id",
        "scope",
        "created_at",
        "expires_at",
        "last_used_at",
        "last_used_ip",
        "revoke_link",
    )
    list_select_related = ("user",)
    list_filter = ("created_at", "expires_at")
    search_fields = ("name", "user__username", "=id", "projects__normalized_name")
    ordering = ("-created_at",)
    change_list_template = "tokens/admin/change_list.html"
    fields = (
        "id",
        "name",
        "user",
        "publisher_id",
        "scope",
        "issued_caveats",
        "expires_at",
        "ip_networks",
        "created_at",
        "created_by",
        "last_used_at",
        "last_used_ip",
        "key_id",
        "revoke_link",
        "audit_events",
    )
    readonly_fields = fields

    @admin.display(description="Audit log")
    def audit_events(self, obj: ApiToken) -> str:
        return audit_events_link("Events of this token", data__token_id=str(obj.pk))

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).prefetch_related("projects")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Deleting here would skip the audit event and the email: revoke instead.
        return False

    @admin.display(description="Scope")
    def scope(self, obj: ApiToken) -> str:
        names = [project.name for project in obj.projects.all()]
        return ", ".join(names) or obj.scope_without_projects

    @admin.display(description="Caveats")
    def issued_caveats(self, obj: ApiToken) -> str:
        return json.dumps(obj.caveats)

    @admin.display(description="Revoke")
    def revoke_link(self, obj: ApiToken) -> str:
        url = reverse("admin:tokens_apitoken_revoke", args=[obj.pk])
        return format_html('<a href="{}">Revoke…</a>', url)

    def get_urls(self):
        urls = [
            path(
                "decode/",
                self.admin_site.admin_view(self.decode_view),
                name="tokens_apitoken_decode",
            ),
            path(
                "<uuid:token_id>/revoke/",
                self.admin_site.admin_view(self.revoke_view),
                name="tokens_apitoken_revoke",
            ),
        ]
        return urls + super().get_urls()

    def _has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or request.user.has_perm("tokens.delete_apitoken")

    def revoke_view(self, request: HttpRequest, token_id) -> HttpResponse:
        if not self._has_revoke_permission(request):
            raise Http404("No such token.")
        token = ApiToken.objects.select_related("user").filter(pk=token_id).first()
        if token is None:
            raise Http404("No such token.")
        form = RevokeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            name = token.name
            revoke_api_token(
                token=token,
                actor=cast(User, request.user),
                reason=form.cleaned_data["reason"],
                request=request,
                notify=form.cleaned_data["notify"],
            )
            messages.success(request, f"Revoked the API token '{name}'.")
            return redirect("admin:tokens_apitoken_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Revoke the API token '{token.name}'",
            "token": token,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "tokens/admin/revoke.html", context)

    def _has_decode_permission(self, request: HttpRequest) -> bool:
        # A pasted token is a live credential: decoding it is for those who may see tokens,
        # not for every staff member.
        return request.user.has_perm("tokens.view_apitoken")

    # An error report (or a debug page) must not show the pasted token.
    @method_decorator(sensitive_post_parameters("token"))
    def decode_view(self, request: HttpRequest) -> HttpResponse:
        if not self._has_decode_permission(request):
            raise PermissionDenied("Decoding a token needs the permission to view API tokens.")
        form = DecodeForm(request.POST or None)
        decoded = None
        error = ""
        if request.method == "POST" and form.is_valid():
            try:
                decoded = decode_token(form.cleaned_data["token"])
            except TokenVerificationError as exc:
                error = f"This is not a token this index can read: {exc.reason}."
            # The answer does not echo the token back into the page.
            form = DecodeForm()
        context = {
            **self.admin_site.each_context(request),
            "title": "Decode an API token",
            "form": form,
            "decoded": decoded,
            "error": error,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "tokens/admin/decode.html", context)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "decode_url": reverse("admin:tokens_apitoken_decode"),
        }
        return super().changelist_view(request, extra_context)
