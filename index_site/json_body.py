"""Reading a small JSON object from a request body, with a size cap checked before reading."""

from enum import StrEnum
from typing import Any

from django.http import HttpRequest

from index_site.single_values import RepeatedFieldError, loads_without_repeated_keys

# The largest body read: a WebAuthn credential or an OIDC JWT is a few kilobytes.
MAX_JSON_BODY_BYTES = 64 * 1024


class JSONBodyProblem(StrEnum):
    TOO_LARGE = "too_large"
    NOT_JSON = "not_json"
    NOT_AN_OBJECT = "not_an_object"
    REPEATED_KEY = "repeated_key"


class JSONBodyError(ValueError):
    """The body is not a JSON object of acceptable size; `problem` says which.

    For REPEATED_KEY, `message` is the sentence to show ("The field 'x' was sent more than
    once; send it once.").
    """

    def __init__(self, problem: JSONBodyProblem, *, message: str = "") -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.message = message


def read_json_object(
    request: HttpRequest, *, max_bytes: int = MAX_JSON_BODY_BYTES
) -> dict[str, Any]:
    """The request body as a JSON object, or JSONBodyError.

    A declared Content-Length over `max_bytes` is refused before anything is read, and at most
    `max_bytes + 1` bytes are ever read, so a large body costs no memory.
    """
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > max_bytes:
        raise JSONBodyError(JSONBodyProblem.TOO_LARGE)
    body = request.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise JSONBodyError(JSONBodyProblem.TOO_LARGE)
    try:
        # A key repeated at any depth is refused: each object here is read as single values.
        payload = loads_without_repeated_keys(body)
    except RepeatedFieldError as error:
        raise JSONBodyError(JSONBodyProblem.REPEATED_KEY, message=error.message) from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise JSONBodyError(JSONBodyProblem.NOT_JSON) from None
    if not isinstance(payload, dict):
        raise JSONBodyError(JSONBodyProblem.NOT_AN_OBJECT)
    return payload
