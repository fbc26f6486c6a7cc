"""The audit log's hash chain and seals: tampering with rows outside the application, however it
is done, is found and the first event concerned is named; retention prunes without a break."""

import json
import threading
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from auditlog import chain
from auditlog.events import EventType
from auditlog.models import AuditEvent, ChainLink, Pruning
from auditlog.services import record_event
from auditlog.tasks import prune_audit_log, seal_audit_log
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db
TABLE = AuditEvent._meta.db_table


@pytest.fixture(autouse=True)
def _seal_at_once(monkeypatch):
    """Tests seal what they just wrote; the margin for in-flight ids has its own test."""
    monkeypatch.setattr(chain, "IN_FLIGHT_MARGIN", timedelta(0))


@pytest.fixture
def clock():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def record(count: int, **data) -> list[AuditEvent]:
    user = UserFactory()
    return [
        record_event(event_type=EventType.ACCOUNT_LOGIN_SUCCESS, actor=user, data={"n": n, **data})
        for n in range(count)
    ]


def tamper(sql: str, params=()) -> None:
    """Run `sql` as the database's superuser can: with every trigger, the append-only one
    included, switched off for that statement."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")


def findings() -> list[str]:
    return [str(finding) for finding in chain.verify().findings]


def test_sealing_links_every_event_and_signs_the_head():
    events = record(5)

    (seal,) = chain.seal()

    assert seal.last_event_id == events[-1].pk
    assert seal.event_count == 5
    assert ChainLink.objects.count() == 5
    assert seal.head == ChainLink.objects.get(event_id=events[-1].pk).digest
    verification = chain.verify()
    assert verification.ok
    assert verification.events_checked == 5
    assert verification.sealed_through == events[-1].pk


def test_seals_follow_one_another_and_nothing_is_sealed_twice():
    record(3)
    first = chain.seal()
    assert chain.seal() == []
    later = record(2)

    (second,) = chain.seal()

    assert second.previous_signature == first[0].signature
    assert second.event_count == 2
    assert second.last_event_id == later[-1].pk
    assert chain.verify().ok


def test_a_large_backlog_is_sealed_in_batches(monkeypatch):
    monkeypatch.setattr(chain, "BATCH_SIZE", 4)
    record(10)

    seals = chain.seal()

    assert [seal.event_count for seal in seals] == [4, 4, 2]
    assert chain.verify().ok


def test_an_event_recorded_within_the_margin_waits_for_the_next_run(monkeypatch):
    monkeypatch.setattr(chain, "IN_FLIGHT_MARGIN", timedelta(hours=1))
    record(2)

    assert chain.seal() == []
    assert not ChainLink.objects.exists()


def test_a_changed_event_is_named():
    events = record(5)
    chain.seal()
    tamper(f"UPDATE {TABLE} SET data = %s WHERE id = %s", [json.dumps({"n": 99}), events[2].pk])

    assert findings() == [f"event {events[2].pk}: its content was changed"]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("event_type", "account:logout"),
        ("ip_address", "203.0.113.9"),
        ("username", "someone-else"),
        ("user_pk", 999_999),
        ("occurred_at", "2020-01-01T00:00:00+00:00"),
    ],
)
def test_a_change_to_any_recorded_field_is_found(column, value):
    events = record(3)
    chain.seal()
    tamper(f"UPDATE {TABLE} SET {column} = %s WHERE id = %s", [value, events[1].pk])

    assert findings() == [f"event {events[1].pk}: its content was changed"]


def test_a_deleted_event_is_named():
    events = record(5)
    chain.seal()
    tamper(f"DELETE FROM {TABLE} WHERE id = %s", [events[3].pk])

    assert findings() == [f"event {events[3].pk}: it was deleted"]


def _insert_event(event_id: int, like: AuditEvent) -> None:
    tamper(
        f"INSERT INTO {TABLE} (id, event_type, occurred_at, recorded_at, actor_username, "
        "username, project_name, user_agent, data) "
        "VALUES (%s, 'account:login:success', %s, %s, 'x', 'x', '', '', '{}')",
        [event_id, like.occurred_at, like.occurred_at],
    )


def test_an_event_inserted_into_a_sealed_range_is_named():
    # Ids have gaps (rolled-back inserts use them up): here, 99 of them.
    (first,) = record(1)
    _insert_event(first.pk + 100, first)
    chain.seal()
    _insert_event(first.pk + 50, first)

    assert findings() == [f"event {first.pk + 50}: it was inserted after the chain was sealed"]


def test_events_and_links_rewritten_together_break_the_seal():
    events = record(4)
    (seal,) = chain.seal()
    tamper(f"UPDATE {TABLE} SET username = 'forged' WHERE id = %s", [events[1].pk])
    # The forger recomputes every link after the change; only the key could re-sign the seal.
    head = chain.GENESIS
    for event in AuditEvent.objects.order_by("pk").values(*chain._CANONICAL_FIELDS):
        head = chain.link_digest(head, event)
        tamper("UPDATE auditlog_chainlink SET digest = %s WHERE event_id = %s", [head, event["id"]])
    tamper("UPDATE auditlog_seal SET head = %s WHERE id = %s", [head, seal.pk])

    assert findings() == [
        (
            f"events up to {seal.last_event_id}: their seal is not the one the key signed: events, "
            "links or seals were rewritten"
        )
    ]


def test_a_removed_seal_breaks_the_next_one():
    record(2)
    first = chain.seal()
    record(2)
    (second,) = chain.seal()
    tamper("DELETE FROM auditlog_seal WHERE id = %s", [first[0].pk])

    assert findings()[0] == (
        f"events up to {second.last_event_id}: their seal is not the one the key signed: "
        "events, links or seals were rewritten"
    )


def test_a_seal_signed_with_another_key_does_not_verify(settings):
    record(2)
    chain.seal()
    settings.AUDIT_SEAL_KEY = "another key"

    assert not chain.verify().ok


def test_a_deleted_user_or_project_leaves_the_chain_intact():
    user = UserFactory()
    project = ProjectFactory()
    record_event(event_type=EventType.PROJECT_ROLE_ADD, actor=user, project=project)
    chain.seal()

    ids = (user.pk, project.pk)
    project.delete()
    user.delete()

    event = AuditEvent.objects.get()
    assert (event.user_id, event.project_id) == (None, None)
    assert (event.user_pk, event.project_pk) == ids
    assert chain.verify().ok


def test_the_command_reports_ok_and_exits_non_zero_on_a_break(capsys):
    events = record(3)
    call_command("verify_audit_log", "--seal")
    assert "OK: 3 events checked" in capsys.readouterr().out

    tamper(f"DELETE FROM {TABLE} WHERE id = %s", [events[0].pk])
    with pytest.raises(CommandError, match=f"the first is event {events[0].pk}: it was deleted"):
        call_command("verify_audit_log")


def test_the_sealing_job_emails_the_admins_once_a_break_is_found(settings):
    settings.ADMINS = [("Admin", "admin@example.com")]
    events = record(3)
    assert seal_audit_log() == 1
    assert mail.outbox == []

    tamper(f"UPDATE {TABLE} SET ip_address = '198.51.100.1' WHERE id = %s", [events[0].pk])
    seal_audit_log()

    (message,) = mail.outbox
    assert message.to == ["admin@example.com"]
    assert f"First: event {events[0].pk}: its content was changed" in message.body


def test_retention_prunes_whole_sealed_ranges_and_records_it(settings, clock):
    settings.AUDIT_RETENTION_DAYS = 30
    old = record(3)
    clock.shift(timedelta(seconds=1))
    chain.seal()
    clock.shift(timedelta(days=31))
    recent = record(2)
    chain.seal()

    assert prune_audit_log() == 3

    assert not AuditEvent.objects.filter(pk__in=[event.pk for event in old]).exists()
    assert AuditEvent.objects.filter(pk__in=[event.pk for event in recent]).count() == 2
    pruned = AuditEvent.objects.get(event_type=EventType.AUDIT_LOG_PRUNED)
    assert pruned.data == {"last_event_id": old[-1].pk, "event_count": 3}
    chain.seal()
    verification = chain.verify()
    assert verification.ok
    assert verification.pruned_through == old[-1].pk


def test_without_retention_nothing_is_pruned(settings):
    settings.AUDIT_RETENTION_DAYS = 0
    record(2)
    chain.seal()

    assert prune_audit_log() == 0
    assert AuditEvent.objects.count() == 2


def test_a_prefix_deleted_without_a_signed_pruning_is_a_break():
    events = record(4)
    chain.seal()
    tamper(f"DELETE FROM {TABLE} WHERE id <= %s", [events[1].pk])
    tamper("DELETE FROM auditlog_chainlink WHERE event_id <= %s", [events[1].pk])

    assert findings()[0] == (
        f"events up to {events[-1].pk}: 2 of the 4 events sealed are missing, with their links"
    )


def test_a_forged_pruning_record_is_refused():
    events = record(2)
    chain.seal()
    tamper(
        "INSERT INTO auditlog_pruning (last_event_id, event_count, signature, pruned_at) "
        "VALUES (%s, 2, 'forged', %s)",
        [events[-1].pk, events[-1].occurred_at],
    )

    assert findings()[0] == f"event {events[-1].pk}: its pruning record is not signed"
    assert Pruning.objects.count() == 1


# --- in the database itself (PostgreSQL) ---------------------------------------------------


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("The append-only trigger is PostgreSQL's; CI runs it")


@pytest.mark.parametrize(
    "sql",
    [
        f"UPDATE {TABLE} SET username = 'x'",
        f"UPDATE {TABLE} SET user_id = user_id + 1",
        f"DELETE FROM {TABLE}",
        "UPDATE auditlog_chainlink SET digest = 'x'",
        "DELETE FROM auditlog_chainlink",
        "UPDATE auditlog_seal SET head = 'x'",
        "DELETE FROM auditlog_seal",
    ],
)
def test_the_database_refuses_changes_and_deletions(postgresql, sql):
    record(2)
    chain.seal()

    with pytest.raises(DatabaseError, match="audit log rows cannot be"), transaction.atomic():
        connection.cursor().execute(sql)


def test_the_database_lets_a_deleted_user_s_key_be_cleared_and_nothing_more(postgresql):
    (event,) = record(1)

    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET actor_id = NULL, user_id = NULL WHERE id = %s", [event.pk]
        )
        with pytest.raises(DatabaseError), transaction.atomic():
            cursor.execute(
                f"UPDATE {TABLE} SET user_id = NULL, username = 'x' WHERE id = %s", [event.pk]
            )


@pytest.mark.django_db(transaction=True)
def test_an_event_still_in_flight_holds_back_the_seal(postgresql):
    """A lower id committed after a higher one: the seal waits for it rather than leave it out."""
    user = UserFactory()
    inserted, release = threading.Event(), threading.Event()

    def slow_writer():
        try:
            with transaction.atomic():
                record_event(event_type=EventType.ACCOUNT_LOGIN_SUCCESS, actor=user)
                inserted.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    try:
        assert inserted.wait(timeout=30)
        later = record_event(event_type=EventType.ACCOUNT_LOGOUT, actor=user)

        assert chain.seal() == []
    finally:
        release.set()
        thread.join(timeout=30)

    (seal,) = chain.seal()
    assert seal.last_event_id == later.pk
    assert seal.event_count == 2
    assert chain.verify().ok
