"""Uploads with a trusted publisher's short-lived token pass through the same pipeline."""

import pytest

from auditlog.events import EventType
from auditlog.models import AuditEvent
from projects.models import File, Project
from tests.factories import ProjectFactory
from tests.publishing.upload.conftest import basic_auth, refusal
from tests.publishing.upload.dists import make_wheel
from tokens.services import create_publisher_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def publisher_project(db):
    return ProjectFactory(name="sample-pkg", normalized_name="sample-pkg")


def test_publisher_token_uploads_to_its_project(upload, publisher_project):
    _row, raw = create_publisher_token(publisher_id=7, project_ids=[publisher_project.pk])

    response = upload(make_wheel(), auth=basic_auth(raw))

    assert response.status_code == 200, response.content
    assert File.objects.get().uploaded_by is None
    event = AuditEvent.objects.get(event_type=EventType.PROJECT_FILE_ADD)
    assert event.data["uploaded_via_trusted_publisher"] is True
    assert event.data["publisher_id"] == 7


def test_publisher_token_cannot_upload_to_another_project(upload, publisher_project):
    other = ProjectFactory(name="other")
    _row, raw = create_publisher_token(publisher_id=7, project_ids=[other.pk])

    message = refusal(upload(make_wheel(), auth=basic_auth(raw)))

    assert message == (
        "Invalid API Token: trusted publishing token is not valid for project: 'sample-pkg'"
    )


def test_publisher_token_may_upload_to_trusted_publishing_only_project(upload, publisher_project):
    publisher_project.is_trusted_publishing_only = True
    publisher_project.save()
    _row, raw = create_publisher_token(publisher_id=7, project_ids=[publisher_project.pk])

    response = upload(make_wheel(), auth=basic_auth(raw))

    assert response.status_code == 200, response.content


def test_publisher_token_without_pending_publisher_cannot_create_a_project(upload):
    other = ProjectFactory(name="other")
    _row, raw = create_publisher_token(publisher_id=7, project_ids=[other.pk])

    response = upload(make_wheel(), auth=basic_auth(raw))

    assert response.status_code == 400
    assert refusal(response).startswith("Non-user identities cannot create new projects.")
    assert not Project.objects.filter(normalized_name="sample-pkg").exists()
