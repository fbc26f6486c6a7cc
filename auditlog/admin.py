import ipaddress
import uuid
from urllib.parse import urlencode

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from auditlog.events import KIND_LABELS, PROBLEMS, EventKind, event_types_of
from auditlog.models import AuditEvent
from auditlog.selectors import needing_attention
from index_site.strict_admin import StrictInputAdmin


class ReadOnlyAdmin(StrictInputAdmin):
    """Read-only: no add, change, delete or bulk action, even for superusers.

    Other apps' admins of records that only services may write (roles, the filename registry,
    download counts) use it too.
    """

    actions = None

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def audit_events_link(text: str, **lookups: object) -> str:
    """A link to the site-wide audit view filtered by `lookups` (for other apps' admins)."""
    url = reverse("admin:auditlog_auditevent_changelist") + "?" + urlencode(lookups)
    return format_html('<a href="{}">{}</a>', url, text)


class KindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [(kind.value, label) for kind, label in KIND_LABELS.items()]

    def queryset(self, request, queryset):
        if self.value() in {kind.value for kind in EventKind}:
            return queryset.filter(event_type__in=event_types_of(EventKind(self.value())))
        return queryset


class ProblemsFilter(admin.SimpleListFilter):
    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return [("problems", "Refusals and failures"), ("attention", "Needs a look")]

    def queryset(self, request, queryset):
        if self.value() == "problems":
            return queryset.filter(event_type__in=PROBLEMS)
        if self.value() == "attention":
            return needing_attention(queryset)
        return queryset


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The site-wide audit view, for staff with the permission to view audit events.

    The search box takes a username or project name, an IP address, a network in CIDR form
    (`203.0.113.0/24`), a token id or a publisher id (`publisher:42`). Other admins link here
    with the ids as they were recorded (`user_pk`, `project_pk`, `data__token_id`, ...).
    """

    list_display = [
        "occurred_at",
        "sentence",
        "event_type",
        "actor_username",
        "username",
        "project_name",
        "ip_address",
    ]
    list_filter = [KindFilter, ProblemsFilter, "event_type"]
    search_fields = ["username", "actor_username", "project_name"]
    search_help_text = (
        "A username, a project, an IP address or network (203.0.113.0/24), a token id, or "
        "publisher:<id>."
    )
    date_hierarchy = "occurred_at"
    ordering = ["-pk"]
    _RECORDED_LOOKUPS = frozenset({"user_pk", "actor_pk", "project_pk", "data__token_id"})

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        return lookup in self._RECORDED_LOOKUPS or super().lookup_allowed(lookup, value, request)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if term.startswith("publisher:") and term.removeprefix("publisher:").isdigit():
            return queryset.filter(data__publisher_id=int(term.removeprefix("publisher:"))), False
        if _is_uuid(term):
            return queryset.filter(data__token_id=term), False
        network = _network(term)
        if network is not None:
            return queryset.filter(ip_address__in=_addresses_in(queryset, network)), False
        return super().get_search_results(request, queryset, search_term)


def _is_uuid(term: str) -> bool:
    try:
        uuid.UUID(term)
    except ValueError:
        return False
    return True


def _network(term: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(term, strict=False)
    except ValueError:
        return None


def _addresses_in(queryset, network) -> list[str]:
    """The recorded addresses inside `network`: far fewer than the events, on any database."""
    addresses = queryset.exclude(ip_address=None).values_list("ip_address", flat=True).distinct()
    return [address for address in addresses.order_by() if ipaddress.ip_address(address) in network]
