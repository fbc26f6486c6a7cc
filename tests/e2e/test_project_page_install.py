"""The install lines of the project page, run as shown by real pip and uv, install the package
from this index; the description twine uploaded is on the page, rendered."""

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.e2e.test_upload_clients import client_env, output, twine, write
from tests.factories import TwoFactorUserFactory
from tests.publishing.upload.dists import core_metadata, make_wheel
from tokens.services import create_api_token

pytestmark = pytest.mark.e2e

VENV_BIN = Path(sys.executable).parent
DESCRIPTION = "# Page sample\n\nInstalled **from this index**.\n"


@pytest.fixture
def site(live_site_factory, transactional_db):
    return live_site_factory()


@pytest.fixture
def token(transactional_db):
    user = TwoFactorUserFactory(username="page-uploader")
    _row, raw = create_api_token(user=user, name="e2e", actor=user)
    return raw


def run(command: list[str], tmp_path: Path, cwd: Path | None = None):
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=client_env(tmp_path),
        cwd=cwd,
        timeout=180,
        check=False,
    )


def test_the_install_lines_on_the_page_install_from_this_index(site, token, tmp_path):
    metadata = core_metadata(
        "page-sample", "1.0", extra_headers=["Description-Content-Type: text/markdown"]
    )
    # twine sends the METADATA body as the description, with its content type.
    wheel = make_wheel(
        "page-sample", "1.0", payload=b"ANSWER = 7\n", metadata=metadata + DESCRIPTION.encode()
    )
    dist_dir = tmp_path / "dist"
    dist_dir.mkdir()
    uploaded = twine(site, tmp_path, write(dist_dir, wheel), password=token)
    assert uploaded.returncode == 0, output(uploaded) + site.log()

    page = requests.get(f"{site.url}/project/page-sample/", timeout=30).text
    assert "<strong>from this index</strong>" in page
    commands = {
        name: html.unescape(command).split()
        for name, command in re.findall(r'<code id="install-([^"]+)">([^<]*)</code>', page)
    }
    assert set(commands) == {"pip", "uv-pip", "uv-add"}

    pip_target = tmp_path / "pip-target"
    pip = run(
        [
            sys.executable,
            "-m",
            *commands["pip"],
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--target",
            str(pip_target),
        ],
        tmp_path,
    )
    assert pip.returncode == 0, output(pip)
    assert (pip_target / "page_sample" / "__init__.py").read_text() == "ANSWER = 7\n"

    uv_target = tmp_path / "uv-target"
    uv_pip = run(
        [
            str(VENV_BIN / "uv"),
            *commands["uv-pip"][1:],
            "--python",
            sys.executable,
            "--target",
            str(uv_target),
        ],
        tmp_path,
    )
    assert uv_pip.returncode == 0, output(uv_pip)
    assert (uv_target / "page_sample" / "__init__.py").read_text() == "ANSWER = 7\n"

    project = tmp_path / "consumer"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "consumer"\nversion = "0.1"\nrequires-python = ">=3.11"\n'
    )
    uv_add = run(
        [str(VENV_BIN / "uv"), *commands["uv-add"][1:], "--python", sys.executable, "--no-sync"],
        tmp_path,
        cwd=project,
    )
    assert uv_add.returncode == 0, output(uv_add)
    lock = (project / "uv.lock").read_text()
    assert f'source = {{ registry = "{site.url}/simple/" }}' in lock
    assert 'name = "page-sample"' in lock
