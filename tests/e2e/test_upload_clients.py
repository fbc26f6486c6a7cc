"""Real twine, uv and pip against the live server: uploads, installs and PyPI's error messages."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from projects.models import File
from tests.factories import TwoFactorUserFactory
from tests.publishing.upload.dists import make_sdist, make_wheel
from tokens.services import create_api_token

pytestmark = pytest.mark.e2e

VENV_BIN = Path(sys.executable).parent
SIZE_LIMIT = 256 * 1024
# twine with its digest computation altered: the only way to make the real client send a digest
# that does not match the file it sends.
TWINE_WITH_WRONG_SHA256 = """
import sys
import twine.package
from twine.__main__ import main

original = twine.package.HashManager.hexdigest

def wrong(self):
    digest = original(self)
    return digest._replace(sha2="0" * 64)

twine.package.HashManager.hexdigest = wrong
sys.exit(main())
"""


@pytest.fixture
def site(live_site_factory, transactional_db):
    return live_site_factory(env={"UPLOAD_MAX_FILE_SIZE": str(SIZE_LIMIT)})


@pytest.fixture
def token(transactional_db):
    user = TwoFactorUserFactory(username="e2e-uploader", password="correct horse battery staple")
    _row, raw = create_api_token(user=user, name="e2e", actor=user)
    return raw


def write(directory: Path, dist) -> Path:
    path = directory / dist.filename
    path.write_bytes(dist.content)
    return path


def client_env(tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TWINE_", "UV_PUBLISH_", "PIP_"))
    }
    env.update(
        {
            "HOME": str(tmp_path / "home"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
            "NO_COLOR": "1",
        }
    )
    return env


def twine_command(site, *files: Path, username="__token__", password="", python=None):
    """The command line of `twine upload` sending `files` to the site."""
    return [
        *(python or [str(VENV_BIN / "twine")]),
        "upload",
        "--non-interactive",
        "--disable-progress-bar",
        "--repository-url",
        f"{site.url}/legacy/",
        "-u",
        username,
        "-p",
        password,
        *map(str, files),
    ]


def twine(site, tmp_path, *files: Path, username="__token__", password="", python=None):
    command = twine_command(site, *files, username=username, password=password, python=python)
    return run_client(command, tmp_path)


def uv_publish(site, tmp_path, *files: Path, token: str, extra=()):
    command = [
        str(VENV_BIN / "uv"),
        "publish",
        "--publish-url",
        f"{site.url}/legacy/",
        "--token",
        token,
        "--trusted-publishing",
        "never",
        *extra,
        *map(str, files),
    ]
    return run_client(command, tmp_path)


def run_client(command: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """Run a real client with a clean environment (see `client_env`), output captured."""
    return subprocess.run(
        command, capture_output=True, text=True, env=client_env(tmp_path), timeout=120, check=False
    )


def pip_install(site, tmp_path: Path, requirement: str, target: Path):
    """`pip install --target <target> <requirement>` from the live site's index, no cache."""
    return run_client(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--index-url",
            f"{site.url}/simple/",
            "--target",
            str(target),
            requirement,
        ],
        tmp_path,
    )


def output(result) -> str:
    return " ".join((result.stdout + result.stderr).split())


def test_twine_uv_and_pip_round_trip(site, token, tmp_path):
    dist_dir = tmp_path / "dist"
    dist_dir.mkdir()
    wheel = write(dist_dir, make_wheel("e2e-sample", "1.0", payload=b"ANSWER = 42\n"))
    sdist = write(dist_dir, make_sdist("e2e-sample", "1.0"))

    uploaded = twine(site, tmp_path, wheel, sdist, password=token)

    assert uploaded.returncode == 0, output(uploaded) + site.log()
    assert set(File.objects.values_list("filename", flat=True)) == {wheel.name, sdist.name}

    again = twine(site, tmp_path, wheel, password=token)
    assert again.returncode == 0, output(again)
    assert File.objects.count() == 2

    uv_wheel = write(dist_dir, make_wheel("e2e-sample", "2.0", payload=b"ANSWER = 43\n"))
    published = uv_publish(site, tmp_path, uv_wheel, token=token)
    assert published.returncode == 0, output(published) + site.log()
    assert File.objects.filter(filename=uv_wheel.name).exists()

    skipped = uv_publish(
        site, tmp_path, uv_wheel, token=token, extra=["--check-url", f"{site.url}/simple/"]
    )
    assert skipped.returncode == 0, output(skipped)
    assert "already exists" in output(skipped)

    target = tmp_path / "installed"
    installed = pip_install(site, tmp_path, "e2e-sample==1.0", target)
    assert installed.returncode == 0, output(installed)
    assert (target / "e2e_sample" / "__init__.py").read_text() == "ANSWER = 42\n"


def test_twine_prints_digest_mismatch(site, token, tmp_path):
    wheel = write(tmp_path, make_wheel("e2e-digest", "1.0"))

    result = twine(
        site,
        tmp_path,
        wheel,
        password=token,
        python=[sys.executable, "-c", TWINE_WITH_WRONG_SHA256],
    )

    assert result.returncode != 0
    assert "400 Bad Request" in output(result)
    assert (
        "The digest supplied does not match a digest calculated from the uploaded file."
        in output(result)
    )
    assert not File.objects.exists()


def test_file_over_the_limit_fails_in_twine_and_uv_with_the_message(site, token, tmp_path):
    wheel = write(tmp_path, make_wheel("e2e-large", "1.0", payload=os.urandom(SIZE_LIMIT * 4)))

    by_twine = twine(site, tmp_path, wheel, password=token)
    by_uv = uv_publish(site, tmp_path, wheel, token=token)

    assert by_twine.returncode != 0
    assert "400 Bad Request" in output(by_twine)
    assert "File too large. Limit for project 'e2e-large' is 256 KB." in output(by_twine)
    assert by_uv.returncode != 0
    assert "Server says: 400 File too large. Limit for project 'e2e-large'" in output(by_uv), (
        output(by_uv)
    )
    assert not File.objects.exists()


def test_password_instead_of_token_fails_in_twine_and_uv(site, token, tmp_path):
    wheel = write(tmp_path, make_wheel("e2e-password", "1.0"))
    expected = "Username/Password authentication is no longer supported."

    by_twine = twine(
        site, tmp_path, wheel, username="e2e-uploader", password="correct horse battery staple"
    )
    by_uv = subprocess.run(
        [
            str(VENV_BIN / "uv"),
            "publish",
            "--publish-url",
            f"{site.url}/legacy/",
            "--username",
            "e2e-uploader",
            "--password",
            "correct horse battery staple",
            "--trusted-publishing",
            "never",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        env=client_env(tmp_path),
        timeout=120,
        check=False,
    )

    assert by_twine.returncode != 0
    assert "403 Forbidden" in output(by_twine)
    assert expected in output(by_twine)
    assert by_uv.returncode != 0
    assert f"Server says: 403 {expected}" in output(by_uv), output(by_uv)
    assert not File.objects.exists()


def test_concurrent_identical_uploads_store_one_file(site, token):
    wheel = make_wheel("e2e-race", "1.0")
    fields = wheel.form()

    def post(_index: int) -> int:
        response = requests.post(
            f"{site.url}/legacy/",
            data=fields,
            files={"content": (wheel.filename, wheel.content, "application/octet-stream")},
            auth=("__token__", token),
            timeout=60,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(post, range(10)))

    assert statuses == [200] * 10, site.log()
    assert File.objects.filter(filename=wheel.filename).count() == 1
    stored = [path.name for path in site.media_root.rglob(wheel.filename) if path.is_file()]
    assert stored == [wheel.filename]
