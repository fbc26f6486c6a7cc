"""Every refusal of security.md §3H (and the authentication in front of it), message asserted.

Each refused upload must leave nothing behind: no File row and no stored object.
"""

import hashlib
import io
import os
import tarfile
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from auditlog.events import EventType
from auditlog.models import AuditEvent
from projects.models import File, FilenameRegistry, Project, Release, Role
from projects.services.roles import remove_role
from tests.factories import (
    FileFactory,
    ProjectFactory,
    ReleaseFactory,
    RoleFactory,
    TwoFactorUserFactory,
)
from tests.publishing.upload.conftest import basic_auth, refusal
from tests.publishing.upload.dists import core_metadata, make_sdist, make_wheel
from tokens.services import create_api_token

pytestmark = pytest.mark.django_db

META_HELP = "See https://packaging.python.org/specifications/core-metadata for more information."


@pytest.fixture
def nothing_stored(settings):
    """Assert after the test that storage holds no object."""
    yield
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not [p for p in media.rglob("*") if p.is_file()]


@pytest.fixture
def existing(uploader):
    """A project the uploader owns, named like the default sample dists."""
    project = ProjectFactory(name="sample-pkg", normalized_name="sample-pkg")
    RoleFactory(project=project, user=uploader)
    return project


def refused(response, status=400) -> str:
    assert response.status_code == status, response.content
    return refusal(response)


# --- Authentication (pypi-behaviour §1.7, §1.8) ---


def test_upload_without_credentials_is_refused(upload, nothing_stored):
    response = upload(make_wheel(), auth="")

    message = refused(response, 401)
    assert message.startswith("Invalid or non-existent authentication information.")


def test_password_instead_of_token_is_refused_with_pointer_to_tokens(
    upload, uploader, nothing_stored
):
    response = upload(make_wheel(), auth=basic_auth("correct horse battery staple", "uploader"))

    message = refused(response, 403)
    assert message.startswith(
        "Username/Password authentication is no longer supported. Migrate to API Tokens or "
        "Trusted Publishers instead."
    )


def test_malformed_token_is_refused(upload, nothing_stored):
    response = upload(make_wheel(), auth=basic_auth("pypi-not-a-macaroon"))

    assert refused(response, 403).startswith("Invalid API Token: ")


def test_session_cookie_does_not_authenticate_upload(client, upload, uploader, nothing_stored):
    client.force_login(uploader)

    response = upload(make_wheel(), auth="")

    refused(response, 401)


def test_user_without_verified_email_cannot_upload(upload, uploader, nothing_stored):
    uploader.emails.update(is_verified=False)

    response = upload(make_wheel())

    assert refused(response, 403).startswith(
        "User 'uploader', associated with the API token used, does not have a verified primary "
        "email address. Please add a verified primary email before attempting to upload"
    )


def test_user_without_two_factor_cannot_upload(upload, uploader, nothing_stored):
    uploader.webauthn_credentials.all().delete()

    response = upload(make_wheel())

    assert refused(response, 403).startswith(
        "User 'uploader', associated with the API token used, does not have two-factor "
        "authentication enabled. Please enable two-factor authentication before attempting to "
        "upload"
    )


def test_user_without_role_cannot_upload_to_existing_project(upload, nothing_stored):
    ProjectFactory(name="sample-pkg", normalized_name="sample-pkg")

    response = upload(make_wheel())

    assert refused(response, 403).startswith(
        "The user 'uploader' isn't allowed to upload to project 'sample-pkg'."
    )


def test_removed_maintainer_cannot_upload_on_the_next_request(upload, uploader):
    owner = TwoFactorUserFactory()
    project = RoleFactory(user=owner, project=ProjectFactory(name="sample-pkg")).project
    role = RoleFactory(project=project, user=uploader, role=Role.Kind.MAINTAINER)
    assert upload(make_wheel("sample-pkg", "1.0")).status_code == 200

    remove_role(role=role, actor=owner)
    response = upload(make_wheel("sample-pkg", "1.1"))

    assert refused(response, 403).startswith(
        "The user 'uploader' isn't allowed to upload to project 'sample-pkg'."
    )
    assert list(File.objects.values_list("filename", flat=True)) == [
        make_wheel("sample-pkg", "1.0").filename
    ]


