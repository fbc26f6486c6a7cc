"""The apps import each other in one direction only (ARCHITECTURE.md):
publishing -> tokens -> projects -> accounts -> index_site, and auditlog imports no app."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["publishing", "tokens", "projects", "accounts", "index_site"]
APPS = [*ORDER, "auditlog"]


def _forbidden(app: str) -> set[str]:
    if app == "auditlog":
        return set(APPS) - {"auditlog", "index_site"}
    return set(ORDER[: ORDER.index(app)])


def _imported_apps(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("app", APPS)
def test_an_app_imports_no_app_above_it(app):
    offences = {
        str(path.relative_to(ROOT)): sorted(_imported_apps(path) & _forbidden(app))
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and "settings.py" not in path.name
    }
    assert {path: apps for path, apps in offences.items() if apps} == {}
