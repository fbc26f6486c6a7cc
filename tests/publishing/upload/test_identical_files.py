"""The identical-file answer ("already uploaded", 200) is only for a file of the same project."""

import pytest

from projects.models import File, Project
from tests.factories import FileFactory, ProjectFactory, ReleaseFactory, RoleFactory
from tests.publishing.upload.conftest import refusal
from tests.publishing.upload.dists import make_wheel

pytestmark = pytest.mark.django_db


def _published_elsewhere(wheel, project_name: str) -> File:
    """The wheel's exact bytes, already published by another project."""
    other = ProjectFactory(name=project_name, normalized_name=project_name)
    return FileFactory(
        release=ReleaseFactory(project=other, version="1.0"),
        filename=wheel.filename,
        md5_digest=wheel.md5,
        sha256_digest=wheel.sha256,
        blake2_256_digest=wheel.blake2_256,
    )


def test_identical_file_of_another_project_is_refused_for_a_new_project(upload):
    wheel = make_wheel()
    _published_elsewhere(wheel, "victim-pkg")

    response = upload(wheel)

    assert response.status_code == 400, response.content
    assert refusal(response).startswith(
        f"File already exists ('{wheel.filename}', with blake2_256 hash '{wheel.blake2_256}')."
    )
    assert list(Project.objects.values_list("normalized_name", flat=True)) == ["victim-pkg"]


def test_identical_file_of_another_project_is_refused_for_an_existing_project(upload, uploader):
    wheel = make_wheel()
    published = _published_elsewhere(wheel, "victim-pkg")
    mine = ProjectFactory(name="sample-pkg", normalized_name="sample-pkg")
    RoleFactory(project=mine, user=uploader)

    response = upload(wheel)

    assert response.status_code == 400, response.content
    assert refusal(response).startswith(f"File already exists ('{wheel.filename}'")
    assert list(File.objects.all()) == [published]
    assert not mine.releases.exists()


def test_identical_file_of_the_same_project_answers_already_uploaded(upload):
    wheel = make_wheel()
    upload(wheel)

    response = upload(wheel)

    assert response.status_code == 200, response.content
    assert "already uploaded with the same content" in response.content.decode()
    assert File.objects.count() == 1
