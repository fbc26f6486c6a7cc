"""Reads on API tokens, with their joins named."""

from django.db import connection
from django.db.models import Prefetch, QuerySet

from accounts.models import User
from projects.models import Project
from projects.selectors import UPLOAD_ROLES
from tokens.models import ApiToken


def tokens_for_user(user: User) -> QuerySet[ApiToken]:
    """The user's tokens, newest first, with their scoped projects."""
    return (
        ApiToken.objects.filter(user=user)
        .prefetch_related(
            Prefetch("projects", queryset=Project.objects.order_by("normalized_name"))
        )
        .order_by("-created_at")
    )


def get_token_for_user(user: User, token_id) -> ApiToken | None:
    """The user's own token `token_id`, or None (also for another user's token)."""
    return ApiToken.objects.filter(user=user, pk=token_id).first()


def scopable_projects_for_user(user: User) -> QuerySet[Project]:
    """Projects a token of `user` may be scoped to: those they own or maintain."""
    return (
        Project.objects.filter(roles__user=user, roles__role__in=UPLOAD_ROLES)
        .order_by("normalized_name")
        .distinct()
    )


# Every upload runs it, so it is written out: the ORM's compilation cost more CPU than
# PostgreSQL spent taking the lock. SQLite has no row locks: it serialises writing transactions
# itself.
_STILL_ISSUED_SQL = "SELECT 1 FROM {token} WHERE id = %s{lock}"


def hold_token(*, token_id) -> bool:
    """Whether the token still exists (is not revoked), locking its row until the transaction ends.

    Call inside the transaction that acts on the token's authority: a revocation (which deletes
    the row) then either committed first, and this answers False, or waits for that transaction
    to end, so nothing the token did commits after it was revoked. The lock is FOR NO KEY
    UPDATE: bookkeeping writes to the row (`last_used_at`) skip a locked row and never wait.
    """
    lock = " FOR NO KEY UPDATE" if connection.features.has_select_for_no_key_update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            _STILL_ISSUED_SQL.format(token=ApiToken._meta.db_table, lock=lock),
            [ApiToken._meta.pk.get_db_prep_value(token_id, connection)],
        )
        return cursor.fetchone() is not None
