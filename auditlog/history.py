"""A history page (the account's own, or a project's): filters, keyset pages, export.

Pages are cut by event id, not by OFFSET: `?before=<id>` shows the events older than that one,
`?after=<id>` those newer, so the thousandth page costs one index range scan like the first. The
export streams every event of the filtered view as JSON Lines or CSV with the field schema in
EXPORT_FIELDS, a few thousand rows in memory at a time whatever the history's size.
"""

import csv
import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any, NamedTuple

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBadRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase

from auditlog.events import KIND_LABELS, PROBLEMS, EventKind, event_types_of, kind_of
from auditlog.models import AuditEvent
from auditlog.sentences import sentence
from index_site.single_values import single_query_value
from index_site.strict_forms import StrictForm

EVENTS_PER_PAGE = 25
# Export lines per chunk handed to the server (about 300 KB of JSON Lines).
EXPORT_CHUNK_LINES = 1_000
# The export's fields, in order: a stable schema (documented in the README).
EXPORT_FIELDS = (
    "id",
    "occurred_at",
    "event_type",
    "kind",
    "sentence",
    "actor",
    "user",
    "project",
    "ip_address",
    "user_agent",
    "data",
)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class HistoryFilterForm(StrictForm):
    kind = forms.ChoiceField(
        required=False,
        choices=[("", "All kinds"), *((kind.value, label) for kind, label in KIND_LABELS.items())],
    )
    since = forms.DateField(required=False, label="From", widget=forms.DateInput({"type": "date"}))
    until = forms.DateField(required=False, label="Until", widget=forms.DateInput({"type": "date"}))
    ip_address = forms.GenericIPAddressField(required=False, label="IP address")
    problems = forms.BooleanField(required=False, label="Only refusals and failures")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return cleaned

    def apply(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        """`events` narrowed by the valid filters (all of them when the form is invalid)."""
        if not self.is_valid():
            return events
        data = self.cleaned_data
        if data["kind"]:
            events = events.filter(event_type__in=event_types_of(EventKind(data["kind"])))
        if data["since"]:
            events = events.filter(occurred_at__gte=datetime.combine(data["since"], time(), UTC))
        if data["until"]:
            end = datetime.combine(data["until"], time.max, UTC)
            events = events.filter(occurred_at__lte=end)
        if data["ip_address"]:
            events = events.filter(ip_address=data["ip_address"])
        if data["problems"]:
            events = events.filter(event_type__in=PROBLEMS)
        return events


@dataclass(frozen=True)
class EventPage:
    events: list[AuditEvent]
    # The cursors of the neighbouring pages: ?after=<newer> and ?before=<older>.
    newer: int | None
    older: int | None


def _cursor(request: HttpRequest, name: str) -> int | None:
    value = single_query_value(request.GET, name)
    return int(value) if value.isdigit() and len(value) < 19 else None


def event_page(request: HttpRequest, events: QuerySet[AuditEvent]) -> EventPage:
    """The page of `events` (newest first) that the request's cursor names."""
    before, after = _cursor(request, "before"), _cursor(request, "after")
    if after is not None and before is None:
        rows = list(events.filter(pk__gt=after).order_by("pk")[: EVENTS_PER_PAGE + 1])
        more_newer = len(rows) > EVENTS_PER_PAGE
        rows = rows[:EVENTS_PER_PAGE][::-1]
        return EventPage(
            events=rows,
            newer=rows[0].pk if rows and more_newer else None,
            older=rows[-1].pk if rows else None,
        )
    if before is not None:
        events = events.filter(pk__lt=before)
    rows = list(events.order_by("-pk")[: EVENTS_PER_PAGE + 1])
    more_older = len(rows) > EVENTS_PER_PAGE
    rows = rows[:EVENTS_PER_PAGE]
    return EventPage(
        events=rows,
        newer=rows[0].pk if rows and before is not None else None,
        older=rows[-1].pk if rows and more_older else None,
    )


def history_context(request: HttpRequest, events: QuerySet[AuditEvent]) -> dict[str, Any]:
    """What a history template needs: the filter form and the page of filtered events."""
    form = HistoryFilterForm(request.GET or None)
    return {"form": form, "page": event_page(request, form.apply(events))}


def export_response(
    request: HttpRequest, events: QuerySet[AuditEvent], *, filename: str, fmt: str
) -> HttpResponseBase:
    """Every event of the filtered view, oldest first, streamed as JSON Lines or CSV."""
    form = HistoryFilterForm(request.GET)
    if not form.is_valid():
        errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        return HttpResponseBadRequest(
            f"The filters are not valid: {errors}", content_type="text/plain"
        )
    rows = map(_export_row, _oldest_first(form.apply(events)))
    if fmt == "csv":
        lines, content_type = _csv_lines(rows), "text/csv; charset=utf-8"
    else:
        lines = (json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        content_type = "application/jsonl; charset=utf-8"
    response = StreamingHttpResponse(_batched(lines), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


class _Row(NamedTuple):
    """One exported event as read from the database: a plain tuple, built a million times."""

    pk: int
    occurred_at: datetime
    event_type: str
    actor_username: str
    username: str
    project_name: str
    ip_address: str | None
    user_agent: str
    data: Any


def _oldest_first(events: QuerySet[AuditEvent]) -> Iterator[_Row]:
    """The events as plain rows (no model instances: the export reads a million of them)."""
    rows = events.order_by("pk").values_list(*_Row._fields).iterator(chunk_size=2_000)
    return map(_Row._make, rows)


def _batched(lines: Iterable[str]) -> Iterator[str]:
    """Lines joined into chunks of EXPORT_CHUNK_LINES: one write to the client per chunk."""
    lines = iter(lines)
    while batch := "".join(itertools.islice(lines, EXPORT_CHUNK_LINES)):
        yield batch


def _export_row(event: _Row) -> dict[str, Any]:
    kind = kind_of(event.event_type)
    return {
        "id": event.pk,
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(),
        "event_type": event.event_type,
        "kind": kind.value if kind else "",
        "sentence": sentence(event),
        "actor": event.actor_username,
        "user": event.username,
        "project": event.project_name,
        "ip_address": event.ip_address or "",
        "user_agent": event.user_agent,
        "data": event.data,
    }


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_FIELDS)
    for row in rows:
        yield writer.writerow(
            _safe_cell(json.dumps(row[name]) if name == "data" else str(row[name]))
            for name in EXPORT_FIELDS
        )


def _safe_cell(value: str) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading quote."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value