def test_project_scoped_token_cannot_upload_to_another_project(upload, uploader, existing):
    other = RoleFactory(user=uploader, project=ProjectFactory(name="other")).project
    _row, scoped = create_api_token(
        user=uploader, name="scoped", project_ids=[other.pk], actor=uploader
    )

    response = upload(make_wheel(), auth=basic_auth(scoped))

    assert refused(response, 403) == (
        "Invalid API Token: project-scoped token is not valid for project: 'sample-pkg'"
    )


def test_project_scoped_token_cannot_create_a_project(upload, uploader, nothing_stored):
    other = RoleFactory(user=uploader, project=ProjectFactory(name="other")).project
    _row, scoped = create_api_token(
        user=uploader, name="scoped", project_ids=[other.pk], actor=uploader
    )

    response = upload(make_wheel(), auth=basic_auth(scoped))

    assert refused(response, 403) == (
        "Invalid API Token: This token is scoped to other; it cannot create new projects. Use an "
        "account-wide token for the first upload, or add a pending publisher"
    )
    assert not Project.objects.filter(normalized_name="sample-pkg").exists()


def _refused_token_uses(user) -> list[dict]:
    events = AuditEvent.objects.filter(event_type=EventType.ACCOUNT_API_TOKEN_REFUSED, user=user)
    return [event.data for event in events.order_by("pk")]


def test_scoped_token_refused_for_another_project_goes_on_owner_history(upload, uploader, existing):
    other = RoleFactory(user=uploader, project=ProjectFactory(name="other")).project
    row, scoped = create_api_token(
        user=uploader, name="scoped", project_ids=[other.pk], actor=uploader
    )

    for _attempt in range(3):
        refused(upload(make_wheel(), auth=basic_auth(scoped)), 403)

    # Throttled: a client retrying in a loop writes one event per token, reason and hour.
    assert _refused_token_uses(uploader) == [
        {
            "token_name": "scoped",
            "token_id": str(row.pk),
            "reason": "project-scoped token is not valid for project 'sample-pkg'",
        }
    ]


def test_scoped_token_refused_for_a_new_project_goes_on_owner_history(upload, uploader):
    other = RoleFactory(user=uploader, project=ProjectFactory(name="other")).project
    _row, scoped = create_api_token(
        user=uploader, name="scoped", project_ids=[other.pk], actor=uploader
    )

    refused(upload(make_wheel(), auth=basic_auth(scoped)), 403)

    assert [data["reason"] for data in _refused_token_uses(uploader)] == [
        "project-scoped token used to create project 'sample-pkg'"
    ]


def test_token_refused_for_missing_role_goes_on_owner_history(upload, uploader):
    ProjectFactory(name="sample-pkg", normalized_name="sample-pkg")

    refused(upload(make_wheel()), 403)

    assert [data["reason"] for data in _refused_token_uses(uploader)] == [
        "no owner or maintainer role on project 'sample-pkg'"
    ]


def test_accepted_upload_puts_no_refusal_on_owner_history(upload, uploader, existing):
    assert upload(make_wheel()).status_code == 200

    assert _refused_token_uses(uploader) == []


def test_trusted_publishing_only_project_refuses_api_token(upload, existing, nothing_stored):
    existing.is_trusted_publishing_only = True
    existing.save()

    response = upload(make_wheel())

    assert refused(response, 403).startswith(
        "Project 'sample-pkg' accepts uploads from its trusted publishers only, not from API "
        "tokens."
    )


# --- #132 action and protocol ---


def test_unknown_protocol_version_is_refused(upload, nothing_stored):
    assert refused(upload(make_wheel(), protocol_version="2")) == "Unknown protocol version."


