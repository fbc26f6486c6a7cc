"""Telling a transaction that failed before its COMMIT from one whose COMMIT raised.

When the connection drops while the database runs COMMIT (a failover, a network cut, a backend
terminated while it waits for a synchronous standby), the server may have committed although
the client library raises. A caller that undoes side effects on failure (deletes a stored
object, say) may undo them only when the transaction certainly rolled back: when the error came
before COMMIT. After a failed COMMIT the outcome is unknown, and the side effects must stay
until something can tell from the committed rows whether they are referenced.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction


class CommitOutcomeUnknownError(Exception):
    """COMMIT raised: the transaction may have committed or not; keep its side effects."""


@contextmanager
def atomic_with_known_outcome(using: str | None = None) -> Iterator[None]:
    """Run the block in an outermost `transaction.atomic`; tell apart how it failed.

    An exception the block itself raises propagates unchanged, and means the transaction rolled
    back. An exception raised while leaving the block after its body completed (the COMMIT, or
    the commit hooks run after it) is re-raised as CommitOutcomeUnknownError, chained to the
    original. Durable, so no caller can nest it in a transaction whose COMMIT happens elsewhere.
    """
    body_completed = False
    try:
        with transaction.atomic(using=using, durable=True):
            yield
            body_completed = True
    except Exception as exc:
        if body_completed:
            raise CommitOutcomeUnknownError(
                "The database connection failed during COMMIT: the transaction may have "
                "committed or not."
            ) from exc
        raise
