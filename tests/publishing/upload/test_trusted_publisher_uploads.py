"""Uploads with a trusted publisher's short-lived token pass through the same pipeline.

The publisher is checked at use time: it must still be attached to the project when the file
arrives, whatever the token listed when it was minted.
"""

import json

import pytest
from django.conf import settings
from pymacaroons import Macaroon

from accounts.login import SECOND_FACTOR_VERIFIED_KEY
from auditlog.events import EventType
from auditlog.models import AuditEvent
from projects.models import File, Project, Role
from publishing.models import PendingPublisher, Provider, TokenPublisher, TrustedPublisher
from tests.factories import ProjectFactory, TwoFactorUserFactory
from tests.publishing.upload.conftest import basic_auth, refusal
from tests.publishing.upload.dists import make_sdist, make_wheel
from tokens.services import create_api_token, create_publisher_token

pytestmark = pytest.mark.django_db

CONFIG = {
    "provider": Provider.GITHUB,
    "repository_owner": "acme",
    "repository_owner_id": "4242",
    "repository_name": "widget",
    "workflow_filename": "release.yml",
    "environment": "",
}


@pytest.fixture
def publisher_project(db):
    return ProjectFactory(name="sample-pkg", normalized_name="sample-pkg")


@pytest.fixture
def publisher(publisher_project) -> TrustedPublisher:
    publisher = TrustedPublisher(**CONFIG)
    publisher.save()
    publisher.projects.add(publisher_project)
    return publisher


def _token(publisher: TrustedPublisher, *projects: Project) -> str:
    _row, raw = create_publisher_token(
        publisher_id=publisher.pk, project_ids=[project.pk for project in projects]
    )
    return raw


def test_publisher_token_uploads_to_its_project(upload, publisher, publisher_project):
    raw = _token(publisher, publisher_project)

    response = upload(make_wheel(), auth=basic_auth(raw))

    assert response.status_code == 200, response.content
    assert File.objects.get().uploaded_by is None
    event = AuditEvent.objects.get(event_type=EventType.PROJECT_FILE_ADD)
    assert event.data["uploaded_via_trusted_publisher"] is True
    assert event.data["publisher_id"] == publisher.pk


def test_publisher_token_cannot_upload_to_another_project(upload, publisher, publisher_project):
    other = ProjectFactory(name="other")
    publisher.projects.set([other])
    raw = _token(publisher, other)

    message = refusal(upload(make_wheel(), auth=basic_auth(raw)))

    assert message == (
        "Invalid API Token: trusted publishing token is not valid for project: 'sample-pkg'"
    )


def test_publisher_removed_from_the_project_stops_its_live_token_at_once(
    upload, publisher, publisher_project
):
    raw = _token(publisher, publisher_project)
    assert upload(make_sdist(), auth=basic_auth(raw)).status_code == 200

    # As the admin's project list or any other path would: no token is revoked here.
    publisher.projects.remove(publisher_project)
    message = refusal(upload(make_wheel(), auth=basic_auth(raw)))

    assert message == (
        "Invalid API Token: trusted publishing token is not valid for project: 'sample-pkg'"
    )
    assert File.objects.count() == 1


def test_deleted_publisher_token_cannot_upload(upload, publisher, publisher_project):
    raw = _token(publisher, publisher_project)
    TrustedPublisher.objects.filter(pk=publisher.pk).delete()

    response = upload(make_wheel(), auth=basic_auth(raw))

    assert response.status_code == 403
    assert not File.objects.exists()


def test_pending_publisher_first_release_uploads_sdist_and_wheel_with_one_token(upload):
    registrant = TwoFactorUserFactory()
    publisher = TrustedPublisher(**CONFIG)
    publisher.save()
    PendingPublisher.objects.create(
        **CONFIG,
        project_name="sample-pkg",
        normalized_name="sample-pkg",
        added_by=registrant,
        publisher=publisher,
    )
    # Minted before the project exists: the token lists no project.
    raw = _token(publisher)

    first = upload(make_sdist(), auth=basic_auth(raw))
    second = upload(make_wheel(), auth=basic_auth(raw))

    assert first.status_code == 200, first.content
    assert second.status_code == 200, second.content
    project = Project.objects.get(normalized_name="sample-pkg")
    assert File.objects.filter(release__project=project).count() == 2
    assert Role.objects.get(project=project).user == registrant


