"""Errors of token verification and request authentication."""

from index_site.errors import UserFacingError

INVALID_AUTH_MESSAGE = (
    "Invalid or non-existent authentication information. "
    "See {help_url}#invalid-auth for more information."
)
# A message, not a password.
PASSWORD_AUTH_MESSAGE = "Username/Password authentication is no longer supported. Migrate to API Tokens or Trusted Publishers instead."  # noqa: S105, E501


class CaveatError(Exception):
    """A caveat could not be parsed or is not satisfied; the argument is a short reason."""

    @property
    def reason(self) -> str:
        return str(self.args[0]) if self.args else "caveat not satisfied"


class TokenVerificationError(Exception):
    """A token failed verification. `reason` is short ("malformed macaroon", "token is expired").

    `token` is the row when one was found and its signature checked (for the owner's history).
    """

    def __init__(self, reason: str, *, token=None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.token = token


class TokenAuthenticationError(UserFacingError):
    """A request's credentials were refused. `message` is the sentence to show; `status` HTTP."""

    def __init__(self, message: str, *, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


class TokenCreationError(UserFacingError, ValueError):
    """A token could not be created; the message says what to change."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class TokenCreationLimitedError(TokenCreationError):
    """The user created too many tokens lately; the message says when to try again."""
