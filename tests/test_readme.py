"""The README's configuration tables document every environment variable the settings read."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def settings_environment_variables() -> set[str]:
    """Names passed to `env(...)`/`env.<cast>(...)` in index_site/settings.py."""
    tree = ast.parse((REPO / "index_site" / "settings.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        is_env = (isinstance(func, ast.Name) and func.id == "env") or (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "env"
        )
        first = node.args[0]
        if is_env and isinstance(first, ast.Constant) and isinstance(first.value, str):
            names.add(first.value)
    return names


def test_settings_read_the_environment_variables_this_test_finds():
    assert {"SECRET_KEY", "DATABASE_URL", "SITE_URL", "CELERY_BROKER_URL"} <= (
        settings_environment_variables()
    )


def test_readme_documents_every_environment_variable():
    readme = (REPO / "README.md").read_text()
    table_rows = {line for line in readme.splitlines() if line.startswith("| `")}
    documented = {row.split("`")[1] for row in table_rows}
    missing = sorted(settings_environment_variables() - documented)
    assert missing == [], f"add a row for each to the README's Configuration tables: {missing}"
