"""A transaction that failed before COMMIT is told apart from one whose COMMIT raised.

Foreign keys are checked at COMMIT (deferred, on SQLite and PostgreSQL alike), so a row naming
a project that does not exist makes the real COMMIT fail; nothing is mocked.
"""

from collections.abc import Callable

import pytest
from django.db import IntegrityError, transaction

from index_site.commit_outcome import CommitOutcomeUnknownError, atomic_with_known_outcome
from projects.models import Project, Release
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db(transaction=True)

MISSING_PROJECT_ID = 987_654_321


class BodyError(Exception):
    pass


def _run(*steps: Callable[[], object]) -> None:
    """Run `steps` in one `atomic_with_known_outcome` block."""
    with atomic_with_known_outcome():
        for step in steps:
            step()


def _raise(error: Exception) -> Callable[[], None]:
    def step() -> None:
        raise error

    return step


def test_block_that_completes_commits():
    _run(lambda: ProjectFactory(name="kept"))

    assert list(Project.objects.values_list("name", flat=True)) == ["kept"]


@pytest.mark.parametrize("error", [BodyError("refused"), IntegrityError("duplicate")])
def test_error_inside_the_block_propagates_unchanged_and_rolls_back(error):
    with pytest.raises(type(error)) as raised:
        _run(lambda: ProjectFactory(name="rolled-back"), _raise(error))

    assert raised.value is error
    assert not Project.objects.exists()


def test_error_raised_by_commit_is_reported_as_outcome_unknown():
    with pytest.raises(CommitOutcomeUnknownError) as raised:
        _run(
            lambda: ProjectFactory(name="with-a-bad-release"),
            lambda: Release.objects.create(
                project_id=MISSING_PROJECT_ID, version="1.0", canonical_version="1"
            ),
        )

    assert str(raised.value) == (
        "The database connection failed during COMMIT: the transaction may have committed or not."
    )
    assert isinstance(raised.value.__cause__, IntegrityError)
    # The COMMIT failed here, so it rolled back; the connection is usable again.
    assert not Project.objects.exists()


def test_error_raised_after_commit_by_a_commit_hook_is_reported_as_outcome_unknown():
    with pytest.raises(CommitOutcomeUnknownError) as raised:
        _run(
            lambda: ProjectFactory(name="committed"),
            lambda: transaction.on_commit(_raise(BodyError("hook failed"))),
        )

    assert isinstance(raised.value.__cause__, BodyError)
    assert Project.objects.filter(name="committed").exists()


def test_it_cannot_be_nested_in_a_transaction_that_commits_elsewhere():
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        _run(lambda: ProjectFactory(name="nested"))

    assert not Project.objects.exists()
