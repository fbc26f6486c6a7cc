"""Errors of publisher management; their messages are shown to users as they are."""


class PublisherError(ValueError):
    """A publisher or pending publisher could not be added or removed; says what to do."""
