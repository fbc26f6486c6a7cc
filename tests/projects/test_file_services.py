"""The plain services that write a release and its file run only inside their caller's
transaction, so no row of an upload can commit apart from the others."""

import pytest

from projects.services.files import (
    NewFile,
    NewRelease,
    add_file,
    create_release,
    hold_project_for_file,
)
from projects.services.projects import bump_serial
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db(transaction=True)

NEW_FILE = NewFile(
    filename="widget-1.0.tar.gz",
    packagetype="sdist",
    python_version="source",
    requires_python="",
    size=10,
    md5_digest="0" * 32,
    sha256_digest="1" * 64,
    blake2_256_digest="2" * 64,
)
RELEASE = NewRelease(version="1.0", canonical_version="1")


@pytest.mark.parametrize(
    "write",
    [
        lambda project: hold_project_for_file(
            project=project, new_file=NEW_FILE, canonical_version="1"
        ),
        lambda project: create_release(project=project, release=RELEASE, actor=None, event_data={}),
        lambda project: add_file(
            project=project,
            release_id=1,
            release=RELEASE,
            new_file=NEW_FILE,
            actor=None,
            event_data={},
        ),
        lambda project: bump_serial(project=project),
    ],
    ids=["hold_project_for_file", "create_release", "add_file", "bump_serial"],
)
def test_a_write_service_outside_a_transaction_refuses_to_run(write):
    project = ProjectFactory()

    with pytest.raises(RuntimeError, match="must run inside the transaction"):
        write(project)

    project.refresh_from_db()
    assert project.serial == 0
    assert not project.releases.exists()
