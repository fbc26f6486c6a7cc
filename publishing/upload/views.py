"""`POST /legacy/`: the upload API twine and uv speak. Thin: the pipeline is publishing.upload."""

import logging

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from index_site.errors import UserFacingError
from index_site.outages import plain_text_outages
from publishing.upload.errors import UploadError, error_response, upload_refusal
from publishing.upload.pipeline import drain_body, upload_file

logger = logging.getLogger(__name__)


# Token-authenticated, never by session cookie, so CSRF cannot apply; the body must also stay
# unread until the streaming upload handler is installed, which CsrfViewMiddleware would prevent.
@csrf_exempt
@never_cache
@plain_text_outages
def legacy_upload(request: HttpRequest) -> HttpResponse:
    """Accept one distribution file (twine, uv); 200 also for the identical file again."""
    if request.method != "POST":
        response = error_response(
            request,
            UploadError(
                "Upload with POST (twine upload or uv publish) to this URL; it serves no pages.",
                status=405,
            ),
        )
        response["Allow"] = "POST"
        return response
    try:
        result = upload_file(request)
    except UserFacingError as error:
        refusal = upload_refusal(error)
        if refusal.drain_body:
            drain_body(request)
        logger.info("Upload refused (%s): %s", refusal.status, refusal.message)
        return error_response(request, refusal)
    except Exception:
        # Answered by the outage or error handlers: the client must be able to read that too.
        drain_body(request)
        raise
    if result.is_restored:
        return HttpResponse(
            f"The file {result.file.filename} was already published, but its stored copy was "
            "missing; it is stored again from this upload.\n",
            content_type="text/plain; charset=utf-8",
        )
    if not result.is_new:
        return HttpResponse(
            f"The file {result.file.filename} was already uploaded with the same content; "
            "nothing changed.\n",
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponse(content_type="text/plain; charset=utf-8")
