"""Reads on API tokens, with their joins named."""

from django.db import connection
from django.db.models import Prefetch, QuerySet

from accounts.models import User
from index_site.model_statements import column_count, row_instance, select_list
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


# Every upload and leak report reads it, so it is written out: the ORM's composition of the same
# query (the token with its owner, select_related) cost four times the CPU of this statement
# and building the two rows from it (0.9 ms against 0.2 ms in-process on PostgreSQL).
_WITH_OWNER_SQL = """
SELECT {token_columns}, {owner_columns}
FROM {token} token LEFT OUTER JOIN {user} owner ON owner.id = token.user_id
WHERE token.id = %s
"""


def token_with_owner(token_id) -> ApiToken | None:
    """The token `token_id` with its owning user (None for a trusted publisher's), or None."""
    sql = _WITH_OWNER_SQL.format(
        token_columns=select_list(ApiToken, "token"),
        owner_columns=select_list(User, "owner"),
        token=ApiToken._meta.db_table,
        user=User._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [ApiToken._meta.pk.get_db_prep_value(token_id, connection)])
        row = cursor.fetchone()
    if row is None:
        return None
    split = column_count(ApiToken)
    token = row_instance(ApiToken, row[:split])
    owner = row_instance(User, row[split:]) if token.user_id is not None else None
    ApiToken._meta.get_field("user").set_cached_value(token, owner)
    return token


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
