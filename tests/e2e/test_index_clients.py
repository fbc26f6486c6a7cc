"""Real clients reading what the index serves after real uploads: pip and uv on the simple API
(versions, downloads, PEP 700's upload-time), pypi-simple on PEP 700/792 and the serial, and
pypi-json (a JSON API client library) on `/pypi/<name>/json`."""

import datetime
import hashlib
import subprocess
import sys

import pytest
from django.db import transaction
from packaging.requirements import InvalidRequirement
from packaging.version import Version
from pypi_json import PyPIJSON
from pypi_simple import ACCEPT_HTML_ONLY, ACCEPT_JSON_ONLY, PyPISimple

from projects.models import File, Project, Release
from projects.services.projects import bump_serial
from tests.e2e.test_upload_clients import VENV_BIN, client_env, output, uv_publish, write
from tests.factories import TwoFactorUserFactory
from tests.publishing.upload.dists import make_wheel
from tokens.services import create_api_token

pytestmark = pytest.mark.e2e

NAME = "e2e-index"
VERSIONS = ("1.0", "2.0")


@pytest.fixture
def published(live_site, transactional_db, tmp_path):
    """Two wheels of `e2e-index` uploaded by uv; the test's wheels by version."""
    user = TwoFactorUserFactory(username="e2e-index-owner")
    _row, token = create_api_token(user=user, name="e2e", actor=user)
    dist_dir = tmp_path / "dist"
    dist_dir.mkdir()
    wheels = {
        version: write(dist_dir, make_wheel(NAME, version, payload=f"V = {version!r}\n".encode()))
        for version in VERSIONS
    }
    result = uv_publish(live_site, tmp_path, *wheels.values(), token=token)
    assert result.returncode == 0, output(result) + live_site.log()
    return wheels


def _project() -> Project:
    return Project.objects.get(normalized_name=NAME)


def _change_release(version: str, **fields) -> None:
    with transaction.atomic():
        Release.objects.filter(project=_project(), version=version).update(**fields)
        bump_serial(project=_project())


def _run(*command: str, tmp_path) -> str:
    result = subprocess.run(
        command, capture_output=True, text=True, env=client_env(tmp_path), timeout=180, check=False
    )
    assert result.returncode == 0, output(result)
    return result.stdout + result.stderr


def _pip(*args: str, site, tmp_path) -> str:
    return _run(
        sys.executable,
        "-m",
        "pip",
        *args,
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--index-url",
        f"{site.url}/simple/",
        tmp_path=tmp_path,
    )


def test_pip_lists_versions_and_downloads_the_latest_not_yanked(live_site, published, tmp_path):
    listed = _pip("index", "versions", NAME, site=live_site, tmp_path=tmp_path)
    assert f"{NAME} (2.0)" in listed
    assert "Available versions: 2.0, 1.0" in listed

    _change_release("2.0", yanked=True, yanked_reason="broken build")
    target = tmp_path / "downloads"
    _pip("download", "--no-deps", "-d", str(target), NAME, site=live_site, tmp_path=tmp_path)
    assert [path.name for path in target.iterdir()] == [published["1.0"].name]
    assert (target / published["1.0"].name).read_bytes() == published["1.0"].read_bytes()


def test_uv_exclude_newer_reads_the_upload_time(live_site, published, tmp_path):
    # PEP 700's upload-time: uv leaves out files uploaded at or after the cutoff.
    with transaction.atomic():
        for version, day in (("1.0", 1), ("2.0", 20)):
            File.objects.filter(release__project=_project(), release__version=version).update(
                uploaded_at=datetime.datetime(2025, 1, day, tzinfo=datetime.UTC)
            )
        bump_serial(project=_project())
    target = tmp_path / "installed"
    _run(
        str(VENV_BIN / "uv"),
        "pip",
        "install",
        "--python",
        sys.executable,
        "--target",
        str(target),
        "--index-url",
        f"{live_site.url}/simple/",
        "--exclude-newer",
        "2025-01-10T00:00:00Z",
        NAME,
        tmp_path=tmp_path,
    )
    assert (target / "e2e_index-1.0.dist-info").is_dir()


@pytest.mark.parametrize("accept", [ACCEPT_JSON_ONLY, ACCEPT_HTML_ONLY])
def test_pypi_simple_reads_status_serial_and_pep_700_fields(live_site, published, accept):
    with PyPISimple(endpoint=f"{live_site.url}/simple/") as index:
        page = index.get_project_page(NAME, accept=accept)
        assert page.repository_version == "1.4"
        assert page.last_serial == str(_project().serial)
        assert page.status == "active"
        assert {package.version for package in page.packages} == set(VERSIONS)
        if accept == ACCEPT_JSON_ONLY:  # PEP 700's fields exist in JSON only
            assert set(page.versions) == set(VERSIONS)
            for package in page.packages:
                wheel = published[package.version]
                assert package.size == wheel.stat().st_size
                assert package.upload_time == File.objects.get(filename=wheel.name).uploaded_at
        wheel = published["1.0"]
        package = next(package for package in page.packages if package.version == "1.0")
        assert package.digests["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()

        with transaction.atomic():
            Project.objects.filter(pk=_project().pk).update(
                status=Project.Status.ARCHIVED, status_reason="moved to e2e-index-ng"
            )
            bump_serial(project=_project())
        page = index.get_project_page(NAME, accept=accept)
        assert (page.status, page.status_reason) == ("archived", "moved to e2e-index-ng")
        assert page.last_serial == str(_project().serial)


def test_pypi_json_reads_the_json_api(live_site, published):
    with PyPIJSON(endpoint=f"{live_site.url}/pypi") as api:
        metadata = api.get_metadata(NAME)
        assert metadata.name == NAME
        assert metadata.version == Version("2.0")
        assert metadata.get_latest_version() == Version("2.0")
        assert metadata.last_serial == _project().serial
        assert metadata.info["summary"] == "A sample package."
        digests = metadata.get_releases_with_digests()
        assert set(digests) == set(VERSIONS)
        [file] = digests["1.0"]
        wheel = published["1.0"].read_bytes()
        assert file["digest"] == hashlib.sha256(wheel).hexdigest()
        assert api.download_file(file["url"]).content == wheel

        one = api.get_metadata(NAME, "1.0")
        assert one.version == Version("1.0")
        assert one.releases is None
        assert [entry["filename"] for entry in one.urls] == [published["1.0"].name]

        _change_release("2.0", yanked=True)
        assert api.get_metadata(NAME).version == Version("1.0")
        _change_release("1.0", is_quarantined=True)
        with pytest.raises(InvalidRequirement, match="No such project/version"):
            api.get_metadata(NAME, "1.0")
