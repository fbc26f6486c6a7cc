"""GitHub publishers in both workflow forms: the caller's own workflow file, or a reusable
workflow it calls (in the same repository or another one), through mint-token, the pages, the
forms and the database constraints."""

import time

import pytest
from django.db import IntegrityError, transaction

from accounts.reauth import AUTHENTICATED_AT_KEY
from auditlog.events import EventType
from auditlog.models import AuditEvent
from publishing.forms import GitHubPublisherForm, PendingGitHubPublisherForm
from publishing.models import PendingPublisher, TrustedPublisher
from publishing.pending import register_pending_publisher
from tests.publishing.oidc.conftest import (
    GITHUB_CONFIG,
    add_publisher,
    error_code,
    error_description,
    github_claims,
)
from tokens.models import ApiToken

pytestmark = pytest.mark.django_db

CALLER = "acme/widget/.github/workflows/release.yml@refs/tags/v1.0.0"
SHARED = "acme-org/shared/.github/workflows/pypi.yml"
REUSABLE_CONFIG = {
    **GITHUB_CONFIG,
    "workflow_filename": "",
    "reusable_workflow_repository": "acme-org/shared",
    "reusable_workflow_path": ".github/workflows/pypi.yml",
}


def _called(job_workflow_ref: str, **overrides) -> dict:
    """Claims of a job of a reusable workflow that acme/widget's release.yml calls."""
    return github_claims(
        **{"workflow_ref": CALLER, **overrides, "job_workflow_ref": job_workflow_ref}
    )


# The caller workflow form ----------------------------------------------------------------


def test_caller_workflow_publisher_accepts_its_own_job(github, github_publisher, mint):
    status, body = mint(github.sign(github_claims()))
    assert status == 200, body


@pytest.mark.parametrize(
    "job_workflow_ref",
    [
        f"{SHARED}@refs/tags/v2",
        "acme/widget/.github/workflows/build.yml@refs/tags/v1.0.0",
        "evil/widget/.github/workflows/release.yml@refs/tags/v1.0.0",
    ],
)
def test_caller_workflow_publisher_refuses_a_job_of_a_called_workflow(
    github, github_publisher, mint, job_workflow_ref
):
    status, body = mint(github.sign(_called(job_workflow_ref)))
    assert (status, error_code(body)) == (422, "invalid-publisher")
    description = error_description(body)
    assert f"claim 'job_workflow_ref' is {job_workflow_ref!r}" in description
    assert "runs in a reusable workflow" in description
    repository = job_workflow_ref.partition("/.github/")[0]
    assert f"repository {repository!r}, path '.github/workflows/" in description


def test_caller_workflow_publisher_refuses_another_caller_workflow(github, github_publisher, mint):
    ci = "acme/widget/.github/workflows/ci.yml@refs/tags/v1.0.0"
    status, body = mint(github.sign(github_claims(workflow_ref=ci, job_workflow_ref=ci)))
    assert (status, error_code(body)) == (422, "invalid-publisher")
    assert error_description(body).startswith(
        f"valid token, but no corresponding publisher (claim 'workflow_ref' is {ci!r} but the "
        "publisher expects the workflow 'acme/widget/.github/workflows/release.yml')"
    )


def test_caller_workflow_at_another_ref_than_the_run_is_refused(github, github_publisher, mint):
    evil = "acme/widget/.github/workflows/release.yml@refs/heads/evil"
    status, body = mint(github.sign(github_claims(workflow_ref=evil, job_workflow_ref=evil)))
    assert (status, error_code(body)) == (422, "invalid-publisher")
    assert "claim 'workflow_ref' names 'refs/heads/evil', which is neither" in error_description(
        body
    )


def test_token_without_workflow_ref_is_refused(github, github_publisher, mint):
    status, body = mint(github.sign(github_claims(workflow_ref=None)))
    assert (status, error_code(body)) == (422, "invalid-publisher")
    assert "Missing claim 'workflow_ref'" in error_description(body)


