"""Uploads after a deletion, through the real /legacy/ pipeline: a deleted file's name is never
accepted again, and a deleted project's name is kept for its former owners for a while."""

from datetime import timedelta

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.utils import timezone

from projects.models import File, Project, Release
from projects.services.deletion import delete_file, delete_own_project, delete_release
from tests.factories import TwoFactorUserFactory
from tests.publishing.upload.conftest import basic_auth, refusal
from tests.publishing.upload.dists import make_sdist, make_wheel
from tokens.services import create_api_token

pytestmark = pytest.mark.django_db

DELETED_FILENAME_MESSAGE = (
    "This filename was previously used by a file that has since been deleted. Use a different "
    "version."
)


def _delete(how: str, uploader) -> None:
    file = File.objects.get()
    if how == "file":
        delete_file(file=file, actor=uploader)
    elif how == "release":
        delete_release(release=file.release, actor=uploader)
    else:
        delete_own_project(project=file.release.project, actor=uploader)


@pytest.mark.parametrize("how", ["file", "release", "project"])
def test_a_deleted_filename_is_refused_on_reupload(
    upload, uploader, how, django_capture_on_commit_callbacks
):
    wheel = make_wheel("sample-pkg", "1.0")
    assert upload(wheel).status_code == 200
    stored = File.objects.get().path

    with django_capture_on_commit_callbacks(execute=True):
        _delete(how, uploader)
    response = upload(wheel)

    assert refusal(response) == DELETED_FILENAME_MESSAGE
    assert not File.objects.exists()
    assert not default_storage.exists(stored)


def test_a_deleted_release_may_come_back_under_new_file_names(upload, uploader):
    assert upload(make_wheel("sample-pkg", "1.0")).status_code == 200
    delete_release(release=Release.objects.get(), actor=uploader)

    assert upload(make_sdist("sample-pkg", "1.0")).status_code == 200

    assert Release.objects.get().version == "1.0"


@pytest.fixture
def deleted_project(upload, uploader):
    assert upload(make_wheel("sample-pkg", "1.0")).status_code == 200
    delete_own_project(project=Project.objects.get(), actor=uploader)


def _token_of(user) -> str:
    _row, raw = create_api_token(user=user, name="other", actor=user)
    return basic_auth(raw)


@pytest.mark.parametrize("name", ["sample-pkg", "Sample_Pkg", "sample.pkg", "samp1e-pkg"])
def test_a_deleted_projects_name_is_refused_to_others_during_the_reservation(
    upload, deleted_project, name
):
    other = _token_of(TwoFactorUserFactory())

    message = refusal(upload(make_wheel(name, "2.0"), auth=other))

    assert message.startswith(f"The name '{name}' is reserved until ")
    assert "for the owners of the deleted project 'sample-pkg'" in message
    assert message.endswith("Choose a different name, or ask one of those owners to upload it.")
    assert not Project.objects.exists()


def test_a_former_owner_takes_the_name_back(upload, deleted_project):
    assert upload(make_wheel("sample-pkg", "2.0")).status_code == 200

    assert Project.objects.get().normalized_name == "sample-pkg"


def test_after_the_reservation_anyone_may_take_the_name(settings, upload, deleted_project):
    other = _token_of(TwoFactorUserFactory())

    with time_machine.travel(
        timezone.now() + timedelta(days=settings.DELETED_NAME_RESERVATION_DAYS, hours=1)
    ):
        response = upload(make_wheel("sample-pkg", "2.0"), auth=other)

    assert response.status_code == 200, response.content
