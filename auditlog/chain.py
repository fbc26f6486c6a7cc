"""Tamper evidence for the audit log: a hash chain over the events, sealed with a key the
database never holds.

Recording an event adds nothing to a request's work: events get their id from the database's
sequence and their content is written once. The sealing job (`seal`, every minute) then walks
the new events in id order, links each one to the one before (`ChainLink`: sha256 of the previous
link and the event's canonical content) and signs the head (`Seal`: an HMAC with AUDIT_SEAL_KEY
over the head, the range and the previous seal's signature). So uploads and logins never wait
on each other for the chain, and an event is unsealed for at most the job's interval plus
IN_FLIGHT_MARGIN.

Ids are taken when a row is inserted but become visible when its transaction commits, so a
lower id can appear after a higher one. The job therefore seals only events inserted (by the
database's clock, `recorded_at`) before the oldest transaction still open began: every lower id
was taken earlier still, by a transaction that has ended, so nothing can appear below a seal.

`verify` recomputes every link and seal and names the first event that was changed, deleted or
inserted. Against the database's own superuser it proves what the key proves: events and
links rewritten consistently break the seal's signature. Removing the newest seals with their
events is caught by comparing with the seal heads the job writes to the log (shipped off the
machine), which is why each seal is logged.
"""

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from auditlog.events import EventType
from auditlog.models import AuditEvent, ChainLink, Pruning, Seal
from auditlog.services import record_event

logger = logging.getLogger(__name__)

GENESIS = "0" * 64
# An insert's clock reading and its id are taken microseconds apart within one statement, and
# the web and database hosts' clocks may differ a little: the margin covers both.
IN_FLIGHT_MARGIN = timedelta(seconds=5)
BATCH_SIZE = 5_000
_CANONICAL_FIELDS = (
    "id",
    "event_type",
    "occurred_at",
    "actor_pk",
    "actor_username",
    "user_pk",
    "username",
    "project_pk",
    "project_name",
    "ip_address",
    "user_agent",
    "data",
)


def canonical(event: dict[str, Any]) -> bytes:
    """The bytes an event's link covers: its recorded fields as sorted, compact JSON."""
    values = {name: event[name] for name in _CANONICAL_FIELDS}
    values["occurred_at"] = values["occurred_at"].astimezone(UTC).isoformat()
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_digest(previous: str, event: dict[str, Any]) -> str:
    return hashlib.sha256(previous.encode() + b"\n" + canonical(event)).hexdigest()


def _key() -> bytes:
    if settings.AUDIT_SEAL_KEY:
        return settings.AUDIT_SEAL_KEY.encode()
    return salted_hmac("gatehouse.auditlog.seal", "key", algorithm="sha256").digest()


def _sign(*parts: object) -> str:
    message = ":".join(str(part) for part in parts).encode()
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()


def seal_signature(seal: Seal) -> str:
    return _sign("seal", seal.last_event_id, seal.event_count, seal.head, seal.previous_signature)


def pruning_signature(pruning: Pruning) -> str:
    return _sign("pruning", pruning.last_event_id, pruning.event_count)


def _events(after: int, through: int | None = None) -> Iterator[dict[str, Any]]:
    events = AuditEvent.objects.filter(pk__gt=after).order_by("pk")
    if through is not None:
        events = events.filter(pk__lte=through)
    return events.values(*_CANONICAL_FIELDS).iterator(chunk_size=2_000)


def sealable_before() -> datetime:
    """Events recorded before this moment can no longer be joined by a lower id (see above)."""
    now = timezone.now()
    if connection.vendor != "postgresql":
        # SQLite has one writer at a time: ids become visible in the order they were taken.
        return now - IN_FLIGHT_MARGIN
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(xact_start) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND xact_start IS NOT NULL"
        )
        oldest = cursor.fetchone()[0]
    return min(now, oldest or now) - IN_FLIGHT_MARGIN


def seal() -> list[Seal]:
    """Link and seal the events that can no longer change place; return the new seals."""
    seals = []
    while new_seal := _seal_batch(sealable_before()):
        seals.append(new_seal)
    return seals


def _seal_batch(before: datetime) -> Seal | None:
    try:
        with transaction.atomic():
            last = Seal.objects.select_for_update().order_by("-last_event_id").first()
            start = last.last_event_id if last else _pruned_through()
            ids = list(
                AuditEvent.objects.filter(pk__gt=start, recorded_at__lt=before)
                .order_by("pk")
                .values_list("pk", flat=True)[:BATCH_SIZE]
            )
            if not ids:
                return None
            through = ids[-1]
            head = last.head if last else _pruned_head()
            links = []
            for event in _events(start, through):
                head = link_digest(head, event)
                links.append(ChainLink(event_id=event["id"], digest=head))
            ChainLink.objects.bulk_create(links)
            new_seal = Seal(
                last_event_id=through,
                event_count=len(links),
                head=head,
                previous_signature=last.signature if last else "",
            )
            new_seal.signature = seal_signature(new_seal)
            new_seal.save()
    except IntegrityError:
        # Another sealing job got there first; its seal covers these events.
        return None
    logger.info(
        "audit log sealed",
        extra={"last_event_id": through, "event_count": len(links), "head": head},
    )
    return new_seal


def _pruned_through() -> int:
    pruning = Pruning.objects.order_by("-last_event_id").first()
    return pruning.last_event_id if pruning else 0


def _pruned_head() -> str:
    """Where the chain resumes after a pruning: the head of the seal it ended at."""
    pruned = _pruned_through()
    if not pruned:
        return GENESIS
    return Seal.objects.get(last_event_id=pruned).head