def test_missing_action_is_refused(upload, nothing_stored):
    message = refused(upload(make_wheel(), **{":action": None}))
    assert message.startswith("Unknown :action ''.")


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (
            "submit",
            (
                "Project pre-registration is no longer required or supported, upload your "
                "files instead."
            ),
        ),
        (
            "doc_upload",
            (
                "Uploading documentation is no longer supported, we recommend using "
                "https://readthedocs.org/."
            ),
        ),
    ],
)
def test_retired_actions_answer_410(upload, action, message, nothing_stored):
    assert refused(upload(make_wheel(), **{":action": action}), 410) == message


def test_get_is_not_an_upload(client):
    response = client.get("/legacy/")

    assert response.status_code == 405
    assert response["Allow"] == "POST"


# --- Form ---


def test_invalid_project_name_is_refused(upload, nothing_stored):
    message = refused(upload(make_wheel(), name="-bad-"))

    assert message == (
        "'-bad-' is an invalid value for Name. Error: Start and end with a letter or numeral "
        f"containing only ASCII numeric and '.', '_' and '-'. {META_HELP}"
    )


def test_unknown_filetype_is_refused(upload, nothing_stored):
    message = refused(upload(make_wheel(), filetype="bdist_egg"))

    assert message.startswith("Invalid value for filetype. Error: Use a known file type")


def test_wheel_without_pyversion_is_refused(upload, nothing_stored):
    message = refused(upload(make_wheel(), pyversion=None))

    assert message == (
        "Invalid value for pyversion. Error: Python version is required for binary distribution "
        "uploads."
    )


def test_upload_without_any_digest_is_refused(upload, nothing_stored):
    message = refused(upload(make_wheel(), sha256_digest=None, blake2_256_digest=None))

    assert message == "Error: Include at least one message digest."


def test_malformed_digest_is_refused(upload, nothing_stored):
    message = refused(upload(make_wheel(), sha256_digest="xyz"))

    assert message.startswith("Invalid value for sha256_digest.")


def test_metadata_field_sent_as_file_is_refused(client, token, nothing_stored):
    wheel = make_wheel()
    data = {
        **wheel.form(summary=None),
        "summary": SimpleUploadedFile("summary.txt", b"x"),
        "content": SimpleUploadedFile(wheel.filename, wheel.content),
    }

    response = client.post("/legacy/", data, HTTP_AUTHORIZATION=basic_auth(token))

    assert refused(response) == "summary: Should not be a tuple."


def test_upload_without_content_is_refused(client, token, nothing_stored):
    response = client.post("/legacy/", make_wheel().form(), HTTP_AUTHORIZATION=basic_auth(token))

    assert refused(response) == "Upload payload does not have a file."


# --- #118 metadata ---


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"version": "1.0+local"},
            (
                "The use of local versions in '1.0+local' is not allowed. See https://packaging"
                ".python.org/specifications/version-specifiers for more information."
            ),
        ),
        ({"version": "1.0 bogus"}, "'1.0 bogus' is invalid for 'version'"),
        ({"metadata_version": "3.0"}, "'3.0' is not a valid metadata version"),
        ({"summary": "x" * 513}, "'summary' field must be 512 characters or less"),
        ({"version": "1" + ".1" * 60}, "'version' must be at most 100 characters"),
        (
            {"requires_python": ",".join(f"!=3.{n}.*" for n in range(60))},
            "'requires_python' must be at most 255 characters",
        ),
        ({"classifiers": "Nonsense :: Classifier"}, "'Nonsense :: Classifier' is not a valid"),
        (
            {"classifiers": "Natural Language :: Ukranian"},
            "The classifier 'Natural Language :: Ukranian' has been deprecated",
        ),
        (
            {"project_urls": "Home, javascript:alert(1)"},
            "'project_urls' must contain valid URLs",
        ),
        (
            {"project_urls": f"{'L' * 33}, https://example.com"},
            "'project_urls' labels must be between 1 and 32 characters",
        ),
        ({"home_page": "javascript:alert(1)"}, "'home_page' must be a valid http or https URL"),
        ({"author_email": "not an email"}, "'author_email' must contain valid email addresses"),
        (
            {"requires_dist": "evil @ https://example.com/evil.whl"},
            "Can't have direct dependency",
        ),
        (
            {"license": "MIT", "license_expression": "MIT", "metadata_version": "2.4"},
            "'license' and 'license_expression' are mutually exclusive",
        ),
    ],
)
def test_invalid_metadata_is_refused_naming_the_field(upload, fields, message, nothing_stored):
    response = upload(make_wheel(), **fields)

    text = refused(response)
    assert message in text
    assert text.endswith("for more information.")
    assert not Project.objects.exists()


