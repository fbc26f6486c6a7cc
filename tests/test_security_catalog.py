"""docs/security-catalog.md names, for each row of the attack catalog, the tests that cover it:
every test it names must exist, so the table cannot drift from the suite."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "docs" / "security-catalog.md"
SHORT_FORMS = {
    "upload_refused": "tests/publishing/upload/test_upload_refused.py",
    "mint": "tests/publishing/oidc/test_mint_token.py",
}


def named_tests() -> list[tuple[str, Path, str]]:
    """(row, file, test name or "") for each test reference in the table.

    In a cell, `::name` refers to the file named last, and a bare `test_x.py` sits in the
    folder of the file named before it, as the table's short forms are written.
    """
    references = []
    for line in CATALOG.read_text().splitlines():
        if not line.startswith("| ") or line.startswith("| Row"):
            continue
        row = line.split("|")[1].strip()
        current: Path | None = None
        for reference in re.findall(r"`([^`]+)`", line):
            path, _, name = reference.partition("::")
            path = SHORT_FORMS.get(path, path.replace("T/", "tests/", 1))
            if path.endswith(".py"):
                if "/" not in path and current is not None:
                    current = current.parent / path
                else:
                    current = ROOT / path
            elif path:
                continue
            if current is not None and (path or name):
                references.append((row, current, name.split("[")[0]))
    return references


def test_the_catalog_names_tests():
    assert len(named_tests()) > 300


def test_every_test_the_catalog_names_exists():
    missing = []
    for row, path, name in named_tests():
        if not path.exists():
            missing.append(f"{row}: {path.relative_to(ROOT)}")
        elif name and not re.search(rf"^(async )?def {re.escape(name)}\(", path.read_text(), re.M):
            missing.append(f"{row}: {path.relative_to(ROOT)}::{name}")
    assert not missing, "\n".join(missing)
