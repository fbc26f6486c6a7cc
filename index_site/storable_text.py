"""Text the database can store: the one test every request value passes before it reaches a query.

PostgreSQL refuses a NUL (U+0000) anywhere in a text value, and no UTF-8 database can hold a
lone surrogate (U+D800-U+DFFF outside a pair: a JSON body can spell one as `"\\ud800"`). Such a
value in a lookup is not "no such row" to the database but an error, which became a 500 page.
No project name, file path, token or form value ever contains one, so a request carrying one is
answered as not found (a URL part) or refused (a query value, a JSON body) before any query.
"""

import re

from django.core.exceptions import BadRequest

from index_site.errors import UserFacingError

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def first_unstorable_character(value: str) -> str | None:
    """The first character of `value` the database cannot store, or None."""
    match = _UNSTORABLE.search(value)
    return match.group() if match else None


def unstorable_value_message(name: str, character: str) -> str:
    return (
        f"The field '{name}' contains a character this index cannot store "
        f"(U+{ord(character):04X}); remove it and try again."
    )


class UnstorableValueError(UserFacingError, BadRequest):
    """A query or form value holds a character the database cannot store; `message` says which.

    A BadRequest, so one raised in a view is answered 400 by `index_site.views.bad_request`,
    which shows the message.
    """

    def __init__(self, name: str, character: str) -> None:
        super().__init__(unstorable_value_message(name, character))
        self.name = name


def check_storable(name: str, value: str) -> None:
    """Raise UnstorableValueError when `value` (sent as `name`) cannot be stored."""
    character = first_unstorable_character(value)
    if character is not None:
        raise UnstorableValueError(name, character)