def test_metadata_version_error_is_reported_before_other_fields(upload, nothing_stored):
    message = refused(upload(make_wheel(), metadata_version="9.9", summary="x" * 513))

    assert message.startswith("'9.9' is not a valid metadata version")


def test_placeholder_unknown_counts_as_absent(upload):
    response = upload(make_wheel(), home_page="UNKNOWN", author_email="UNKNOWN")

    assert response.status_code == 200, response.content


# --- #116, #117 filenames ---


def test_filename_for_another_project_is_refused(upload, nothing_stored):
    sdist = make_sdist("foo", "1.0", filename="bar-1.0.tar.gz")

    assert refused(upload(sdist)) == "Start filename for 'foo' with 'foo'."


def test_sdist_filename_with_another_version_is_refused(upload, nothing_stored):
    sdist = make_sdist("foo", "1.0", filename="foo-2.0.tar.gz")

    assert refused(upload(sdist)) == "Version in filename should be '1.0' not '2.0'."


def test_wheel_filename_with_another_version_is_refused(upload, nothing_stored):
    wheel = make_wheel("foo", "1.0", filename="foo-2.0-py3-none-any.whl")

    assert refused(upload(wheel)) == "Version in filename should be '1.0' not '2.0'."


def test_sdist_name_not_pep625_normalized_is_refused(upload, nothing_stored):
    sdist = make_sdist("Foo.Bar", "1.0", filename="Foo.Bar-1.0.tar.gz")

    assert refused(upload(sdist)) == (
        "Filename 'Foo.Bar-1.0.tar.gz' is invalid, should be 'foo_bar-1.0.tar.gz'."
    )


def test_zip_sdist_is_refused_as_not_pep625(upload, nothing_stored):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("foo-1.0/PKG-INFO", core_metadata("foo", "1.0"))
    sdist = make_sdist("foo", "1.0")

    response = upload(
        sdist,
        filename="foo-1.0.zip",
        content=buffer.getvalue(),
        sha256_digest=None,
        blake2_256_digest=None,
        md5_digest=hashlib.md5(buffer.getvalue(), usedforsecurity=False).hexdigest(),
    )

    assert refused(response) == "Filename 'foo-1.0.zip' is invalid, should be 'foo-1.0.tar.gz'."


def test_wheel_name_not_normalized_is_refused(upload, nothing_stored):
    wheel = make_wheel("Foo.Bar", "1.0", filename="Foo.Bar-1.0-py3-none-any.whl")

    assert refused(upload(wheel)) == (
        "Filename 'Foo.Bar-1.0-py3-none-any.whl' should contain the normalized project name "
        "'foo_bar', not 'Foo.Bar'."
    )


@pytest.mark.parametrize("extension", [".exe", ".egg", ".tar.bz2"])
def test_unsupported_extension_is_refused(upload, extension, nothing_stored):
    wheel = make_wheel()

    message = refused(upload(wheel, filename=f"sample_pkg-1.0{extension}"))

    assert message.startswith("Invalid file extension: Use .tar.gz, .whl or .zip extension.")


def test_extension_not_matching_filetype_is_refused(upload, nothing_stored):
    wheel = make_wheel()

    message = refused(upload(wheel, filetype="sdist", pyversion="source"))

    assert message.startswith(
        "Invalid file extension: Extension .whl is invalid for filetype sdist."
    )


def test_filename_with_path_separator_is_refused(upload, nothing_stored):
    wheel = make_wheel()

    message = refused(upload(wheel, filename=f"../../{wheel.filename}"))

    assert message == "Cannot upload a file with '/' or '\\' in the name."


def test_filename_with_control_character_is_refused(upload, nothing_stored):
    wheel = make_wheel()

    message = refused(upload(wheel, filename="sample_pkg-1.0-py3-none-any\x07.whl"))

    assert message.startswith("Cannot upload a file with non-printable characters")


