"""Project status as the real clients meet it: twine and uv print the archived refusal, pip and
uv cannot install a quarantined project, and lifting the quarantine makes it installable again."""

import subprocess
import sys

import pytest

from projects.models import File, Project
from projects.services.status import (
    lift_project_quarantine,
    quarantine_project,
    set_project_status,
)
from tests.e2e.test_upload_clients import VENV_BIN, client_env, output, twine, uv_publish, write
from tests.factories import TwoFactorUserFactory
from tests.publishing.upload.dists import make_wheel
from tokens.services import create_api_token

pytestmark = pytest.mark.e2e

ARCHIVED = "Project 'e2e-archived' is archived; unarchive it to upload."


@pytest.fixture
def site(live_site_factory, transactional_db):
    return live_site_factory()


@pytest.fixture
def maintainer(transactional_db):
    return TwoFactorUserFactory(username="e2e-status")


@pytest.fixture
def token(maintainer) -> str:
    _row, raw = create_api_token(user=maintainer, name="e2e", actor=maintainer)
    return raw


INSTALLERS = {
    "pip": [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-cache-dir",
        "--disable-pip-version-check",
    ],
    "uv": [str(VENV_BIN / "uv"), "pip", "install", "--no-cache", "--python", sys.executable],
}


def _install(site, tmp_path, installer: str, requirement: str):
    """Install `requirement` from the live site with pip or uv, into a target of its own."""
    return subprocess.run(
        [
            *INSTALLERS[installer],
            "--index-url",
            f"{site.url}/simple/",
            "--target",
            str(tmp_path / f"{installer}-target"),
            requirement,
        ],
        capture_output=True,
        text=True,
        env=client_env(tmp_path),
        timeout=120,
        check=False,
    )


def test_twine_and_uv_print_the_archived_refusal(site, token, maintainer, tmp_path):
    first = write(tmp_path, make_wheel("e2e-archived", "1.0"))
    assert twine(site, tmp_path, first, password=token).returncode == 0
    project = Project.objects.get(normalized_name="e2e-archived")
    set_project_status(project=project, status="archived", actor=maintainer)
    wheel = write(tmp_path, make_wheel("e2e-archived", "1.1"))

    by_twine = twine(site, tmp_path, wheel, password=token)
    by_uv = uv_publish(site, tmp_path, wheel, token=token)

    assert by_twine.returncode != 0
    assert "403 Forbidden" in output(by_twine)
    assert ARCHIVED in output(by_twine), output(by_twine)
    assert by_uv.returncode != 0
    assert f"Server says: 403 {ARCHIVED}" in output(by_uv), output(by_uv)
    assert not File.objects.filter(filename=wheel.name).exists()
    # Its existing files stay installable.
    assert _install(site, tmp_path, "pip", "e2e-archived").returncode == 0


def test_pip_and_uv_cannot_install_a_quarantined_project(site, token, maintainer, tmp_path):
    wheel = write(tmp_path, make_wheel("e2e-quarantined", "1.0", payload=b"EVIL = True\n"))
    assert twine(site, tmp_path, wheel, password=token).returncode == 0
    project = Project.objects.get(normalized_name="e2e-quarantined")
    admin = TwoFactorUserFactory(is_staff=True, is_superuser=True)
    quarantine_project(project=project, actor=admin, reason="Malware")

    by_pip = _install(site, tmp_path, "pip", "e2e-quarantined")
    by_uv = _install(site, tmp_path, "uv", "e2e-quarantined")

    assert by_pip.returncode != 0
    assert "No matching distribution found for e2e-quarantined" in output(by_pip), output(by_pip)
    assert not (tmp_path / "pip-target" / "e2e_quarantined").exists()
    assert by_uv.returncode != 0
    assert "there are no versions of e2e-quarantined" in output(by_uv), output(by_uv)

    lift_project_quarantine(project=project, actor=admin, reason="False positive")

    again = _install(site, tmp_path, "pip", "e2e-quarantined")
    assert again.returncode == 0, output(again)
    assert (tmp_path / "pip-target" / "e2e_quarantined" / "__init__.py").exists()
