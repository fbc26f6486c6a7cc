"""Shared fixtures. Credentials are made through the real models and hashers."""

import os

import pytest
from django.core.cache import cache

from tests.factories import UserFactory


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