def test_wheel_with_unsupported_platform_tag_is_refused(upload, nothing_stored):
    wheel = make_wheel(tag="cp311-cp311-linux_x86_64")

    assert refused(upload(wheel)) == (
        f"Binary wheel '{wheel.filename}' has an unsupported platform tag 'linux_x86_64'."
    )


def test_wheel_with_manylinux_tag_is_accepted(upload):
    response = upload(make_wheel(tag="cp311-cp311-manylinux_2_17_x86_64"))

    assert response.status_code == 200, response.content


# --- #131 content type ---


def test_content_part_without_content_type_is_accepted_as_uv_sends_it(upload):
    # uv's multipart `content` part has no Content-Type header at all (checked against uv 0.13).
    response = upload(make_wheel(), content_type=None)

    assert response.status_code == 200, response.content


def test_content_part_declared_as_image_is_refused(upload, nothing_stored):
    response = upload(make_wheel(), content_type="image/png")

    assert refused(response) == "Invalid distribution file."


# --- #119 size limits ---


def test_file_over_the_size_limit_is_refused(upload, settings, nothing_stored):
    settings.UPLOAD_MAX_FILE_SIZE = 1024
    wheel = make_wheel(payload=bytes(range(256)) * 40, compression=zipfile.ZIP_STORED)

    message = refused(upload(wheel))

    assert message.startswith("File too large. Limit for project 'sample-pkg' is 1 KB.")


def test_file_size_limit_is_reported_in_megabytes(upload, settings, nothing_stored):
    settings.UPLOAD_MAX_FILE_SIZE = 1024 * 1024
    wheel = make_wheel(payload=os.urandom(1024 * 1024 + 10))

    message = refused(upload(wheel))

    assert message.startswith("File too large. Limit for project 'sample-pkg' is 1 MB.")


def test_project_with_raised_upload_limit_accepts_larger_file(upload, settings, existing):
    settings.UPLOAD_MAX_FILE_SIZE = 1024
    existing.upload_limit = 1024 * 1024
    existing.save()
    wheel = make_wheel(payload=bytes(range(256)) * 40, compression=zipfile.ZIP_STORED)

    response = upload(wheel)

    assert response.status_code == 200, response.content


def test_project_with_lowered_upload_limit_refuses_a_file_the_site_default_allows(
    upload, settings, existing, nothing_stored
):
    settings.UPLOAD_MAX_FILE_SIZE = 1024 * 1024
    existing.upload_limit = 1024
    existing.save()
    wheel = make_wheel(payload=bytes(range(256)) * 40, compression=zipfile.ZIP_STORED)

    message = refused(upload(wheel))

    assert message.startswith("File too large. Limit for project 'sample-pkg' is 1 KB.")


def test_project_with_lowered_total_size_limit_refuses_what_the_site_default_allows(
    upload, settings, existing, nothing_stored
):
    settings.UPLOAD_MAX_PROJECT_SIZE = 10 * 1024 * 1024
    existing.total_size_limit = 100
    existing.save()

    message = refused(upload(make_wheel()))

    assert message.startswith("Project size too large. Limit for project 'sample-pkg' total size")


def test_project_over_its_total_size_is_refused(upload, settings, existing, nothing_stored):
    settings.UPLOAD_MAX_PROJECT_SIZE = 10_000
    existing.total_size = 9_900
    existing.save()

    message = refused(upload(make_wheel()))

    assert message.startswith("Project size too large. Limit for project 'sample-pkg' total size")


# --- #120 digests ---


@pytest.mark.parametrize("field", ["sha256_digest", "blake2_256_digest", "md5_digest"])
def test_wrong_digest_is_refused_and_nothing_is_stored(upload, field, nothing_stored):
    wrong = "0" * (32 if field == "md5_digest" else 64)

    message = refused(upload(make_wheel(), **{field: wrong}))

    assert message.startswith(
        "The digest supplied does not match a digest calculated from the uploaded file."
    )
    assert not Project.objects.exists()


# --- #121, #123 archive contents ---


