"""Refuse an upload whose long description cannot be rendered, as PyPI does.

The project page renders the description with the same function (`projects.descriptions`), so
what is accepted here is what users see there.
"""

from packaging.metadata import Metadata

from projects.descriptions import render_description
from publishing.upload.errors import UploadError

DESCRIPTION_CONTENT_TYPE_HELP = (
    "See https://packaging.python.org/specifications/core-metadata/#description-content-type "
    "for more information."
)


def check_description_renders(metadata: Metadata) -> None:
    """Raise UploadError when the metadata's description does not render in its content type."""
    if not metadata.description:
        return
    content_type = metadata.description_content_type or ""
    if render_description(metadata.description, content_type) is not None:
        return
    where = f"for '{content_type}'" if content_type else "in the default format of reStructuredText"
    raise UploadError(
        f"The description failed to render {where}. Run 'twine check' on the distribution to "
        f"see why, fix the description, then upload again. {DESCRIPTION_CONTENT_TYPE_HELP}"
    )
