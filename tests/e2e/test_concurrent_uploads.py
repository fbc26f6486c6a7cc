"""A CI build matrix publishing at once: real twine processes, one wheel each, all of one
release, in flight together against the live server; first for a project that does not exist
yet, then for a new release of it."""

import subprocess
from pathlib import Path

import pytest
import requests

from auditlog.events import EventType
from auditlog.models import AuditEvent
from projects.models import File, Project, Release
from tests.e2e.test_upload_clients import client_env, twine_command, write
from tests.factories import TwoFactorUserFactory
from tests.publishing.upload.dists import make_wheel
from tokens.services import create_api_token

pytestmark = pytest.mark.e2e

MATRIX = [
    f"cp3{minor}-cp3{minor}-{platform}"
    for minor in (11, 12)
    for platform in (
        "manylinux_2_17_x86_64",
        "musllinux_1_2_x86_64",
        "macosx_11_0_arm64",
        "win_amd64",
    )
]


def _upload_at_once(site, tmp_path: Path, wheels: list[Path], token: str) -> None:
    """Start every twine before waiting for any, so the uploads overlap."""
    processes = [
        subprocess.Popen(
            twine_command(site, wheel, password=token),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=client_env(tmp_path / wheel.stem),
        )
        for wheel in wheels
    ]
    outputs = [process.communicate(timeout=180)[0] for process in processes]
    assert [process.returncode for process in processes] == [0] * len(wheels), (
        "\n".join(outputs) + site.log()
    )


def test_a_build_matrix_uploading_at_once_stores_every_file_and_bumps_the_serial_per_file(
    live_site, tmp_path
):
    owner = TwoFactorUserFactory(username="matrix-owner")
    _row, token = create_api_token(user=owner, name="ci", actor=owner)
    dist_dir = tmp_path / "dist"
    dist_dir.mkdir()
    published: list[str] = []

    # 1.0 races to create the project and its release; 2.0 races to create a release of it.
    for version in ("1.0", "2.0"):
        wheels = [
            write(dist_dir, make_wheel("matrix-pkg", version, tag=tag, payload=tag.encode()))
            for tag in MATRIX
        ]
        _upload_at_once(live_site, tmp_path / version, wheels, token)
        published += [wheel.name for wheel in wheels]

    project = Project.objects.get(normalized_name="matrix-pkg")
    assert Release.objects.filter(project=project).count() == 2
    filenames = File.objects.filter(release__project=project).values_list("filename", flat=True)
    assert sorted(filenames) == sorted(published)
    # One serial step per file: each upload's change is its own version of the index.
    assert project.serial == len(published)
    events = AuditEvent.objects.filter(project=project)
    assert events.filter(event_type=EventType.PROJECT_FILE_ADD).count() == len(published)
    assert events.filter(event_type=EventType.PROJECT_RELEASE_ADD).count() == 2
    assert events.filter(event_type=EventType.PROJECT_CREATE).count() == 1
    stored = sorted(path.name for path in live_site.media_root.rglob("*.whl"))
    assert stored == sorted(published)
    page = requests.get(f"{live_site.url}/simple/matrix-pkg/", timeout=30).text
    assert all(name in page for name in published)