def test_zip_bomb_wheel_is_refused(upload, nothing_stored):
    wheel = make_wheel(extra_members={"sample_pkg/zeros.bin": bytes(70 * 1024 * 1024)})

    message = refused(upload(wheel))

    assert message == "Invalid distribution file. File exceeds compression ratio of 50."


def test_tar_bomb_sdist_is_refused(upload, nothing_stored):
    sdist = make_sdist(
        members={
            "sample_pkg-1.0/PKG-INFO": core_metadata("sample-pkg", "1.0"),
            "sample_pkg-1.0/zeros.bin": bytes(70 * 1024 * 1024),
        }
    )

    message = refused(upload(sdist))

    assert message == "Invalid distribution file. File exceeds compression ratio of 50."


def test_sdist_with_sparse_member_is_refused(upload, nothing_stored):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.GNU_FORMAT) as archive:
        info = tarfile.TarInfo("sample_pkg-1.0/PKG-INFO")
        data = core_metadata("sample-pkg", "1.0")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
        sparse = tarfile.TarInfo("sample_pkg-1.0/sparse.bin")
        sparse.type = tarfile.GNUTYPE_SPARSE
        sparse.size = 0
        archive.addfile(sparse)
    sdist = make_sdist()
    sdist.content = buffer.getvalue()

    assert refused(upload(sdist)) == (
        "tar archive not accepted: the member at byte 1024 is a sparse file."
    )


def test_sdist_that_is_also_a_zip_is_refused(upload, nothing_stored):
    sdist = make_sdist()
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("evil.py", b"print('x')")
    sdist.content = sdist.content + zipped.getvalue()

    assert refused(upload(sdist)) == (
        "Invalid distribution file. The file is both a tar archive and a zip archive."
    )


def test_wheel_that_is_also_a_tar_is_refused(upload, nothing_stored):
    wheel = make_wheel()
    tarred = io.BytesIO()
    with tarfile.open(fileobj=tarred, mode="w") as archive:
        info = tarfile.TarInfo("evil.py")
        archive.addfile(info, io.BytesIO(b""))
    wheel.content = tarred.getvalue() + wheel.content

    assert refused(upload(wheel)) == (
        "Invalid distribution file. The file is both a zip archive and another archive format."
    )


def test_wheel_that_is_not_a_zip_is_refused(upload, nothing_stored):
    wheel = make_wheel()
    wheel.content = b"not a zip at all"

    assert refused(upload(wheel)) == (
        "ZIP archive not accepted: the file has no end-of-central-directory record (it is not a "
        "ZIP archive)."
    )


@pytest.mark.parametrize("member", ["METADATA", "WHEEL", "RECORD"])
def test_wheel_without_required_member_is_refused(upload, member, nothing_stored):
    wheel = make_wheel(omit=(member,))

    assert refused(upload(wheel)) == (
        f"Wheel '{wheel.filename}' does not contain the required {member} file: "
        f"sample_pkg-1.0.dist-info/{member}"
    )


def test_wheel_with_invalid_entry_points_is_refused(upload, nothing_stored):
    wheel = make_wheel(
        extra_members={"sample_pkg-1.0.dist-info/entry_points.txt": b"no section header\n"}
    )

    assert refused(upload(wheel)).startswith(
        f"Wheel '{wheel.filename}' has invalid entry points defined in the entry_points.txt file."
    )


def test_sdist_without_pkg_info_is_refused(upload, nothing_stored):
    sdist = make_sdist(members={"sample_pkg-1.0/setup.py": b""})

    assert refused(upload(sdist)) == (
        "Invalid distribution file. An sdist must contain sample_pkg-1.0/PKG-INFO."
    )


def test_sdist_with_two_top_level_directories_is_refused(upload, nothing_stored):
    sdist = make_sdist(
        members={
            "sample_pkg-1.0/PKG-INFO": core_metadata("sample-pkg", "1.0"),
            "other/evil.py": b"",
        }
    )

    assert refused(upload(sdist)) == (
        "Invalid distribution file. An sdist must contain exactly one top-level directory."
    )


