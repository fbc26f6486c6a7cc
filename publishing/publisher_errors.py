"""Errors of publisher management; their messages are shown to users as they are."""

from index_site.errors import UserFacingError


class PublisherError(UserFacingError, ValueError):
    """A publisher or pending publisher could not be added or removed; says what to do."""
