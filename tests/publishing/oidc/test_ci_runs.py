"""The CI run behind a trusted-publishing token: read from the verified claims at mint, kept
with the token and linked from the history, never a link anywhere but the run's own page."""

import pytest

from auditlog.events import EventType
from auditlog.models import AuditEvent
from publishing.ci_runs import ci_run_of
from publishing.models import Provider
from tests.publishing.oidc.conftest import add_publisher, github_claims, gitlab_claims
from tests.publishing.oidc.test_mint_token import GITLAB_CONFIG
from tokens.models import ApiToken

pytestmark = pytest.mark.django_db

SHA = "0" * 40


def test_a_github_run_names_repository_workflow_ref_commit_and_links_the_attempt():
    claims = github_claims(run_id="8123456789", run_attempt="2")
    assert ci_run_of(provider=Provider.GITHUB, issuer_url="ignored", claims=claims) == {
        "repository": "acme/widget",
        "workflow": ".github/workflows/release.yml",
        "ref": "refs/tags/v1.0.0",
        "sha": SHA,
        "run_url": "https://github.com/acme/widget/actions/runs/8123456789/attempts/2",
    }


def test_a_gitlab_pipeline_links_the_instance_that_issued_the_token():
    claims = gitlab_claims(pipeline_id=987654, project_path="acme/tools/widget")
    run = ci_run_of(
        provider=Provider.GITLAB, issuer_url="https://gitlab.acme.internal/", claims=claims
    )
    assert run["run_url"] == "https://gitlab.acme.internal/acme/tools/widget/-/pipelines/987654"
    assert run["workflow"] == ".gitlab-ci.yml"
    assert run["ref"] == "refs/tags/v1.0.0"


@pytest.mark.parametrize(
    "overrides",
    [
        {"repository": "acme/../evil"},
        {"repository": "evil.example/x?y=1"},
        {"repository": "acme/widget#frag"},
        {"repository": "//evil.example/a"},
        {"repository": "acme"},
        {"repository": "acme/widget\n"},
        {"run_id": "1/../../../evil"},
        {"run_id": "1e5"},
        {"run_id": "-1"},
        {"run_id": True},
        {"run_id": None},
        {"run_id": ["1"]},
        {"run_id": "1" * 21},
    ],
)
def test_a_run_link_is_made_only_from_values_of_the_right_shape(overrides):
    claims = {**github_claims(run_id="42"), **overrides}
    run = ci_run_of(provider=Provider.GITHUB, issuer_url="", claims=claims)
    assert "run_url" not in run


@pytest.mark.parametrize("issuer_url", ["javascript:alert(1)//", "file:///etc", "gitlab.com"])
def test_a_pipeline_link_needs_an_http_issuer(issuer_url):
    claims = gitlab_claims(pipeline_id="7")
    assert "run_url" not in ci_run_of(
        provider=Provider.GITLAB, issuer_url=issuer_url, claims=claims
    )


@pytest.mark.parametrize("provider", [Provider.GOOGLE, Provider.CUSTOM])
def test_providers_whose_tokens_name_no_run_keep_nothing(provider):
    assert ci_run_of(provider=provider, issuer_url="https://x", claims=github_claims()) == {}


def test_minting_keeps_the_run_with_the_token_and_links_it_from_the_mint_event(
    github, github_publisher, mint
):
    status, body = mint(github.sign(github_claims(run_id="555", run_attempt="1")))
    assert status == 200, body
    run_url = "https://github.com/acme/widget/actions/runs/555/attempts/1"
    assert ApiToken.objects.get().ci_run["run_url"] == run_url
    event = AuditEvent.objects.get(event_type=EventType.PROJECT_SHORT_LIVED_API_TOKEN_ADDED)
    assert event.data["ci_run_url"] == run_url


def test_a_gitlab_mint_keeps_the_pipeline(gitlab, project, mint):
    add_publisher(project, **GITLAB_CONFIG)
    status, body = mint(gitlab.sign(gitlab_claims(pipeline_id="31337")))
    assert status == 200, body
    assert ApiToken.objects.get().ci_run == {
        "repository": "acme/widget",
        "workflow": ".gitlab-ci.yml",
        "ref": "refs/tags/v1.0.0",
        "sha": "1" * 40,
        "run_url": "https://gitlab.com/acme/widget/-/pipelines/31337",
    }