def test_token_acting_for_several_publishers_uploads_to_each_ones_project(upload):
    """A token minted for every publisher its CI identity matched reaches all their projects."""
    mine = ProjectFactory(name="sample-pkg", normalized_name="sample-pkg")
    theirs = ProjectFactory(name="their-pkg")
    broad = TrustedPublisher(**CONFIG)
    broad.save()
    broad.projects.add(mine)
    narrow = TrustedPublisher(**{**CONFIG, "environment": "release"})
    narrow.save()
    narrow.projects.add(theirs)
    row, raw = create_publisher_token(publisher_id=narrow.pk, project_ids=[mine.pk, theirs.pk])
    TokenPublisher.objects.bulk_create(
        [TokenPublisher(token=row, publisher=narrow), TokenPublisher(token=row, publisher=broad)]
    )

    response = upload(make_wheel(), auth=basic_auth(raw))

    assert response.status_code == 200, response.content
    assert File.objects.get().release.project == mine


def test_narrowed_publisher_token_keeps_its_own_project_caveats(
    upload, publisher, publisher_project
):
    other = ProjectFactory(name="other")
    publisher.projects.add(other)
    raw = _token(publisher, publisher_project, other)
    # The holder narrows the token to `other` with a ProjectID caveat of their own.
    macaroon = Macaroon.deserialize(raw.removeprefix(f"{settings.TOKEN_PREFIX}-"))
    macaroon.add_first_party_caveat(json.dumps([2, [str(other.pk)]], separators=(",", ":")))
    narrowed = f"{settings.TOKEN_PREFIX}-{macaroon.serialize()}"

    response = upload(make_wheel(), auth=basic_auth(narrowed))

    assert response.status_code == 403
    assert upload(make_wheel(), auth=basic_auth(raw)).status_code == 200


def test_publisher_token_may_upload_to_trusted_publishing_only_project(
    upload, publisher, publisher_project
):
    publisher_project.is_trusted_publishing_only = True
    publisher_project.save()
    raw = _token(publisher, publisher_project)

    response = upload(make_wheel(), auth=basic_auth(raw))

    assert response.status_code == 200, response.content


def test_publisher_token_without_pending_publisher_cannot_create_a_project(upload):
    other = ProjectFactory(name="other")
    publisher = TrustedPublisher(**CONFIG)
    publisher.save()
    publisher.projects.add(other)
    raw = _token(publisher, other)

    response = upload(make_wheel(), auth=basic_auth(raw))

    assert response.status_code == 400
    assert refusal(response).startswith("Non-user identities cannot create new projects.")
    assert not Project.objects.filter(normalized_name="sample-pkg").exists()


def test_user_token_upload_is_not_affected_by_publishers(upload, uploader, publisher_project):
    Role.objects.create(project=publisher_project, user=uploader, role=Role.Kind.OWNER)
    _row, raw = create_api_token(user=uploader, name="personal", actor=uploader)

    response = upload(make_wheel(), auth=basic_auth(raw))

    assert response.status_code == 200, response.content


def test_the_upload_history_names_the_ci_run_and_links_it(
    upload, publisher, publisher_project, client
):
    run = {
        "repository": "acme/widget",
        "workflow": ".github/workflows/release.yml",
        "ref": "refs/tags/v1.0.0",
        "sha": "abcdef0123456789" * 2 + "abcdef01",
        "run_url": "https://github.com/acme/widget/actions/runs/8123456789/attempts/1",
    }
    _row, raw = create_publisher_token(
        publisher_id=publisher.pk, project_ids=[publisher_project.pk], ci_run=run
    )
    assert upload(make_wheel(), auth=basic_auth(raw)).status_code == 200
    event = AuditEvent.objects.get(event_type=EventType.PROJECT_FILE_ADD)
    assert event.data["ci_run"] == run

    owner = TwoFactorUserFactory()
    Role.objects.create(project=publisher_project, user=owner, role=Role.Kind.OWNER)
    client.force_login(owner)
    session = client.session
    session[SECOND_FACTOR_VERIFIED_KEY] = True
    session.save()
    page = client.get(f"/manage/project/{publisher_project.normalized_name}/history/")
    html = page.content.decode()
    assert "From acme/widget, workflow .github/workflows/release.yml, refs/tags/v1.0.0" in html
    assert "commit <code>abcdef012345…</code>" in html
    assert f'<a href="{run["run_url"]}" rel="noopener noreferrer">Open the CI run</a>' in html


def test_a_user_token_upload_names_no_ci_run(upload, publisher_project):
    owner = TwoFactorUserFactory()
    Role.objects.create(project=publisher_project, user=owner, role=Role.Kind.OWNER)
    _row, raw = create_api_token(user=owner, name="laptop", actor=owner)
    assert upload(make_wheel(), auth=basic_auth(raw)).status_code == 200
    event = AuditEvent.objects.get(event_type=EventType.PROJECT_FILE_ADD)
    assert "ci_run" not in event.data
    assert event.ci_run is None