# The reusable workflow form --------------------------------------------------------------


def test_reusable_workflow_of_another_repository_publishes_for_the_caller(github, project, mint):
    publisher = add_publisher(project, **REUSABLE_CONFIG)
    status, body = mint(github.sign(_called(f"{SHARED}@refs/tags/v2")))
    assert status == 200, body
    assert ApiToken.objects.get().publisher_id == publisher.pk
    event = AuditEvent.objects.get(event_type=EventType.PROJECT_SHORT_LIVED_API_TOKEN_ADDED)
    assert event.data["workflow_ref"] == CALLER
    assert event.data["job_workflow_ref"] == f"{SHARED}@refs/tags/v2"
    assert event.data["reusable_workflow_used"] is True


def test_reusable_workflow_of_the_caller_repository_publishes(github, project, mint):
    add_publisher(
        project,
        **{
            **REUSABLE_CONFIG,
            "reusable_workflow_repository": "acme/widget",
            "reusable_workflow_path": ".github/workflows/publish.yml",
        },
    )
    job = "acme/widget/.github/workflows/publish.yml@refs/tags/v1.0.0"
    assert mint(github.sign(_called(job)))[0] == 200


def test_reusable_workflow_publisher_matches_whichever_caller_file_calls_it(github, project, mint):
    add_publisher(project, **REUSABLE_CONFIG)
    for caller in ("release.yml", "nightly.yaml"):
        claims = github_claims(
            workflow_ref=f"acme/widget/.github/workflows/{caller}@refs/heads/main",
            job_workflow_ref=f"{SHARED}@refs/tags/v2",
            ref="refs/heads/main",
        )
        assert mint(github.sign(claims))[0] == 200


@pytest.mark.parametrize(
    "job_workflow_ref",
    [
        "acme-org/shared/.github/workflows/other.yml@refs/tags/v2",
        "acme-org/shared/.github/workflows/PYPI.yml@refs/tags/v2",
        "acme-org/shared-fork/.github/workflows/pypi.yml@refs/tags/v2",
        "evil-org/shared/.github/workflows/pypi.yml@refs/tags/v2",
        "acme/widget/.github/workflows/pypi.yml@refs/tags/v1.0.0",
        CALLER,
    ],
)
def test_reusable_workflow_publisher_refuses_any_other_workflow(
    github, project, mint, job_workflow_ref
):
    add_publisher(project, **REUSABLE_CONFIG)
    status, body = mint(github.sign(_called(job_workflow_ref)))
    assert (status, error_code(body)) == (422, "invalid-publisher")
    assert (
        f"claim 'job_workflow_ref' is {job_workflow_ref!r} but the publisher expects the "
        f"reusable workflow {SHARED!r}"
    ) in error_description(body)


def test_reusable_workflow_repository_compares_in_any_case(github, project, mint):
    add_publisher(project, **REUSABLE_CONFIG)
    job = "Acme-Org/Shared/.github/workflows/pypi.yml@refs/tags/v2"
    assert mint(github.sign(_called(job)))[0] == 200


def test_another_caller_repository_calling_the_shared_workflow_is_refused(github, project, mint):
    """Anyone can call a public shared workflow: the caller repository is what is pinned."""
    add_publisher(project, **REUSABLE_CONFIG)
    claims = _called(
        f"{SHARED}@refs/tags/v2",
        repository="mallory/widget",
        repository_owner="mallory",
        repository_owner_id="666",
        workflow_ref="mallory/widget/.github/workflows/release.yml@refs/tags/v1.0.0",
    )
    status, body = mint(github.sign(claims))
    assert (status, error_code(body)) == (422, "invalid-publisher")
    description = error_description(body)
    assert "no trusted publisher is configured for repository 'mallory/widget'" in description
    assert "acme" not in description.replace("mallory", "")


