"""A release's long description as HTML: rendered by readme-renderer, cleaned by nh3.

readme-renderer turns reStructuredText (the default), Markdown (GFM or CommonMark) or plain text
into HTML and passes it through nh3, which keeps an allow-list of tags and attributes: no
script, style, iframe, svg or event handler, and links only to http, https and mailto. Raw HTML
and file inclusion are off in the reStructuredText reader.

The HTML is rendered when a page first needs it and kept in the shared cache, not stored on the
release: the key is the text, its content type and the versions of the renderers, so a fix to
readme-renderer or nh3 (a sanitiser bypass, say) reaches every description as soon as it is
installed, with no re-render job and no stale HTML left in the database. A description never
changes once uploaded, so the key needs no serial; the same text is rendered once for every
replica and release that shows it.
"""

import hashlib
from email.message import EmailMessage
from importlib.metadata import version

from django.core.cache import cache
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from readme_renderer import markdown, rst, txt

DEFAULT_CONTENT_TYPE = "text/x-rst"
DESCRIPTION_CACHE_SECONDS = 7 * 24 * 60 * 60
_RENDERER_VERSIONS = ",".join(
    f"{package}={version(package)}" for package in ("readme-renderer", "nh3", "docutils", "comrak")
)


def parse_content_type(content_type: str) -> tuple[str, dict[str, str]]:
    """The media type of a Description-Content-Type (reStructuredText when empty) and its
    parameters, such as `variant`."""
    if not content_type.strip():
        return DEFAULT_CONTENT_TYPE, {}
    message = EmailMessage()
    message["Content-Type"] = content_type
    # The first pair is the media type itself; parameters follow.
    params = dict((message.get_params() or [])[1:])
    return message.get_content_type(), params


def render_description(text: str, content_type: str = "") -> str | None:
    """Render `text` as its content type says; None when it cannot be rendered.

    An unknown media type renders as plain text, as PyPI does (the upload's metadata check
    refuses unknown types before this runs).
    """
    media_type, params = parse_content_type(content_type)
    if media_type == "text/markdown":
        return markdown.render(text, variant=params.get("variant", "GFM"))
    if media_type == DEFAULT_CONTENT_TYPE:
        return rst.render(text)
    rendered = txt.render(text)
    return None if rendered is None else f"<pre>{rendered}</pre>"


def description_cache_key(text: str, content_type: str) -> str:
    """The shared-cache key of the rendered `text`: its digest and the renderers' versions."""
    renderers = hashlib.sha256(_RENDERER_VERSIONS.encode()).hexdigest()[:16]
    digest = hashlib.sha256(f"{content_type}\0{text}".encode()).hexdigest()
    return f"description:{renderers}:{digest}"


def description_html(text: str, content_type: str = "") -> SafeString:
    """The description as safe HTML for a page, from the shared cache when rendered before.

    A description that cannot be rendered (uploaded before uploads were checked) is shown as
    escaped plain text.
    """
    if not text:
        return mark_safe("")
    key = description_cache_key(text, content_type)
    html = cache.get(key)
    if html is None:
        html = render_description(text, content_type)
        if html is None:
            html = f"<pre>{escape(text)}</pre>"
        cache.set(key, html, DESCRIPTION_CACHE_SECONDS)
    # Cleaned by nh3 in render_description, or escaped above.
    return mark_safe(html)  # noqa: S308
