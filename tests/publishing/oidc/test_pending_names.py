"""Pending publishers and lookalike names: the "too similar" rule holds at registration and at
mint time, as prohibited and standard-library names do (GHSA-c943-3cj2-g448)."""

import pytest

from projects.models import Project
from publishing.models import PendingPublisher
from publishing.pending import register_pending_publisher
from publishing.publisher_errors import PublisherError
from tests.factories import ProjectFactory, TwoFactorUserFactory
from tests.publishing.oidc.conftest import (
    GITHUB_CONFIG,
    error_code,
    error_description,
    github_claims,
)
from tokens.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("lookalike", ["pi11ow", "PILL0W", "p.i.l.l.o.w"])
def test_pending_publisher_for_a_name_too_similar_to_a_project_is_refused(lookalike):
    ProjectFactory(name="pillow")

    with pytest.raises(PublisherError) as refused:
        register_pending_publisher(
            user=TwoFactorUserFactory(), project_name=lookalike, config=dict(GITHUB_CONFIG)
        )

    assert str(refused.value) == (
        f"The name {lookalike!r} is too similar to an existing project. Choose a different name "
        "for your project."
    )
    assert not PendingPublisher.objects.exists()


def test_lookalike_project_created_after_registration_stops_the_mint(github, mint):
    register_pending_publisher(
        user=TwoFactorUserFactory(), project_name="new-widget", config=dict(GITHUB_CONFIG)
    )
    ProjectFactory(name="new-w1dget")

    status, body = mint(github.sign(github_claims()))

    assert (status, error_code(body)) == (422, "invalid-payload")
    assert error_description(body) == (
        "The name 'new-widget' is too similar to an existing project. Choose a different name "
        "for your project."
    )
    assert not ApiToken.objects.exists()
    assert not PendingPublisher.objects.exists()
    assert not Project.objects.filter(normalized_name="new-widget").exists()
