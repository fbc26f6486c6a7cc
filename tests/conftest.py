"""Shared fixtures. Credentials are made through the real models and hashers."""

import os
from pathlib import Path

import pytest
from django.core.cache import cache

from tests.factories import UserFactory


def pytest_configure(config):
    """WhiteNoise warns (an error here) without STATIC_ROOT; tests never run collectstatic.

    Passwords are hashed by Argon2id at its smallest cost (`tests.hashers`), production's
    hasher list following it, so hashes made with production's cost still verify.

    On PostgreSQL, Django's backend empties tables between transactional tests by DELETE
    rather than TRUNCATE (`tests.postgresql_backend`); every query is otherwise its own.
    """
    from django.conf import settings  # noqa: PLC0415 - settings are configured by pytest-django
    from django.db import connections  # noqa: PLC0415 - after the settings, as above

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.postgresql":
        database["ENGINE"] = "tests.postgresql_backend"
        # The connection already made (pytest-django's setup) is replaced by one of the backend.
        connections["default"].close()
        del connections["default"]
    settings.PASSWORD_HASHERS = [
        "tests.hashers.MinimalArgon2PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]


def pytest_collection_modifyitems(config, items):
    """In CI a test skipped for a missing service is a failure: turn such skips into errors."""
    if os.environ.get("CI") != "true":
        return
    config.pluginmanager.register(_FailSkipsInCI(), "fail-skips-in-ci")


class _FailSkipsInCI:
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if report.skipped and call.excinfo is not None:
            report.outcome = "failed"
            report.longrepr = (
                f"Skipped in CI, where every service must be present: {report.longrepr}"
            )


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters and cached keys must not leak from one test into the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def password() -> str:
    return "correct horse battery staple"


@pytest.fixture
def user(db, password):
    return UserFactory(password=password)