def test_reusable_workflow_publisher_refuses_a_recreated_caller_owner(github, project, mint):
    add_publisher(project, **REUSABLE_CONFIG)
    status, body = mint(github.sign(_called(f"{SHARED}@refs/tags/v2", repository_owner_id="1")))
    assert (status, error_code(body)) == (422, "invalid-publisher")
    assert "'repository_owner_id' is '1'" in error_description(body)


@pytest.mark.parametrize(
    ("pattern", "ref"),
    [
        ("refs/tags/v2*", "refs/tags/v2"),
        ("refs/tags/v2*", "refs/tags/v2.1.0"),
        ("refs/heads/**", "refs/heads/feature/x"),
        ("refs/heads/main", "refs/heads/main"),
        ("a" * 40, "a" * 40),
    ],
)
def test_reusable_workflow_at_a_matching_ref_publishes(github, project, mint, pattern, ref):
    add_publisher(project, **{**REUSABLE_CONFIG, "reusable_workflow_ref": pattern})
    status, body = mint(github.sign(_called(f"{SHARED}@{ref}")))
    assert status == 200, body


@pytest.mark.parametrize(
    ("pattern", "ref"),
    [
        ("refs/tags/v2*", "refs/tags/v3"),
        ("refs/tags/v2*", "refs/heads/v2"),
        ("refs/tags/v2*", "refs/tags/v2/evil"),
        ("refs/heads/main", "refs/heads/main-evil"),
        ("refs/heads/main", "refs/heads/Main"),
        ("a" * 40, "b" * 40),
        ("a" * 40, "refs/heads/main"),
    ],
)
def test_reusable_workflow_at_another_ref_is_refused_naming_both(
    github, project, mint, pattern, ref
):
    add_publisher(project, **{**REUSABLE_CONFIG, "reusable_workflow_ref": pattern})
    status, body = mint(github.sign(_called(f"{SHARED}@{ref}")))
    assert (status, error_code(body)) == (422, "invalid-publisher")
    assert (
        f"claim 'job_workflow_ref' names the reusable workflow at {ref!r} but the publisher "
        f"requires a ref matching {pattern!r}"
    ) in error_description(body)


def test_claim_diff_explains_the_closest_of_both_forms(github, project, mint):
    """A caller-form and a reusable-form publisher for one repository: each token is told
    about the publisher it nearly matched."""
    add_publisher(project, **GITHUB_CONFIG)
    add_publisher(project, **{**REUSABLE_CONFIG, "reusable_workflow_ref": "refs/tags/v2*"})
    status, body = mint(github.sign(_called(f"{SHARED}@refs/heads/main")))
    assert status == 422
    assert "requires a ref matching 'refs/tags/v2*'" in error_description(body)
    assert mint(github.sign(_called(f"{SHARED}@refs/tags/v2.0")))[0] == 200
    assert mint(github.sign(github_claims()))[0] == 200


# Storage: one form only, keys of old configurations unchanged ----------------------------


@pytest.mark.parametrize(
    "config",
    [
        {**REUSABLE_CONFIG, "workflow_filename": "release.yml"},
        {**GITHUB_CONFIG, "workflow_filename": ""},
        {**REUSABLE_CONFIG, "reusable_workflow_repository": ""},
        {**REUSABLE_CONFIG, "reusable_workflow_path": ""},
        {**GITHUB_CONFIG, "reusable_workflow_ref": "refs/tags/v*"},
        {
            "provider": "gitlab",
            "namespace": "acme",
            "project": "widget",
            "workflow_filepath": ".gitlab-ci.yml",
            "reusable_workflow_repository": "acme/shared",
        },
    ],
)
def test_database_refuses_a_publisher_without_exactly_one_workflow_form(owner, config):
    with pytest.raises(IntegrityError), transaction.atomic():
        TrustedPublisher(**config).save()
    publisher = TrustedPublisher.objects.create(**GITHUB_CONFIG)
    with pytest.raises(IntegrityError), transaction.atomic():
        PendingPublisher(
            **config,
            project_name="future",
            normalized_name="future",
            added_by=owner,
            publisher=publisher,
        ).save()


