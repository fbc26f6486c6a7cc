"""Metadata 2.4's License-File: each file named must be inside the wheel (under
`.dist-info/licenses/`) and the sdist (under its top directory), or the upload is refused."""

import pytest

from projects.models import File
from tests.publishing.upload.conftest import refusal
from tests.publishing.upload.dists import core_metadata, make_sdist, make_wheel

pytestmark = pytest.mark.django_db

DIST_INFO = "sample_pkg-1.0.dist-info"
TOP = "sample_pkg-1.0"
LICENSE = b"MIT License\n"


def license_fields(*license_files: str) -> dict:
    return {
        "metadata_version": "2.4",
        "license_expression": "MIT",
        "license_file": list(license_files),
    }


def sdist_with(*paths: str):
    members = {f"{TOP}/PKG-INFO": core_metadata("sample-pkg", "1.0")}
    members.update({f"{TOP}/{path}": LICENSE for path in paths})
    return make_sdist(members=members)


@pytest.mark.parametrize(
    "license_files", [("LICENSE",), ("LICENSE", "licenses/NOTICE.txt"), ("COPYING.md",)]
)
def test_wheel_and_sdist_holding_their_license_files_are_accepted(upload, license_files):
    wheel = make_wheel(
        extra_members={f"{DIST_INFO}/licenses/{path}": LICENSE for path in license_files}
    )

    assert upload(wheel, **license_fields(*license_files)).status_code == 200
    assert upload(sdist_with(*license_files), **license_fields(*license_files)).status_code == 200
    assert File.objects.count() == 2


# Each wheel names LICENSE but holds it somewhere else, or only something like it.
MISPLACED_IN_WHEEL = {
    "absent": {},
    "at the root": {"LICENSE": LICENSE},
    "beside METADATA": {f"{DIST_INFO}/LICENSE": LICENSE},
    "in another dist-info": {"other_pkg-1.0.dist-info/licenses/LICENSE": LICENSE},
    "in the package": {"sample_pkg/licenses/LICENSE": LICENSE},
    "another case": {f"{DIST_INFO}/licenses/license": LICENSE},
    "with a suffix": {f"{DIST_INFO}/licenses/LICENSE.txt": LICENSE},
    "as a directory": {f"{DIST_INFO}/licenses/LICENSE/x": LICENSE},
}


@pytest.mark.parametrize("members", MISPLACED_IN_WHEEL.values(), ids=MISPLACED_IN_WHEEL)
def test_wheel_without_a_named_license_file_is_refused(upload, members):
    wheel = make_wheel(extra_members=members)

    message = refusal(upload(wheel, **license_fields("LICENSE")))

    assert message.startswith(
        f"License-File LICENSE does not exist in distribution file {wheel.filename} at "
        f"{DIST_INFO}/licenses/LICENSE."
    )
    assert not File.objects.exists()


MISPLACED_IN_SDIST = {
    "absent": (),
    "in a subdirectory": ("docs/LICENSE",),
    "another case": ("license",),
    "with a suffix": ("LICENSE.txt",),
}


@pytest.mark.parametrize("paths", MISPLACED_IN_SDIST.values(), ids=MISPLACED_IN_SDIST)
def test_sdist_without_a_named_license_file_is_refused(upload, paths):
    sdist = sdist_with(*paths)

    message = refusal(upload(sdist, **license_fields("LICENSE")))

    assert message.startswith(
        f"License-File LICENSE does not exist in distribution file {sdist.filename} at "
        f"{TOP}/LICENSE."
    )
    assert not File.objects.exists()


def test_each_named_file_is_checked(upload):
    wheel = make_wheel(extra_members={f"{DIST_INFO}/licenses/LICENSE": LICENSE})

    message = refusal(upload(wheel, **license_fields("LICENSE", "NOTICE")))

    assert message.startswith("License-File NOTICE does not exist")


def test_a_distribution_naming_no_license_file_is_not_checked(upload):
    assert upload(make_wheel(), metadata_version="2.4", license_expression="MIT").status_code == 200
