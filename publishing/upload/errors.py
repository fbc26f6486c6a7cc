"""How the upload API answers a refused upload.

twine prints only the HTTP reason phrase, uv prints the `code` of a JSON body, and a human with
curl reads the body: every refusal carries the same sentence in all three places, as PyPI does.
"""

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, JsonResponse

from index_site.errors import UserFacingError
from index_site.reason_phrase import reason_phrase
from projects.exceptions import ProjectNameError
from projects.services.files import FileRejectedError
from tokens.exceptions import TokenAuthenticationError


class UploadError(UserFacingError):
    """A refused upload. `message` is the sentence the client shows; it says what to do."""

    def __init__(self, message: str, *, status: int = 400, drain_body: bool = True) -> None:
        super().__init__(message)
        self.status = status
        # Whether to read (and discard) the rest of the body before answering, so the client
        # reads the answer; not for bodies too large to be worth reading at all.
        self.drain_body = drain_body


def upload_refusal(error: UserFacingError) -> UploadError:
    """The upload API's answer to a refusal from any step: its sentence, with the status for
    its kind. The one translation of the lower apps' errors; the pipeline lets them propagate.
    """
    if isinstance(error, UploadError):
        return error
    if isinstance(error, TokenAuthenticationError):
        return UploadError(error.message, status=error.status)
    if isinstance(error, ProjectNameError):
        return UploadError(error.message, status=409 if error.code == "conflict" else 400)
    if isinstance(error, FileRejectedError):
        return UploadError(error.message, status=error.status)
    # A repeated or unstorable field: the request is at fault.
    return UploadError(error.message)


def _prefers_json(request: HttpRequest) -> bool:
    # Listed first, text wins ties: `*/*` (twine, curl) gets plain text, uv's
    # `application/json;q=0.9, text/plain;q=0.8` gets JSON.
    return request.get_preferred_type(["text/plain", "application/json"]) == "application/json"


def error_response(request: HttpRequest, error: UploadError) -> HttpResponse:
    """The response for `error`: reason phrase plus a text or JSON body, by the Accept header."""
    reason = reason_phrase(error.message)
    if _prefers_json(request):
        response: HttpResponse = JsonResponse(
            {
                "message": error.message,
                "code": f"{error.status} {error.message}",
                "title": HTTPStatus(error.status).phrase,
            },
            status=error.status,
        )
    else:
        response = HttpResponse(
            error.message + "\n", status=error.status, content_type="text/plain; charset=utf-8"
        )
    response.reason_phrase = reason
    return response
