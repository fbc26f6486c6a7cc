"""with_fresh_connection runs a step again only when its first query met a dead connection."""

import pytest
from django.db import OperationalError, ProgrammingError, connections, transaction

from index_site.fresh_connection import with_fresh_connection
from tests.database_backends import terminate_request_backend
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgresql_connections_cut"),
]


def _count_users(runs: list[int]) -> int:
    runs.append(1)
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_user")
        return cursor.fetchone()[0]


def test_a_step_whose_first_query_meets_a_dead_connection_runs_again_on_a_fresh_one():
    UserFactory()
    dead = terminate_request_backend()
    runs: list[int] = []

    assert with_fresh_connection(lambda: _count_users(runs)) == 1

    assert len(runs) == 2
    assert connections["default"].connection.info.backend_pid != dead


def test_a_step_that_fails_after_its_first_query_is_not_run_again():
    runs: list[int] = []

    def step() -> None:
        _count_users(runs)
        terminate_request_backend()
        _count_users(runs)

    with pytest.raises(OperationalError):
        with_fresh_connection(step)
    assert len(runs) == 2  # the step ran once: its second query failed, nothing was retried


def test_a_step_failing_on_a_live_connection_is_not_run_again():
    runs: list[int] = []

    def step() -> None:
        runs.append(1)
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT no_such_column FROM accounts_user")

    with pytest.raises(ProgrammingError, match="no_such_column"):
        with_fresh_connection(step)
    assert len(runs) == 1


def test_inside_a_transaction_the_step_runs_once():
    runs: list[int] = []

    def in_transaction() -> None:
        with transaction.atomic():
            terminate_request_backend()
            with_fresh_connection(lambda: _count_users(runs))

    with pytest.raises(OperationalError):
        in_transaction()
    assert len(runs) == 1
