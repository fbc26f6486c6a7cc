"""Content negotiation for the simple index (PEP 691).

The server prefers JSON, then the versioned HTML type, then plain `text/html`; the client's
q-values win over that order. No Accept header (or `*/*`) gets `text/html`, which every client
understands. Nothing acceptable (or an unknown `?format=`): None, and the view answers 406.
"""

from dataclasses import dataclass

JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
TEXT_HTML = "text/html"

# Server preference order, and the aliases PEP 691 defines for "the latest version".
SERVED_TYPES = (JSON_V1, HTML_V1, TEXT_HTML)
ALIASES = {
    "application/vnd.pypi.simple.latest+json": JSON_V1,
    "application/vnd.pypi.simple.latest+html": HTML_V1,
}


@dataclass(frozen=True)
class MediaRange:
    media_type: str
    quality: float
    specificity: int


def _parse_accept(header: str) -> list[MediaRange]:
    ranges = []
    for raw_part in header.split(","):
        part = raw_part.strip()
        if not part:
            continue
        media_type, *params = (item.strip() for item in part.split(";"))
        media_type = ALIASES.get(media_type.lower(), media_type.lower())
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
                quality = min(max(quality, 0.0), 1.0)
        if media_type == "*/*":
            specificity = 0
        elif media_type.endswith("/*"):
            specificity = 1
        else:
            specificity = 2
        ranges.append(MediaRange(media_type, quality, specificity))
    return ranges


def _quality_for(served: str, ranges: list[MediaRange]) -> float:
    """The q-value of the most specific range that matches `served` (RFC 9110 §12.5.1)."""
    best: MediaRange | None = None
    main_type = served.split("/", 1)[0]
    for media_range in ranges:
        if media_range.media_type in (served, f"{main_type}/*", "*/*") and (
            best is None or media_range.specificity > best.specificity
        ):
            best = media_range
    return best.quality if best is not None else 0.0


def choose_simple_content_type(accept: str | None, format_param: str | None = None) -> str | None:
    """The media type to answer with, or None when the client accepts none we serve.

    `format_param` (PEP 691's optional `?format=` query, for people exploring in a browser and
    for links to one format) overrides the header. It must name a served type or an alias: any
    other value gives None rather than a silent fallback to the header, so a mistyped
    `?format=` is answered with the list of formats instead of a page in another format.
    """
    if format_param:
        chosen = ALIASES.get(format_param.strip().lower(), format_param.strip().lower())
        return chosen if chosen in SERVED_TYPES else None
    if not accept or not accept.strip():
        return TEXT_HTML
    ranges = _parse_accept(accept)
    if all(media_range.specificity == 0 for media_range in ranges):
        # Only `*/*` (curl, browsers without a preference): plain HTML, like PyPI.
        return TEXT_HTML if ranges and ranges[0].quality > 0 else None
    best_type, best_quality = None, 0.0
    for served in SERVED_TYPES:
        quality = _quality_for(served, ranges)
        if quality > best_quality:
            best_type, best_quality = served, quality
    return best_type
