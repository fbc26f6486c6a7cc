"""The one base of the errors a person or client sees.

Every refusal written for the one who made the request (a form, a page, the upload API, a JSON
endpoint) is a UserFacingError: `message` is one sentence saying what went wrong, why, and what
to do. It is read as `.message`, never as `str(error)`, so a subclass can carry more (a status,
a code, a field) without changing what is shown. Each kind of answer translates these errors in
one place: `index_site.views.bad_request` for pages, `publishing.upload.errors.upload_refusal`
for the upload API.
"""


class UserFacingError(Exception):
    """A refusal shown as it is: `message` says what went wrong and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
