"""Races that only a real database shows (PostgreSQL): counters and the last-owner guard."""

import threading

import pytest
from django.db import connection, connections

from projects.exceptions import RoleError
from projects.models import DownloadCount, Role
from projects.services.downloads import record_download
from projects.services.projects import create_project
from projects.services.roles import remove_role
from tests.factories import RoleFactory, TwoFactorUserFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _require_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL: set DATABASE_URL=postgres://...")


def _run_together(target, count):
    barrier = threading.Barrier(count)
    errors = []

    def run(index):
        try:
            barrier.wait(timeout=10)
            target(index)
        except Exception as error:  # noqa: BLE001 - collected and asserted by the test
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_concurrent_downloads_are_all_counted_including_the_first_of_the_day():
    project = create_project(name="busy-project", creator=TwoFactorUserFactory())

    def download_many(_index):
        for _ in range(25):
            record_download(project_id=project.pk)

    assert _run_together(download_many, 8) == []
    assert DownloadCount.objects.get(project=project).count == 200


def test_two_owners_removing_each_other_at_once_leave_one_owner():
    first = TwoFactorUserFactory()
    project = create_project(name="contested", creator=first)
    second = TwoFactorUserFactory()
    RoleFactory(project=project, user=second, role=Role.Kind.OWNER)
    roles = {
        first.pk: Role.objects.get(project=project, user=first),
        second.pk: Role.objects.get(project=project, user=second),
    }
    pairs = [(first, roles[second.pk]), (second, roles[first.pk])]

    def remove_other(index):
        actor, role = pairs[index]
        remove_role(role=role, actor=actor)

    errors = _run_together(remove_other, 2)
    # Whoever came second was either refused as the last owner or had lost their own role.
    assert len(errors) == 1
    assert isinstance(errors[0], RoleError)
    assert Role.objects.filter(project=project, role=Role.Kind.OWNER).count() == 1
