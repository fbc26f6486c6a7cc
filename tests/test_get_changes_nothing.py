"""No GET anywhere changes state: every URL the site serves, walked from the URLconf, is
fetched by a logged-in superuser who owns a project, and no stored row differs afterwards.

The few writes a GET makes on purpose are bookkeeping, not state a person or client acts on:
the session itself (which also holds an authenticator app's setup until a code confirms it),
the last visit to one's own security history, and download counts.
"""

import time

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.test import Client

from accounts.login import SECOND_FACTOR_VERIFIED_KEY
from accounts.reauth import AUTHENTICATED_AT_KEY
from auditlog.models import HistoryVisit
from projects.models import DownloadCount
from projects.services.projects import create_project
from tests.factories import TwoFactorUserFactory
from tests.url_walk import walk_urls

pytestmark = pytest.mark.django_db
BOOKKEEPING = {Session, HistoryVisit, DownloadCount}


def stored_rows() -> dict[str, list[dict]]:
    return {
        model._meta.label: list(model._base_manager.order_by("pk").values())
        for model in apps.get_models()
        if model not in BOOKKEEPING and model._meta.managed
    }


def test_no_get_changes_a_stored_row():
    owner = TwoFactorUserFactory(is_staff=True, is_superuser=True)
    project = create_project(name="walked", creator=owner)
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    session = client.session
    session[AUTHENTICATED_AT_KEY] = int(time.time())
    session[SECOND_FACTOR_VERIFIED_KEY] = True
    session.save()
    before = stored_rows()

    statuses = {}
    for walked in walk_urls(text_sample=project.normalized_name):
        if walked.path.startswith("/account/logout"):
            continue  # a GET here is refused (tested), but it must not end this walk's session
        statuses[walked.path] = client.get(walked.path).status_code

    changed = {
        label: (rows, stored_rows()[label])
        for label, rows in before.items()
        if rows != stored_rows()[label]
    }
    assert not changed, changed
    assert not [path for path, status in statuses.items() if status >= 500], statuses
    assert sum(status == 200 for status in statuses.values()) >= 30
