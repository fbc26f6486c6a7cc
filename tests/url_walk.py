"""Every URL pattern the site serves, as a concrete path: for tests that must cover every view.

Paths are built from the patterns themselves (converters and regexes get a sample value), so a
view added anywhere is covered without touching the tests that use this module.
"""

import re
import re._parser as sre_parse
import uuid
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import (
    IntConverter,
    PathConverter,
    SlugConverter,
    StringConverter,
    UUIDConverter,
)
from django.urls.resolvers import RegexPattern, RoutePattern

SAMPLE_UUID = str(uuid.UUID(int=1))
CONVERTER_SAMPLES = {
    IntConverter: "1",
    StringConverter: "x",
    SlugConverter: "x",
    PathConverter: "x",
    UUIDConverter: SAMPLE_UUID,
}
ROUTE_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


@dataclass(frozen=True)
class WalkedUrl:
    path: str
    route: str  # the pattern as written, for test ids and messages
    # Every converter along the route, resolvers included, by parameter name.
    converters: tuple[tuple[str, object], ...] = ()

    @property
    def has_text_capture(self) -> bool:
        return any(is_text_converter(converter) for _name, converter in self.converters)


def is_text_converter(converter: object) -> bool:
    """Whether the converter captures free text (`str`, `path` or a subclass of either)."""
    return isinstance(converter, StringConverter | PathConverter)


def sample_for_regex(regex: str) -> str:
    """Return one string the regex matches (the shortest non-empty choice at every step)."""
    return _sample(sre_parse.parse(regex))


def _sample(parsed) -> str:
    out = []
    for op, arg in parsed:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name in {"NOT_LITERAL", "ANY"}:
            out.append("x" if name == "ANY" or arg != ord("x") else "y")
        elif name == "IN":
            out.append(_sample_in(arg))
        elif name == "BRANCH":
            out.append(_sample(arg[1][0]))
        elif name == "SUBPATTERN":
            out.append(_sample(arg[-1]))
        elif name in {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}:
            low, _high, item = arg
            out.append(_sample(item) * max(low, 1))
        elif name in {"AT", "ASSERT", "ASSERT_NOT"}:
            continue
        else:
            msg = f"Cannot build a sample for regex node {name}"
            raise ValueError(msg)
    return "".join(out)


def _sample_in(items) -> str:
    candidates = "x1aA-_."
    negate = any(str(op) == "NEGATE" for op, _ in items)
    for char in candidates:
        if _in_matches(items, char) != negate:
            return char
    msg = f"Cannot build a sample for character set {items}"
    raise ValueError(msg)


def _in_matches(items, char: str) -> bool:
    code = ord(char)
    for op, arg in items:
        name = str(op)
        if (name == "LITERAL" and arg == code) or (name == "RANGE" and arg[0] <= code <= arg[1]):
            return True
        if name == "CATEGORY" and re.fullmatch(_CATEGORIES.get(str(arg), "(?!)"), char):
            return True
    return False


_CATEGORIES = {
    "CATEGORY_DIGIT": r"\d",
    "CATEGORY_WORD": r"\w",
    "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_DIGIT": r"\D",
    "CATEGORY_NOT_WORD": r"\W",
    "CATEGORY_NOT_SPACE": r"\S",
}


def _sample_for_pattern(pattern, text_sample: str | None) -> str:
    if isinstance(pattern, RoutePattern):
        converters = pattern.converters

        def replace(match: re.Match) -> str:
            converter = converters[match["name"]]
            if text_sample is not None and is_text_converter(converter):
                return text_sample
            sample = CONVERTER_SAMPLES.get(type(converter))
            return sample if sample is not None else sample_for_regex(converter.regex)

        return ROUTE_PARAMETER.sub(replace, str(pattern))
    if isinstance(pattern, RegexPattern):
        return sample_for_regex(pattern.regex.pattern)
    msg = f"Unknown URL pattern type {type(pattern).__name__}"
    raise TypeError(msg)


def _converters(pattern) -> tuple[tuple[str, object], ...]:
    return tuple(getattr(pattern, "converters", {}).items())


def walk_urls(urlconf: str | None = None, *, text_sample: str | None = None) -> list[WalkedUrl]:
    """Return one concrete path per URL pattern of `urlconf` (the root URLconf by default).

    With `text_sample`, every free-text capture (`str`, `path` and their subclasses) takes that
    value (already percent-encoded as it would appear in a request) instead of a sample.
    """
    found: dict[str, WalkedUrl] = {}

    def visit(entries, prefix: str, route_prefix: str, converters: tuple) -> None:
        for entry in entries:
            part = _sample_for_pattern(entry.pattern, text_sample)
            route = route_prefix + str(entry.pattern)
            along = converters + _converters(entry.pattern)
            if isinstance(entry, URLResolver):
                visit(entry.url_patterns, prefix + part, route, along)
            elif isinstance(entry, URLPattern):
                path = "/" + prefix + part
                found.setdefault(path, WalkedUrl(path=path, route=route, converters=along))

    visit(get_resolver(urlconf).url_patterns, "", "", ())
    return sorted(found.values(), key=lambda walked: walked.path)