def test_caller_form_key_is_unchanged_and_reusable_forms_are_distinct():
    caller = TrustedPublisher(**GITHUB_CONFIG)
    assert caller.compute_config_key() == (
        '{"env":"","owner":"acme","owner_id":"4242","provider":"github","repo":"widget",'
        '"workflow":"release.yml"}'
    )
    keys = {
        TrustedPublisher(**config).compute_config_key()
        for config in (
            GITHUB_CONFIG,
            REUSABLE_CONFIG,
            {**REUSABLE_CONFIG, "reusable_workflow_ref": "refs/tags/v2*"},
            {**REUSABLE_CONFIG, "reusable_workflow_path": ".github/workflows/other.yml"},
        )
    }
    assert len(keys) == 4
    upper = {**REUSABLE_CONFIG, "reusable_workflow_repository": "ACME-org/Shared"}
    assert TrustedPublisher(**upper).compute_config_key() == (
        TrustedPublisher(**REUSABLE_CONFIG).compute_config_key()
    )


# Forms and pages -------------------------------------------------------------------------


def _form_data(**overrides) -> dict:
    data = {
        "owner": "acme",
        "owner_id": "4242",
        "repository": "widget",
        "workflow_filename": "",
        "reusable_workflow_repository": "acme-org/shared",
        "reusable_workflow_path": ".github/workflows/pypi.yml",
        "reusable_workflow_ref": "",
        "environment": "",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("form_class", [GitHubPublisherForm, PendingGitHubPublisherForm])
@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"workflow_filename": "release.yml"},
            "__all__",
            (
                "Name either the workflow file (when the caller workflow's own job publishes) or a "
                "reusable workflow (when a job it calls publishes), not both: empty one of them."
            ),
        ),
        (
            {
                "workflow_filename": "release.yml",
                "reusable_workflow_repository": "",
                "reusable_workflow_path": "",
                "reusable_workflow_ref": "refs/tags/v1",
            },
            "__all__",
            "not both",
        ),
        (
            {"reusable_workflow_repository": "", "reusable_workflow_path": ""},
            "__all__",
            (
                "Name the workflow that publishes: the caller's workflow file name, or a reusable "
                "workflow's repository and path."
            ),
        ),
        (
            {"reusable_workflow_repository": ""},
            "reusable_workflow_repository",
            "Enter the reusable workflow's repository as owner/name",
        ),
        (
            {"reusable_workflow_path": ""},
            "reusable_workflow_path",
            "Enter the reusable workflow's path",
        ),
        ({"reusable_workflow_repository": "shared"}, "reusable_workflow_repository", "owner/name"),
        (
            {"reusable_workflow_repository": "acme/shared/extra"},
            "reusable_workflow_repository",
            "owner/name",
        ),
        (
            {"reusable_workflow_path": "ci/pypi.yml"},
            "reusable_workflow_path",
            "only from .github/workflows/",
        ),
        (
            {"reusable_workflow_path": ".github/workflows/sub/pypi.yml"},
            "reusable_workflow_path",
            "only from .github/workflows/",
        ),
        (
            {"reusable_workflow_path": ".github/workflows/pypi.yml@v1"},
            "reusable_workflow_path",
            "without @ and a ref",
        ),
        (
            {"reusable_workflow_path": ".github/workflows/pypi.txt"},
            "reusable_workflow_path",
            "must end in .yml or .yaml",
        ),
        ({"reusable_workflow_ref": "v1"}, "reusable_workflow_ref", "refs/tags/ or refs/heads/"),
        (
            {"reusable_workflow_ref": "refs/tags/v[12]"},
            "reusable_workflow_ref",
            "cannot contain",
        ),
        (
            {
                "workflow_filename": "acme-org/shared/.github/workflows/pypi.yml@v1",
                "reusable_workflow_repository": "",
                "reusable_workflow_path": "",
            },
            "workflow_filename",
            "That looks like a reusable workflow",
        ),
    ],
)
def test_github_form_refuses_both_neither_or_half_a_workflow_form(
    form_class, overrides, field, message
):
    form = form_class(data={"project_name": "future", **_form_data(**overrides)})
    assert not form.is_valid()
    assert any(message in error for error in form.errors[field]), form.errors