@dataclass(frozen=True)
class Finding:
    """One break in the chain: at `event_id`, or in the seal's range after `after` up to
    `event_id` when `after` is given (the first event concerned is not known)."""

    event_id: int
    problem: str
    after: int | None = None

    @property
    def sort_key(self) -> tuple[int, int]:
        return (self.event_id if self.after is None else self.after + 1, self.event_id)

    def __str__(self) -> str:
        if self.after is None:
            return f"event {self.event_id}: {self.problem}"
        if self.after:
            return f"events {self.after + 1} to {self.event_id}: {self.problem}"
        return f"events up to {self.event_id}: {self.problem}"


@dataclass(frozen=True)
class Verification:
    findings: list[Finding]
    sealed_through: int
    events_checked: int
    pruned_through: int

    @property
    def ok(self) -> bool:
        return not self.findings


def verify(*, since: datetime | None = None) -> Verification:
    """Check every seal's signature and, for the seals made since `since` (all if None), every
    link and event in its range. Returns what was found, the first break first."""
    findings: list[Finding] = []
    prunings = list(Pruning.objects.order_by("last_event_id"))
    for pruning in prunings:
        if not hmac.compare_digest(pruning.signature, pruning_signature(pruning)):
            findings.append(Finding(pruning.last_event_id, "its pruning record is not signed"))
    pruned = prunings[-1].last_event_id if prunings else 0
    previous_signature = ""
    previous = Seal(last_event_id=pruned, event_count=0, head=GENESIS)
    checked = 0
    for current in Seal.objects.order_by("last_event_id").iterator():
        if current.last_event_id <= pruned:
            previous, previous_signature = current, current.signature
            continue
        if not hmac.compare_digest(current.signature, seal_signature(current)) or (
            current.previous_signature != previous_signature
        ):
            findings.append(
                Finding(
                    current.last_event_id,
                    "their seal is not the one the key signed: events, links or seals were "
                    "rewritten",
                    after=previous.last_event_id,
                )
            )
        if since is None or current.sealed_at >= since:
            range_findings, count = _verify_range(previous, current)
            findings.extend(range_findings)
            checked += count
        previous, previous_signature = current, current.signature
    findings.sort(key=lambda finding: finding.sort_key)
    return Verification(
        findings=findings,
        sealed_through=previous.last_event_id,
        events_checked=checked,
        pruned_through=pruned,
    )


def _verify_range(previous: Seal, current: Seal) -> tuple[list[Finding], int]:
    """Walk the events and links of one seal's range side by side."""
    findings = []
    events = _events(previous.last_event_id, current.last_event_id)
    links = (
        ChainLink.objects.filter(
            event_id__gt=previous.last_event_id, event_id__lte=current.last_event_id
        )
        .order_by("event_id")
        .values_list("event_id", "digest")
        .iterator(chunk_size=2_000)
    )
    head = previous.head
    count = 0
    event = next(events, None)
    link = next(links, None)
    while event is not None or link is not None:
        if event is not None and (link is None or event["id"] < link[0]):
            findings.append(Finding(event["id"], "it was inserted after the chain was sealed"))
            event = next(events, None)
            continue
        assert link is not None  # noqa: S101 - the loop's condition, for the type checker
        if event is None or link[0] < event["id"]:
            findings.append(Finding(link[0], "it was deleted"))
        elif link_digest(head, event) != link[1]:
            findings.append(Finding(event["id"], "its content was changed"))
        if event is not None and event["id"] == link[0]:
            event = next(events, None)
        head = link[1]
        count += 1
        link = next(links, None)
    if count < current.event_count:
        findings.append(
            Finding(
                current.last_event_id,
                f"{current.event_count - count} of the {current.event_count} events sealed "
                "are missing, with their links",
                after=previous.last_event_id,
            )
        )
    elif head != current.head or count != current.event_count:
        findings.append(
            Finding(
                current.last_event_id,
                "their links do not add up to their seal's head",
                after=previous.last_event_id,
            )
        )
    return findings, count


def prune(*, older_than: timedelta) -> Pruning | None:
    """Remove the events of the sealed ranges that lie wholly before `older_than` ago.

    The only way rows leave the log: done at a seal's boundary, so the seals after it still
    verify, recorded in a signed `Pruning` the verifier reads as "pruned before", and itself an
    audit event, in one transaction.
    """
    cutoff = timezone.now() - older_than
    with transaction.atomic():
        newer = AuditEvent.objects.filter(occurred_at__gte=cutoff).order_by("pk").first()
        seals = Seal.objects.filter(last_event_id__gt=_pruned_through())
        if newer is not None:
            seals = seals.filter(last_event_id__lt=newer.pk)
        boundary = seals.order_by("-last_event_id").first()
        if boundary is None:
            return None
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL gatehouse.audit_prune = 'on'")
            cursor.execute(
                f"DELETE FROM {AuditEvent._meta.db_table} WHERE id <= %s",  # noqa: S608
                [boundary.last_event_id],
            )
            count = cursor.rowcount
            cursor.execute(
                f"DELETE FROM {ChainLink._meta.db_table} WHERE event_id <= %s",  # noqa: S608
                [boundary.last_event_id],
            )
        pruning = Pruning(last_event_id=boundary.last_event_id, event_count=count)
        pruning.signature = pruning_signature(pruning)
        pruning.save()
        record_event(
            event_type=EventType.AUDIT_LOG_PRUNED,
            actor=None,
            data={"last_event_id": boundary.last_event_id, "event_count": count},
        )
    return pruning