# --- #124 wheel METADATA agrees with the form ---


@pytest.mark.parametrize(
    "metadata",
    [core_metadata("other-pkg", "1.0"), core_metadata("sample-pkg", "2.0")],
)
def test_wheel_metadata_naming_another_release_is_refused(upload, metadata, nothing_stored):
    wheel = make_wheel(metadata=metadata)

    assert refused(upload(wheel)).startswith(
        "Invalid distribution file. The wheel's METADATA names"
    )


def test_wheel_metadata_with_extra_requirement_is_refused(upload, nothing_stored):
    wheel = make_wheel(
        metadata=core_metadata("sample-pkg", "1.0", requires_dist=("evil-dependency",))
    )

    assert refused(upload(wheel)).startswith(
        "Invalid distribution file. The wheel's METADATA lists other Requires-Dist entries"
    )


# --- #125, #126, #127, #128 duplicates, registry, release rules ---


def test_same_filename_with_different_content_is_refused(upload):
    upload(make_wheel())
    changed = make_wheel(payload=b"VALUE = 2\n")

    message = refused(upload(changed), 400)

    assert message.startswith(
        f"File already exists ('{changed.filename}', with blake2_256 hash '{changed.blake2_256}')."
    )
    assert File.objects.get().blake2_256_digest == make_wheel().blake2_256


def test_same_content_under_another_filename_is_refused(upload):
    wheel = make_wheel()
    upload(wheel)

    message = refused(upload(wheel, filename="sample_pkg-1.0-py2.py3-none-any.whl"))

    assert message.startswith("File already exists ('sample_pkg-1.0-py2.py3-none-any.whl'")
    assert File.objects.count() == 1


def test_identical_uploads_leave_one_row_and_one_object(upload, settings):
    wheel = make_wheel()

    statuses = [upload(wheel).status_code for _ in range(10)]

    assert statuses == [200] * 10
    assert File.objects.count() == 1
    stored = [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]
    assert sorted(p.name for p in stored) == sorted([wheel.filename, wheel.filename + ".metadata"])


def test_deleted_filename_cannot_be_used_again(upload, nothing_stored):
    wheel = make_wheel()
    FilenameRegistry.objects.create(filename=wheel.filename)

    assert refused(upload(wheel)) == (
        "This filename was previously used by a file that has since been deleted. Use a "
        "different version."
    )


def test_second_sdist_for_a_release_is_refused(upload, existing):
    upload(make_sdist())
    # 1.0.0 is the release 1.0 (same canonical version) under another, valid filename.
    response = upload(make_sdist("sample-pkg", "1.0.0"))

    assert refused(response).startswith("Only one sdist may be uploaded per release.")
    assert File.objects.count() == 1


def test_new_file_for_release_older_than_14_days_is_refused(upload, existing):
    release = ReleaseFactory(project=existing, version="1.0", canonical_version="1")
    Release.objects.filter(pk=release.pk).update(created_at=timezone.now() - timedelta(days=15))

    message = refused(upload(make_wheel()))

    assert message.startswith("Uploading new files to releases older than 14 days is not allowed.")


def test_concurrent_insert_of_same_digest_is_refused_without_leftovers(upload, nothing_stored):
    wheel = make_wheel()
    # A row that took the sha256 between the duplicate check and the insert.
    FileFactory(sha256_digest=wheel.sha256)

    message = refused(upload(wheel))

    assert message.startswith("File already exists")
    assert not Project.objects.filter(normalized_name="sample-pkg").exists()


# --- #130 descriptions are stored raw ---


def test_description_with_markup_is_stored_raw(upload):
    description = "<script>alert(1)</script><img src=x onerror=alert(1)> [x](javascript:alert(1))"

    response = upload(make_wheel(), description=description, summary='"><svg onload=alert(1)>')

    assert response.status_code == 200, response.content
    release = Release.objects.get()
    assert release.metadata["description"] == description
    assert release.summary == '"><svg onload=alert(1)>'


