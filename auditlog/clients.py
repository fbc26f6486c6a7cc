"""The client an event came from, in words: "uv 0.13.9", "twine 7.0.0", "Chrome 156 on Linux".

Installers and HTTP libraries name themselves first (`uv/0.13.9 {...}`); browsers are read by
ua-parser, the maintained parser of the ua-parser project's shared regexes. Parsing is cached:
a history page shows the same few clients many times.
"""

import functools
import re

from ua_parser import parse

_SELF_NAMING = re.compile(
    r"^(pip|uv|twine|poetry|pdm|hatch|flit|maturin|python-requests|curl|Python-urllib|"
    r"Go-http-client|gh-action-pypi-publish)/([\w.+-]+)"
)


@functools.lru_cache(maxsize=2048)
def client_in_words(user_agent: str) -> str:
    """`user_agent` as a person would name the client; "" when there is none."""
    user_agent = user_agent.strip()
    if not user_agent:
        return ""
    if named := _SELF_NAMING.match(user_agent):
        return f"{named[1]} {named[2]}"
    result = parse(user_agent)
    browser = result.user_agent
    if browser is None or browser.family == "Other":
        return user_agent.split(maxsplit=1)[0].replace("/", " ", 1)
    name = f"{browser.family} {browser.major}" if browser.major else browser.family
    system = result.os
    return f"{name} on {system.family}" if system and system.family != "Other" else name
