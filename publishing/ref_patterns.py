"""Git ref globs a publisher may require: `v*`, `release/**`, `refs/tags/v1.*`.

The syntax is GitHub's branch-filter glob, kept small on purpose: `*` matches any characters
except `/`, `**` matches any characters, `?` one character except `/`; everything else is
literal. No character classes or escapes, so a pattern reads the same to the person who wrote
it and to the matcher, and no pattern can be slow (the translation is a linear regex).
"""

import re
from functools import lru_cache

# Characters git refuses in ref names (git-check-ref-format), plus the glob syntax not offered.
FORBIDDEN_CHARACTERS = set(" ~^:\\[]{}") | {chr(code) for code in range(32)} | {"\x7f"}
MAX_LENGTH = 255


def ref_pattern_problem(pattern: str) -> str | None:
    """Why `pattern` is not a usable ref glob, as a sentence; None when it is."""
    if not pattern:
        return "Enter a pattern, such as v* or release/*."
    if len(pattern) > MAX_LENGTH:
        return f"The pattern is longer than {MAX_LENGTH} characters."
    if any(character in FORBIDDEN_CHARACTERS for character in pattern):
        return (
            "The pattern cannot contain spaces, control characters or any of ~ ^ : \\ [ ] { }. "
            "Use * (any characters but /), ** (any characters) and ? (one character)."
        )
    if "***" in pattern:
        return "Write * or **, not ***."
    if pattern.startswith("/") or pattern.endswith("/") or "//" in pattern:
        return "The pattern cannot start or end with a slash or contain //."
    return None


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    parts = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif pattern[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            parts.append("[^/]")
            index += 1
        else:
            parts.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(parts), re.DOTALL)


def ref_matches(pattern: str, value: str) -> bool:
    """Whether the whole of `value` matches the glob `pattern`."""
    return _compiled(pattern).fullmatch(value) is not None
