"""One error vocabulary: every refusal a person or client sees is a UserFacingError, read
through `.message`; a handler that turned one into text with str() would show whatever the
class keeps in its arguments, not its sentence."""

import ast
import importlib
from pathlib import Path

from index_site.errors import UserFacingError

ROOT = Path(__file__).resolve().parent.parent.parent
APPS = ["accounts", "auditlog", "index_site", "projects", "publishing", "tokens"]


def _app_files() -> list[Path]:
    return [
        path
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def _user_facing_names() -> set[str]:
    for path in _app_files():
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if not module.endswith(("settings", "wsgi", "asgi")):
            importlib.import_module(module.removesuffix(".__init__"))
    names: set[str] = set()
    pending = [UserFacingError]
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return names


def _caught_names(handler: ast.ExceptHandler) -> set[str]:
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return {
        node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "") for node in types
    }


def _reads_as_text(handler: ast.ExceptHandler) -> bool:
    for node in ast.walk(ast.Module(body=handler.body, type_ignores=[])):
        value = None
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "str" and node.args:
            value = node.args[0]
        elif isinstance(node, ast.FormattedValue):
            value = node.value
        if isinstance(value, ast.Name) and value.id == handler.name:
            return True
    return False


def test_every_refusal_class_shares_the_one_base():
    # The refusals of each app, by name: adding one that does not share the base fails here.
    assert {
        "AccountError",
        "FileRejectedError",
        "JSONBodyError",
        "LimitSubjectError",
        "PermissionDeniedError",
        "ProjectNameError",
        "PublisherError",
        "RepeatedFieldError",
        "RoleError",
        "TokenAuthenticationError",
        "TokenCreationError",
        "TokenCreationLimitedError",
        "TokenRequestError",
        "TwoFactorError",
        "UnstorableValueError",
        "UploadError",
        "UsernameTakenError",
        "WebAuthnError",
    } <= _user_facing_names()


def test_a_caught_refusal_is_read_through_its_message():
    names = _user_facing_names()
    offences = []
    for path in _app_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        offences.extend(
            f"{path.relative_to(ROOT)}:{handler.lineno}"
            for handler in ast.walk(tree)
            if isinstance(handler, ast.ExceptHandler)
            and handler.name
            and handler.type is not None
            and _caught_names(handler) & names
            and _reads_as_text(handler)
        )
    assert offences == []
