"""Errors the projects app raises; their messages are shown to users as they are."""

from index_site.errors import UserFacingError


class ProjectNameError(UserFacingError, ValueError):
    """A project name cannot be registered. The message says why and what to do."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        # "invalid", "stdlib", "prohibited" or "conflict" (the upload API answers 409 for it).
        self.code = code


class RoleError(UserFacingError):
    """A role change was refused; the message says why and what to do."""


class PermissionDeniedError(RoleError):
    """The actor may not manage this project's roles."""


class ReleaseChangeError(Exception):
    """A yank, un-yank or deletion was refused; the message says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