def test_hostile_summary_is_escaped_on_the_project_page(upload, client):
    hostile = '"><svg onload=alert(1)><script>alert(2)</script>'
    assert upload(make_wheel(), summary=hostile).status_code == 200

    page = client.get("/project/sample-pkg/").content.decode()

    assert "<svg onload" not in page
    assert "<script>alert(2)" not in page
    assert "&quot;&gt;&lt;svg onload=alert(1)&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page


# --- #133 new-project rate limit ---


def test_too_many_new_projects_per_user_is_refused(upload, settings):
    settings.UPLOAD_PROJECT_CREATE_RATE_USER = "2/h"
    for name in ("first-pkg", "second-pkg"):
        assert upload(make_wheel(name)).status_code == 200

    response = upload(make_wheel("third-pkg"))

    assert refused(response, 429).startswith("Too many new projects created.")
    assert Project.objects.count() == 2


def test_uploads_to_existing_projects_do_not_count_as_new_projects(upload, settings):
    settings.UPLOAD_PROJECT_CREATE_RATE_USER = "1/h"
    upload(make_wheel("first-pkg", "1.0"))

    response = upload(make_wheel("first-pkg", "2.0"))

    assert response.status_code == 200, response.content


def test_name_refused_by_policy_is_refused(upload, nothing_stored):
    response = upload(make_wheel("os"))

    assert "isn't allowed (conflict with Python Standard Library module name)" in refused(response)


# --- #135 an API token used where a trusted publisher is configured ---


def test_api_token_upload_to_project_with_trusted_publisher_is_accepted_with_warning_email(
    upload, uploader, existing
):
    from index_site.models import OutboxEmail  # noqa: PLC0415 - only this test reads the outbox
    from tests.publishing.oidc.conftest import GITHUB_CONFIG, add_publisher  # noqa: PLC0415

    add_publisher(existing, **GITHUB_CONFIG)

    response = upload(make_wheel())

    assert response.status_code == 200, response.content
    email = OutboxEmail.objects.get(template="publishing/token_upload_to_published_project")
    assert email.recipient == uploader.email
    assert "ci upload" in email.body_text


def test_metadata_fields_over_the_memory_limit_are_refused(upload, settings, nothing_stored):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000

    message = refused(upload(make_wheel(), description="x" * 20_000))

    assert message.startswith("The metadata fields are too large.")


def test_too_many_new_projects_from_one_ip_is_refused(upload, settings):
    settings.UPLOAD_PROJECT_CREATE_RATE_IP = "1/h"
    upload(make_wheel("first-pkg"))
    other = TwoFactorUserFactory(username="other-uploader")
    _row, other_token = create_api_token(user=other, name="other", actor=other)

    response = upload(make_wheel("second-pkg"), auth=basic_auth(other_token))

    assert refused(response, 429).startswith("Too many new projects created.")


def test_body_larger_than_any_limit_is_refused_before_it_is_read(upload, settings, nothing_stored):
    settings.UPLOAD_MAX_FILE_SIZE = 1024
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    wheel = make_wheel(payload=os.urandom(2 * 1024 * 1024), compression=zipfile.ZIP_STORED)

    message = refused(upload(wheel))

    assert message == "File too large. No project here accepts files over 1 KB."


def test_plain_http_upload_to_an_https_site_is_refused(upload, settings, nothing_stored):
    settings.SITE_IS_HTTPS = True
    settings.SITE_URL = "https://index.example"

    message = refused(upload(make_wheel()), 403)

    assert message == (
        "SSL is required. Upload to https://index.example/legacy/ and revoke the API token you "
        "just sent over plain HTTP."
    )


def test_https_upload_to_an_https_site_is_accepted(upload, settings):
    settings.SITE_IS_HTTPS = True

    response = upload(make_wheel(), secure=True)

    assert response.status_code == 200, response.content


def test_overlong_filename_is_refused(upload, nothing_stored):
    wheel = make_wheel("a" * 250)

    message = refused(upload(wheel))

    assert message.startswith("Filename is too long: use at most 255 characters.")


def test_overlong_pyversion_is_refused(upload, nothing_stored):
    message = refused(upload(make_wheel(), pyversion="py3" * 30))

    assert message == "Invalid value for pyversion. Error: Use at most 64 characters."