@pytest.mark.parametrize(
    ("path", "stored"),
    [
        (".github/workflows/pypi.yml", ".github/workflows/pypi.yml"),
        ("./.github/workflows/pypi.yml", ".github/workflows/pypi.yml"),
        ("pypi.yaml", ".github/workflows/pypi.yaml"),
    ],
)
def test_github_form_cleans_a_reusable_workflow_into_its_config(path, stored):
    form = GitHubPublisherForm(
        data=_form_data(reusable_workflow_path=path, reusable_workflow_ref="refs/tags/v2*")
    )
    assert form.is_valid(), form.errors
    config = form.config()
    assert config["workflow_filename"] == ""
    assert config["reusable_workflow_repository"] == "acme-org/shared"
    assert config["reusable_workflow_path"] == stored
    assert config["reusable_workflow_ref"] == "refs/tags/v2*"


def _login(client, user) -> None:
    client.force_login(user)
    session = client.session
    session[AUTHENTICATED_AT_KEY] = int(time.time())
    session.save()


def _post_data(prefix: str = "github", **overrides) -> dict:
    return {
        "provider": "github",
        **{f"{prefix}-{k}": v for k, v in _form_data(**overrides).items()},
    }


def test_owner_adds_a_reusable_workflow_publisher_and_the_event_names_it(client, owner, project):
    _login(client, owner)
    url = "/manage/project/widget/settings/publishing/"
    response = client.post(url, _post_data(reusable_workflow_ref="refs/tags/v2*"))
    assert response.status_code == 302
    publisher = TrustedPublisher.objects.get()
    assert publisher.display_name == (
        "GitHub: acme/widget calling reusable workflow "
        "acme-org/shared/.github/workflows/pypi.yml@refs/tags/v2*"
    )
    event = AuditEvent.objects.get(event_type=EventType.PROJECT_OIDC_PUBLISHER_ADDED)
    assert event.data["reusable_workflow"] == SHARED
    assert event.data["reusable_workflow_ref"] == "refs/tags/v2*"
    assert "workflow" not in event.data
    page = client.get(url)
    assert publisher.display_name.encode() in page.content


def test_refused_form_on_the_page_says_why(client, owner, project):
    _login(client, owner)
    url = "/manage/project/widget/settings/publishing/"
    response = client.post(url, _post_data(workflow_filename="release.yml"))
    assert response.status_code == 400
    assert b"not both: empty one of them." in response.content
    assert not TrustedPublisher.objects.exists()


def test_pending_reusable_workflow_publisher_is_registered_and_audited(owner):
    form = PendingGitHubPublisherForm(data={"project_name": "future", **_form_data()})
    assert form.is_valid(), form.errors
    pending = register_pending_publisher(user=owner, project_name="future", config=form.config())
    assert pending.uses_reusable_workflow
    assert pending.publisher.reusable_workflow == SHARED
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_OIDC_PENDING_PUBLISHER_ADDED)
    assert event.data["reusable_workflow"] == SHARED
    assert event.data["publisher"] == (
        f"GitHub: acme/widget calling reusable workflow {SHARED} (any ref)"
    )


def test_pending_reusable_workflow_publisher_mints_for_the_new_project(github, owner, mint):
    register_pending_publisher(user=owner, project_name="future", config=REUSABLE_CONFIG)
    assert mint(github.sign(_called(f"{SHARED}@refs/tags/v2")))[0] == 200
