"""Reading a small JSON object from a request body: the one JSON body reader of the site.

Every view that takes a JSON body reads it here, so the limits hold everywhere: a size cap
checked before reading, a nesting limit, one value per key, and only text the database can
store. Each refusal carries a sentence (`JSONBodyError.message`) the view can show as it is.
"""

from enum import StrEnum
from typing import Any

from django.http import HttpRequest

from index_site.errors import UserFacingError
from index_site.single_values import RepeatedFieldError, loads_without_repeated_keys
from index_site.storable_text import first_unstorable_character

# The largest body read: a WebAuthn credential or an OIDC JWT is a few kilobytes.
MAX_JSON_BODY_BYTES = 64 * 1024
# The deepest nesting read. The deepest body a client sends (a WebAuthn credential) is 3 deep;
# Python's parser recurses once per level, and 1,000 levels exhaust its stack (RecursionError).
MAX_JSON_DEPTH = 32


class JSONBodyProblem(StrEnum):
    TOO_LARGE = "too_large"
    NOT_JSON = "not_json"
    TOO_DEEP = "too_deep"
    NOT_AN_OBJECT = "not_an_object"
    REPEATED_KEY = "repeated_key"
    UNSTORABLE_TEXT = "unstorable_text"


class JSONBodyError(UserFacingError, ValueError):
    """The body is not JSON the site reads; `problem` says which, `message` as a sentence."""

    def __init__(self, problem: JSONBodyProblem, *, message: str) -> None:
        super().__init__(message)
        self.problem = problem


def _too_large(max_bytes: int) -> JSONBodyError:
    return JSONBodyError(
        JSONBodyProblem.TOO_LARGE,
        message=f"The request body is larger than {max_bytes} bytes; send a smaller one.",
    )


def _too_deep() -> JSONBodyError:
    return JSONBodyError(
        JSONBodyProblem.TOO_DEEP,
        message=f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep; "
        "send a flatter one.",
    )


def _check_values(payload: Any) -> None:
    """Raise for nesting past MAX_JSON_DEPTH or a string (key or value) the database refuses.

    Walked with an explicit stack, so a deep body costs no recursion here.
    """
    stack: list[tuple[Any, int]] = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list) and depth > MAX_JSON_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(key)
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            _check_text(value)


def _check_text(text: str) -> None:
    character = first_unstorable_character(text)
    if character is not None:
        raise JSONBodyError(
            JSONBodyProblem.UNSTORABLE_TEXT,
            message=f"The JSON body contains a character this index cannot store "
            f"(U+{ord(character):04X}); remove it and try again.",
        )


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259); Python's parser accepts them unless told not to.
    raise JSONBodyError(
        JSONBodyProblem.NOT_JSON, message=f"The JSON body contains {name}, which is not JSON."
    )


def parse_json(body: bytes | str) -> Any:
    """The JSON value of `body`, or JSONBodyError: the one JSON parser for what clients send.

    Refuses a key repeated in any object, NaN and Infinity, nesting past MAX_JSON_DEPTH and
    strings the database cannot store. The caller bounds the size of `body`.
    """
    try:
        # A key repeated at any depth is refused: each object here is read as single values.
        payload = loads_without_repeated_keys(body, parse_constant=_reject_constant)
    except RepeatedFieldError as error:
        raise JSONBodyError(JSONBodyProblem.REPEATED_KEY, message=error.message) from None
    except RecursionError:
        # Deeper than the parser's stack: far past the limit, refused the same way.
        raise _too_deep() from None
    except JSONBodyError:
        raise
    except (ValueError, UnicodeDecodeError):
        raise JSONBodyError(
            JSONBodyProblem.NOT_JSON, message="The request body is not valid JSON; send JSON."
        ) from None
    _check_values(payload)
    return payload


def read_body(request: HttpRequest, *, max_bytes: int = MAX_JSON_BODY_BYTES) -> bytes:
    """The raw request body, or JSONBodyError (TOO_LARGE) past `max_bytes`.

    A declared Content-Length over `max_bytes` is refused before anything is read, and at most
    `max_bytes + 1` bytes are ever read, so a large body costs no memory.
    """
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > max_bytes:
        raise _too_large(max_bytes)
    body = request.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise _too_large(max_bytes)
    return body


def read_json_object(
    request: HttpRequest, *, max_bytes: int = MAX_JSON_BODY_BYTES
) -> dict[str, Any]:
    """The request body as a JSON object, or JSONBodyError (see `read_body`, `parse_json`)."""
    payload = parse_json(read_body(request, max_bytes=max_bytes))
    if not isinstance(payload, dict):
        raise JSONBodyError(
            JSONBodyProblem.NOT_AN_OBJECT,
            message="The request body must be a JSON object ({...}).",
        )
    return payload
