"""Real pip, uv and twine against the live server after a yank and after a deletion (PEP 592):
a yanked release is skipped unless pinned exactly, then installed with its reason printed; a
deleted file is gone from the index and its filename is refused when uploaded again."""

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from projects.models import File, Release
from projects.services.deletion import delete_file
from projects.services.yank import yank_release
from tests.e2e.test_upload_clients import (
    VENV_BIN,
    output,
    pip_install,
    run_client,
    twine,
    write,
)
from tests.factories import TwoFactorUserFactory
from tests.publishing.upload.dists import make_wheel
from tokens.services import create_api_token

pytestmark = pytest.mark.e2e

REASON = "Broken build: imports fail on start"


@pytest.fixture
def maintainer(transactional_db):
    return TwoFactorUserFactory(username="e2e-lifecycle")


@pytest.fixture
def published(live_site, maintainer, tmp_path):
    """`e2e-lifecycle` 1.0 and 2.0 uploaded with twine; 2.0 yanked with a reason."""
    _row, token = create_api_token(user=maintainer, name="e2e", actor=maintainer)
    dist_dir = tmp_path / "dist"
    dist_dir.mkdir()
    wheels = [
        write(
            dist_dir,
            make_wheel("e2e-lifecycle", version, payload=f"VERSION = {version!r}\n".encode()),
        )
        for version in ("1.0", "2.0")
    ]
    uploaded = twine(live_site, tmp_path, *wheels, password=token)
    assert uploaded.returncode == 0, output(uploaded) + live_site.log()
    return live_site, token, wheels


def _installed_version(target: Path) -> str:
    return (target / "e2e_lifecycle" / "__init__.py").read_text()


def pip(site, tmp_path: Path, requirement: str) -> tuple[subprocess.CompletedProcess, Path]:
    target = tmp_path / f"pip-{requirement}"
    return pip_install(site, tmp_path, requirement, target), target


def uv(site, tmp_path: Path, requirement: str) -> tuple[subprocess.CompletedProcess, Path]:
    target = tmp_path / f"uv-{requirement}"
    command = [
        str(VENV_BIN / "uv"),
        "pip",
        "install",
        "--no-cache",
        "--python",
        sys.executable,
        "--index-url",
        f"{site.url}/simple/",
        "--target",
        str(target),
        requirement,
    ]
    return run_client(command, tmp_path), target


@pytest.mark.parametrize("install", [pip, uv], ids=["pip", "uv"])
def test_after_a_yank_installers_take_the_previous_version_unless_pinned(
    published, maintainer, tmp_path, install
):
    site, _token, _wheels = published
    yank_release(release=Release.objects.get(version="2.0"), actor=maintainer, reason=REASON)

    unpinned, unpinned_target = install(site, tmp_path, "e2e-lifecycle")
    pinned, pinned_target = install(site, tmp_path, "e2e-lifecycle==2.0")

    assert unpinned.returncode == 0, output(unpinned)
    assert _installed_version(unpinned_target) == "VERSION = '1.0'\n"
    assert pinned.returncode == 0, output(pinned)
    assert _installed_version(pinned_target) == "VERSION = '2.0'\n"
    assert REASON in output(pinned), output(pinned)
    assert "yanked" in output(pinned)


def test_after_a_deletion_the_file_is_gone_and_twine_cannot_upload_it_again(
    published, maintainer, tmp_path, settings
):
    site, token, wheels = published
    settings.MEDIA_ROOT = site.media_root  # the deletion removes the server's stored object
    deleted = File.objects.get(filename=wheels[1].name)
    stored = list(site.media_root.rglob(deleted.filename))
    assert stored, "the live server stored the wheel"

    delete_file(file=deleted, actor=maintainer)

    page = requests.get(
        f"{site.url}/simple/e2e-lifecycle/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        timeout=30,
    ).json()
    assert [file["filename"] for file in page["files"]] == [wheels[0].name]
    pinned, _target = pip(site, tmp_path, "e2e-lifecycle==2.0")
    assert pinned.returncode != 0
    assert "No matching distribution found for e2e-lifecycle==2.0" in output(pinned)
    latest, target = uv(site, tmp_path, "e2e-lifecycle")
    assert latest.returncode == 0, output(latest)
    assert _installed_version(target) == "VERSION = '1.0'\n"
    assert not any(path.exists() for path in stored)

    again = twine(site, tmp_path, wheels[1], password=token)
    assert again.returncode != 0
    assert "400 Bad Request" in output(again)
    assert (
        "This filename was previously used by a file that has since been deleted. Use a "
        "different version." in output(again)
    )
    assert not File.objects.filter(filename=wheels[1].name).exists()
