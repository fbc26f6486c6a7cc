"""Member names that every archive reader maps to the same path, and to nothing outside it.

Installers and extractors disagree on names that are not plain relative POSIX paths: CPython
cuts a name at its first NUL, `\\` is a separator on Windows and a character elsewhere, `C:x`
is a drive on Windows, `./a`, `a//b` and `a/../b` are one path to one tool and three to another,
and `Foo.py` and `foo.py` (or NFC and NFD spellings of one name) are one file on macOS and
Windows. A control or bidi character lets a name display as another. The ZIP and tar validators
both ask `member_name_problem` for each member and `member_name_key` to find twins, so the two
kinds of archive follow one rule.
"""

import re
import unicodedata

# C0 and DEL, C1, and the Unicode bidi controls (they reorder how a name is displayed).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_DRIVE = re.compile(r"^[A-Za-z]:")
# Longest member name or link target, in UTF-8 bytes. Names past it cannot be extracted on most
# systems anyway, and it bounds what the twin and link checks keep per member.
MAX_NAME_BYTES = 1024


def printable_name(name: str) -> str:
    """`name` quoted for a message, control characters written as escapes, never raw."""
    return "'" + _CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", name) + "'"


def name_encoding_problem(raw: bytes) -> str | None:
    """Why the raw bytes of a name cannot be one: not UTF-8, or longer than MAX_NAME_BYTES."""
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        shown = printable_name(raw.decode("utf-8", "replace"))
        return f"the member name {shown} is not valid UTF-8"
    if len(raw) > MAX_NAME_BYTES:
        shown = printable_name(name[:60] + "...")
        return f"the member name {shown} is longer than {MAX_NAME_BYTES:,} bytes"
    return None


def member_name_problem(name: str, *, is_dir: bool = False) -> str | None:
    """Why `name` cannot be a member's name, or None when every reader reads it the same way.

    A directory's name may end with one `/`; any other empty segment is refused.
    """
    if not name:
        return "a member has an empty name"
    problem = _character_problem(name) or _segment_problem(name, is_dir=is_dir)
    return f"the member name {printable_name(name)} {problem}" if problem else None


def _character_problem(name: str) -> str | None:
    if control := _CONTROL.search(name):
        return f"contains the control character U+{ord(control.group()):04X}"
    if "\\" in name:
        return "contains a backslash"
    if name.startswith("/"):
        return "is an absolute path"
    if _DRIVE.match(name):
        return "starts with a drive letter"
    return None


_SEGMENT_PROBLEMS = {
    "..": "contains a '..' segment",
    ".": "contains a '.' segment",
    "": "contains an empty segment",
}


def _segment_problem(name: str, *, is_dir: bool) -> str | None:
    segments = name.split("/")
    if is_dir and len(segments) > 1 and segments[-1] == "":
        segments.pop()
    return next((_SEGMENT_PROBLEMS[s] for s in segments if s in _SEGMENT_PROBLEMS), None)


def member_name_key(name: str) -> str:
    """The path `name` maps to on a case-insensitive, normalising file system.

    Two members with one key are twins: refused, since which of them an installer keeps depends
    on the reader and the platform.
    """
    return unicodedata.normalize("NFC", name.rstrip("/")).casefold()


def twin_problem(first: str, second: str) -> str:
    """Why two members with one `member_name_key` are refused, in words."""
    if first == second:
        return f"the member {printable_name(second)} appears twice"
    return (
        f"the members {printable_name(first)} and {printable_name(second)} differ only in case "
        "or Unicode normalisation"
    )
