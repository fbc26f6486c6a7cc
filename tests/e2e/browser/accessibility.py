"""axe-core in Chromium: the WCAG violations of a page that a person would be stopped by.

axe-core is vendored (vendor/axe-core/, its README says how) and evaluated in the page through
the DevTools protocol, which the site's Content-Security-Policy does not apply to: the page under
test is served exactly as users get it.
"""

import hashlib
from functools import cache
from pathlib import Path

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
BLOCKING = ("serious", "critical")


@cache
def _axe_source() -> str:
    source = AXE.read_bytes()
    if hashlib.sha256(source).hexdigest() != AXE_SHA256:
        msg = f"{AXE} differs from the vendored axe-core 4.14.1 (see its README)"
        raise AssertionError(msg)
    return source.decode()


def blocking_violations(tab) -> list[str]:
    """The page's serious and critical axe-core violations, as "rule: target" lines."""
    tab.evaluate(_axe_source())
    result = tab.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, targets: v.nodes.map(n => n.target.join(" "))
            }));
        }"""
    )
    return [
        f"{violation['id']} ({violation['impact']}): {target}"
        for violation in result
        if violation["impact"] in BLOCKING
        for target in violation["targets"]
    ]
