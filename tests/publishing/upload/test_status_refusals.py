"""Archived and quarantined projects, and quarantined releases, take no uploads: not from API
tokens, not from trusted publishers, not even an identical re-upload. Deprecated ones do."""

import pytest

from projects.models import File, Project, Release
from projects.services.projects import create_project
from projects.services.status import quarantine_project, quarantine_release, set_project_status
from publishing.models import Provider, TrustedPublisher
from tests.factories import TwoFactorUserFactory
from tests.publishing.upload.conftest import basic_auth, refusal
from tests.publishing.upload.dists import make_sdist, make_wheel
from tokens.services import create_publisher_token

pytestmark = pytest.mark.django_db

ARCHIVED = "Project 'sample-pkg' is archived; unarchive it to upload."


@pytest.fixture
def project(uploader) -> Project:
    return create_project(name="sample-pkg", creator=uploader)


@pytest.fixture
def admin_user(db):
    return TwoFactorUserFactory(is_staff=True, is_superuser=True)


def _publisher_auth(project: Project) -> str:
    publisher = TrustedPublisher(
        provider=Provider.GITHUB,
        repository_owner="acme",
        repository_owner_id="4242",
        repository_name="sample",
        workflow_filename="release.yml",
        environment="",
    )
    publisher.save()
    publisher.projects.add(project)
    _row, raw = create_publisher_token(publisher_id=publisher.pk, project_ids=[project.pk])
    return basic_auth(raw)


def test_archived_project_refuses_token_and_publisher_uploads_with_one_sentence(
    upload, project, uploader
):
    set_project_status(project=project, status="archived", actor=uploader)

    by_token = upload(make_wheel())
    by_publisher = upload(make_sdist(), auth=_publisher_auth(project))

    for response in (by_token, by_publisher):
        assert response.status_code == 403
        assert refusal(response) == ARCHIVED
    assert not File.objects.exists()


def test_archived_project_refuses_even_the_identical_file_again(upload, project, uploader):
    wheel = make_wheel()
    assert upload(wheel).status_code == 200
    set_project_status(project=project, status="archived", actor=uploader)

    response = upload(wheel)

    assert response.status_code == 403
    assert refusal(response) == ARCHIVED


def test_uv_reads_the_archived_refusal_from_the_json_body(upload, project, uploader):
    set_project_status(project=project, status="archived", actor=uploader)

    response = upload(make_wheel(), accept="application/json;q=0.9, text/plain;q=0.8")

    assert response.status_code == 403
    assert response.json()["code"] == f"403 {ARCHIVED}"


def test_unarchived_project_takes_uploads_again(upload, project, uploader):
    set_project_status(project=project, status="archived", actor=uploader)
    set_project_status(project=project, status="active", actor=uploader)

    assert upload(make_wheel()).status_code == 200


def test_deprecated_project_still_takes_uploads(upload, project, uploader):
    set_project_status(project=project, status="deprecated", reason="old", actor=uploader)

    assert upload(make_wheel()).status_code == 200


def test_quarantined_project_refuses_uploads_and_says_how_to_appeal(
    upload, project, admin_user, settings
):
    settings.ADMINS = [("Security", "security@example.org")]
    quarantine_project(project=project, actor=admin_user, reason="malware")

    for auth in (None, _publisher_auth(project)):
        response = upload(make_wheel(), auth=auth)
        assert response.status_code == 403
        assert refusal(response) == (
            "Project 'sample-pkg' is quarantined: an administrator is reviewing it, so uploads "
            "are refused. If you think this is a mistake, write to security@example.org and say "
            "why it should be lifted."
        )
    # The reason stays between the administrators and the owners.
    assert "malware" not in refusal(response)
    assert not File.objects.exists()


def test_quarantined_release_takes_no_new_files_but_a_new_version_is_accepted(
    upload, project, admin_user
):
    assert upload(make_sdist()).status_code == 200
    quarantine_release(
        release=Release.objects.get(project=project), actor=admin_user, reason="payload"
    )

    refused = upload(make_wheel())
    accepted = upload(make_wheel(version="1.1"))

    assert refused.status_code == 403
    assert refusal(refused).startswith(
        "Release 1.0 of 'sample-pkg' is quarantined: an administrator is reviewing it, so no "
        "files can be added to it. Publish a new version"
    )
    assert accepted.status_code == 200
