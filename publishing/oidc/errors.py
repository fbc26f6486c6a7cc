"""Why a token request failed, with PyPI's error codes (the clients print them)."""

from index_site.errors import UserFacingError


class TokenRequestError(UserFacingError):
    """A refused mint-token request: `code` is PyPI's, `message` says what to fix (the
    response's `description`)."""

    def __init__(self, code: str, description: str, *, status: int = 422) -> None:
        super().__init__(description)
        self.code = code
        self.status = status


def invalid_payload(description: str) -> TokenRequestError:
    return TokenRequestError("invalid-payload", description)


def invalid_token(description: str = "malformed or invalid token") -> TokenRequestError:
    return TokenRequestError("invalid-token", description)


def invalid_publisher(detail: str) -> TokenRequestError:
    return TokenRequestError(
        "invalid-publisher", f"valid token, but no corresponding publisher ({detail})"
    )
