"""Ending a user's other sessions when how they log in changes.

A session is valid while its stored auth hash matches `User.get_session_auth_hash()`, which
covers the password hash and `User.session_epoch`. Raising the epoch therefore logs out every
session of the user on its next request; the session making the change is re-keyed and kept.
"""

from django.contrib.auth import update_session_auth_hash
from django.db.models import F
from django.http import HttpRequest

from accounts.models import User


def end_other_sessions(*, user: User, request: HttpRequest | None = None) -> None:
    """Log out every session of `user` except the one of `request`, if it is theirs.

    Called inside the caller's transaction, after its change: the increment is a single
    UPDATE, so concurrent changes never lose one. An administrator's request keeps the
    administrator's own session untouched and ends all of `user`'s sessions.
    """
    User.objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
    user.refresh_from_db(fields=["session_epoch"])
    if request is None or not hasattr(request, "session"):
        return
    request_user = getattr(request, "user", None)
    if request_user is not None and request_user.is_authenticated and request_user.pk == user.pk:
        # The view's request.user may be another instance of the same row: keep both current.
        request_user.session_epoch = user.session_epoch
        update_session_auth_hash(request, user)
