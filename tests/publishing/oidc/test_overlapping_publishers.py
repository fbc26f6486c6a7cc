"""A CI identity that satisfies several publishers gets one token acting for all of them.

Anyone may register a publisher for any CI identity, so a narrower copy of a project's publisher
(the same workflow plus an environment, as a real or a pending publisher) must not shadow it.
"""

import pytest

from auditlog.events import EventType
from auditlog.models import AuditEvent
from projects.models import Role
from publishing.models import TokenPublisher
from publishing.pending import project_from_pending_publisher, register_pending_publisher
from publishing.selectors import publisher_may_upload_to
from tests.factories import ProjectFactory, TwoFactorUserFactory
from tests.publishing.oidc.conftest import GITHUB_CONFIG, add_publisher, github_claims
from tests.publishing.oidc.test_mint_token import _upload_identity
from tokens.models import ApiToken

pytestmark = pytest.mark.django_db

WITH_ENVIRONMENT = {**GITHUB_CONFIG, "environment": "release"}


def _may_upload(identity, project) -> bool:
    return identity.may_upload_to(project) and publisher_may_upload_to(
        publisher_id=identity.publisher_id, token_id=identity.token.pk, project=project
    )


def test_narrower_publisher_of_another_project_does_not_shadow_the_broad_one(github, mint, rf):
    victim_project = ProjectFactory(name="victim-proj")
    other_project = ProjectFactory(name="other-proj")
    broad = add_publisher(victim_project, **GITHUB_CONFIG)
    narrow = add_publisher(other_project, **WITH_ENVIRONMENT)

    status, body = mint(github.sign(github_claims(environment="release")))

    assert status == 200, body
    identity = _upload_identity(rf, body["token"])
    assert _may_upload(identity, victim_project)
    assert _may_upload(identity, other_project)
    # The row names the most specific publisher; every matched one is recorded.
    assert identity.publisher_id == narrow.pk
    assert set(TokenPublisher.objects.values_list("publisher_id", flat=True)) == {
        broad.pk,
        narrow.pk,
    }


def test_narrower_pending_publisher_does_not_shadow_a_project_publisher(github, mint, rf):
    victim_project = ProjectFactory(name="victim-proj")
    add_publisher(victim_project, **GITHUB_CONFIG)
    register_pending_publisher(
        user=TwoFactorUserFactory(), project_name="anything-else", config=WITH_ENVIRONMENT
    )

    status, body = mint(github.sign(github_claims(environment="release")))

    assert status == 200, body
    assert _may_upload(_upload_identity(rf, body["token"]), victim_project)


def test_pending_publisher_of_a_broader_match_still_creates_its_project(github, mint, rf):
    registrant = TwoFactorUserFactory()
    register_pending_publisher(user=registrant, project_name="new-widget", config=GITHUB_CONFIG)
    add_publisher(ProjectFactory(name="other-proj"), **WITH_ENVIRONMENT)

    _, body = mint(github.sign(github_claims(environment="release")))
    project = project_from_pending_publisher(
        identity=_upload_identity(rf, body["token"]), name="new-widget"
    )

    assert project is not None
    assert Role.objects.get(project=project).user == registrant


def test_token_of_the_broad_publisher_alone_does_not_reach_the_narrow_ones_projects(
    github, mint, rf
):
    victim_project = ProjectFactory(name="victim-proj")
    other_project = ProjectFactory(name="other-proj")
    add_publisher(victim_project, **GITHUB_CONFIG)
    add_publisher(other_project, **WITH_ENVIRONMENT)

    status, body = mint(github.sign(github_claims(environment="staging")))

    assert status == 200, body
    identity = _upload_identity(rf, body["token"])
    assert _may_upload(identity, victim_project)
    assert not _may_upload(identity, other_project)


def test_each_project_history_names_the_publisher_that_granted_it(github, mint):
    victim_project = ProjectFactory(name="victim-proj")
    other_project = ProjectFactory(name="other-proj")
    broad = add_publisher(victim_project, **GITHUB_CONFIG)
    narrow = add_publisher(other_project, **WITH_ENVIRONMENT)

    mint(github.sign(github_claims(environment="release")))

    events = AuditEvent.objects.filter(event_type=EventType.PROJECT_SHORT_LIVED_API_TOKEN_ADDED)
    assert {event.project: event.data["publisher_id"] for event in events} == {
        victim_project: broad.pk,
        other_project: narrow.pk,
    }
    assert list(ApiToken.objects.get().projects.order_by("pk")) == [victim_project, other_project]
