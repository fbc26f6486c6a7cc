"""One value where one is meant: a field sent twice is refused, never "last one wins".

A form field, multipart part, query parameter or JSON key that the code reads as one value must
arrive once. When it arrives twice, different layers can read different copies (a proxy or a
log the first, Django's `QueryDict.get` the last, a JSON parser whichever it likes), which is
how a checked value and a used value come apart. Fields that are lists by nature (the
multiple-use core-metadata fields, multi-select form fields) are read with `getlist` and are
not affected.
"""

import json
from collections.abc import Iterable
from typing import Any, Protocol

from django.core.exceptions import BadRequest

from index_site.errors import UserFacingError
from index_site.storable_text import check_storable


class MultiValueData(Protocol):
    """What a QueryDict or MultiValueDict offers: every value sent under one name."""

    def getlist(self, key: str, default: list | None = None) -> list: ...


def repeated_field_message(name: str) -> str:
    return f"The field '{name}' was sent more than once; send it once."


class RepeatedFieldError(UserFacingError, BadRequest):
    """A single-valued field or key arrived more than once; `message` says which.

    A BadRequest, so one raised in a view is answered 400 by `index_site.views.bad_request`,
    which shows the message.
    """

    def __init__(self, name: str) -> None:
        super().__init__(repeated_field_message(name))
        self.name = name


def repeated_names(data: Any, names: Iterable[str]) -> list[str]:
    """The `names` sent more than once in `data`, in the order given.

    A plain dict (a test, a form built from code) cannot repeat a name; only data with
    `getlist` (what Django parses from a request) is checked.
    """
    getlist = getattr(data, "getlist", None)
    if getlist is None:
        return []
    return [name for name in names if len(getlist(name)) > 1]


def check_single_values(data: MultiValueData, names: Iterable[str]) -> None:
    """Raise RepeatedFieldError for the first of `names` sent more than once."""
    for name in repeated_names(data, names):
        raise RepeatedFieldError(name)


def single_query_value(data: MultiValueData, name: str, default: str = "") -> str:
    """The one value of `name` in a query string (or form), `default` when absent.

    A repeated parameter raises RepeatedFieldError and a value holding a character the
    database cannot store raises UnstorableValueError; Django answers both with a 400.
    """
    values = data.getlist(name)
    if len(values) > 1:
        raise RepeatedFieldError(name)
    if not values:
        return default
    check_storable(name, values[0])
    return values[0]


def _object_without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise RepeatedFieldError(key)
        result[key] = value
    return result


def loads_without_repeated_keys(text: str | bytes, **kwargs: Any) -> Any:
    """`json.loads`, refusing an object (at any depth) that names a key twice.

    RFC 8259 leaves the meaning of a repeated key open and parsers differ (Python keeps the last,
    others the first or refuse), so a signed or checked body could mean two things.
    """
    return json.loads(text, object_pairs_hook=_object_without_repeated_keys, **kwargs)
