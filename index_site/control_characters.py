"""Control characters in free text: one rule for every field a person or client types.

Refused everywhere: C0 controls (U+0000-U+001F), DEL (U+007F), C1 controls (U+0080-U+009F) and
the Unicode bidirectional controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069). An
escape sequence in a display name recolours or rewrites an admin's terminal when a log is read;
a bidi override shows `evil-cod.exe` as `evil-exe.doc`; a lone carriage return overwrites the
start of a log line; a C1 NEL (U+0085) is a line break to some readers and not to others.

Multi-line fields (a reason, a list of IP ranges, claim rules) keep `\\n` and `\\t`: a line break
is what they are for and a tab is only blank space. Browsers send every line break of a textarea
as `\\r\\n` (HTML's form submission rules), so forms turn `\\r\\n` into `\\n` before this check
(see `normalize_line_breaks`) and a lone `\\r`, which no browser sends, is refused. Single-line
fields accept no line break and no tab at all: neither can be seen, and both split or misalign
what is shown.
"""

import re

_ALWAYS_REFUSED = (
    "\x00-\x08\x0b-\x1f"  # C0 except TAB (U+0009) and LF (U+000A), decided per field below
    "\x7f-\x9f"  # DEL and C1
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidi controls
)
_SINGLE_LINE = re.compile(f"[{_ALWAYS_REFUSED}\t\n]")
_MULTI_LINE = re.compile(f"[{_ALWAYS_REFUSED}]")


def first_control_character(value: str, *, multiline: bool = False) -> str | None:
    """The first character of `value` the rule refuses, or None.

    With `multiline`, `\\n` and `\\t` are allowed; `\\r` is refused either way (normalise
    `\\r\\n` first with `normalize_line_breaks`).
    """
    match = (_MULTI_LINE if multiline else _SINGLE_LINE).search(value)
    return match.group() if match else None


def normalize_line_breaks(value: str) -> str:
    """`value` with each `\\r\\n` (a browser's line break) turned into `\\n`."""
    return value.replace("\r\n", "\n")


def control_character_message(label: str, character: str) -> str:
    """The sentence shown for a refused character, the same on pages and in the upload API."""
    return (
        f"{label} must not contain control characters (found U+{ord(character):04X}). "
        "Remove it and try again."
    )


def check_control_characters(label: str, value: str, *, multiline: bool = False) -> str | None:
    """The refusal message for `value`, or None when it holds no refused character."""
    character = first_control_character(value, multiline=multiline)
    return None if character is None else control_character_message(label, character)
