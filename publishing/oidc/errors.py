"""Why a token request failed, with PyPI's error codes (the clients print them)."""


class TokenRequestError(Exception):
    """A refused mint-token request: `code` is PyPI's, `description` says what to fix."""

    def __init__(self, code: str, description: str, *, status: int = 422) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status


def invalid_payload(description: str) -> TokenRequestError:
    return TokenRequestError("invalid-payload", description)


def invalid_token(description: str = "malformed or invalid token") -> TokenRequestError:
    return TokenRequestError("invalid-token", description)


def invalid_publisher(detail: str) -> TokenRequestError:
    return TokenRequestError(
        "invalid-publisher", f"valid token, but no corresponding publisher ({detail})"
    )
