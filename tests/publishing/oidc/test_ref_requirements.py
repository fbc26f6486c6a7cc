"""Publishers that require a tag or a branch (GitHub `ref`/`ref_type`, GitLab `ref_path`/
`ref_type`) and GitLab's protected refs, through mint-token, the forms and the database."""

import pytest
from django.db import IntegrityError, transaction

from auditlog.events import EventType
from auditlog.models import AuditEvent
from publishing.forms import (
    GitHubPublisherForm,
    GitLabPublisherForm,
    PendingGitHubPublisherForm,
    PendingGitLabPublisherForm,
)
from publishing.models import Provider, RefType, TrustedPublisher
from publishing.pending import register_pending_publisher
from publishing.services import add_publisher_to_project
from tests.publishing.oidc.conftest import (
    GITHUB_CONFIG,
    add_publisher,
    error_code,
    error_description,
    github_claims,
    gitlab_claims,
)

pytestmark = pytest.mark.django_db

GITLAB_CONFIG = {
    "provider": Provider.GITLAB,
    "namespace": "acme",
    "project": "widget",
    "workflow_filepath": ".gitlab-ci.yml",
    "environment": "pypi",
}
REUSABLE_CONFIG = {
    **GITHUB_CONFIG,
    "workflow_filename": "",
    "reusable_workflow_repository": "acme-org/shared",
    "reusable_workflow_path": ".github/workflows/pypi.yml",
}


def _github_run(ref: str, ref_type: str | None = None, **overrides) -> dict:
    """Claims of acme/widget's release.yml run for `ref`."""
    kind = ref_type or ("tag" if ref.startswith("refs/tags/") else "branch")
    workflow = f"acme/widget/.github/workflows/release.yml@{ref}"
    return github_claims(
        **{
            "ref": ref,
            "ref_type": kind,
            "workflow_ref": workflow,
            "job_workflow_ref": workflow,
            **overrides,
        }
    )


def _gitlab_run(ref_path: str, *, protected: str | None = "true", **overrides) -> dict:
    kind = "tag" if ref_path.startswith("refs/tags/") else "branch"
    return gitlab_claims(
        **{
            "ref_path": ref_path,
            "ref_type": kind,
            "ref_protected": protected,
            "ci_config_ref_uri": f"gitlab.com/acme/widget//.gitlab-ci.yml@{ref_path}",
            **overrides,
        }
    )


# GitHub ----------------------------------------------------------------------------------

GITHUB_CASES = [
    # Each case: ref type, name pattern, the ref the run was for, whether it may publish.
    (RefType.TAG, "", "refs/tags/v1.0.0", True),
    (RefType.TAG, "", "refs/tags/anything", True),
    (RefType.TAG, "", "refs/heads/main", False),
    (RefType.TAG, "v*", "refs/tags/v1.0.0", True),
    (RefType.TAG, "v*", "refs/tags/release-1", False),
    (RefType.TAG, "v*", "refs/tags/v1/evil", False),
    (RefType.TAG, "v*", "refs/heads/v1.0.0", False),
    (RefType.TAG, "v?.*", "refs/tags/v1.2", True),
    (RefType.TAG, "v?.*", "refs/tags/v10.2", False),
    (RefType.BRANCH, "", "refs/heads/feature", True),
    (RefType.BRANCH, "", "refs/tags/v1.0.0", False),
    (RefType.BRANCH, "main", "refs/heads/main", True),
    (RefType.BRANCH, "main", "refs/heads/main-evil", False),
    (RefType.BRANCH, "main", "refs/heads/Main", False),
    (RefType.BRANCH, "release/*", "refs/heads/release/1.x", True),
    (RefType.BRANCH, "release/*", "refs/heads/release/1/x", False),
    (RefType.BRANCH, "release/**", "refs/heads/release/1/x", True),
    (RefType.BRANCH, "main", "refs/pull/7/merge", False),
]


@pytest.mark.parametrize("case", GITHUB_CASES)
def test_github_ref_requirement(github, project, mint, case):
    ref_type, pattern, ref, accepted = case
    add_publisher(project, **{**GITHUB_CONFIG, "ref_type": ref_type, "ref_pattern": pattern})
    status, body = mint(github.sign(_github_run(ref)))
    if accepted:
        assert status == 200, body
        return
    assert (status, error_code(body)) == (422, "invalid-publisher")
    kind, _, name = ref.removeprefix("refs/").partition("/")
    ran = {"tags": f"tag {name!r}", "heads": f"branch {name!r}"}.get(kind, f"ref {ref!r}")
    required = f"a {ref_type.value}" + (f" matching {pattern!r}" if pattern else "")
    assert error_description(body) == (
        f"valid token, but no corresponding publisher (the workflow ran for {ran} "
        f"(claim 'ref' is {ref!r}) but the publisher requires {required})"
    )


def test_github_ref_type_that_disagrees_with_the_ref_is_refused(github, project, mint):
    add_publisher(project, **{**GITHUB_CONFIG, "ref_type": RefType.TAG})
    status, body = mint(github.sign(_github_run("refs/tags/v1.0.0", ref_type="branch")))
    assert (status, error_code(body)) == (422, "invalid-publisher")
    assert "claims 'ref_type' ('branch') and 'ref' ('refs/tags/v1.0.0') disagree" in (
        error_description(body)
    )


def test_github_run_without_a_ref_is_refused_when_a_ref_is_required(github, project, mint):
    add_publisher(project, **{**GITHUB_CONFIG, "ref_type": RefType.TAG})
    workflow = "acme/widget/.github/workflows/release.yml@" + "0" * 40
    claims = github_claims(ref=None, workflow_ref=workflow, job_workflow_ref=workflow)
    status, body = mint(github.sign(claims))
    assert (status, error_code(body)) == (422, "invalid-publisher")
    assert "the publisher requires a tag but the token has no 'ref' claim" in (
        error_description(body)
    )


def test_ref_requirement_applies_to_the_caller_of_a_reusable_workflow(github, project, mint):
    add_publisher(project, **{**REUSABLE_CONFIG, "ref_type": RefType.TAG, "ref_pattern": "v*"})
    shared = "acme-org/shared/.github/workflows/pypi.yml@refs/heads/main"
    tag = _github_run("refs/tags/v2.0", job_workflow_ref=shared)
    assert mint(github.sign(tag))[0] == 200
    branch = _github_run("refs/heads/main", job_workflow_ref=shared)
    status, body = mint(github.sign(branch))
    assert status == 422
    assert "the workflow ran for branch 'main'" in error_description(body)


def test_unrestricted_and_tag_only_publishers_of_one_workflow_both_apply(github, project, mint):
    """A narrower copy never shadows the broader one: a branch run still matches."""
    add_publisher(project, **GITHUB_CONFIG)
    add_publisher(project, **{**GITHUB_CONFIG, "ref_type": RefType.TAG})
    assert mint(github.sign(_github_run("refs/heads/main")))[0] == 200
    assert mint(github.sign(_github_run("refs/tags/v1")))[0] == 200


def test_ref_refusal_never_names_another_repository_publisher(github, project, mint):
    add_publisher(project, **{**GITHUB_CONFIG, "ref_type": RefType.TAG, "ref_pattern": "v*"})
    claims = _github_run(
        "refs/heads/main",
        repository="mallory/widget",
        repository_owner="mallory",
        workflow_ref="mallory/widget/.github/workflows/release.yml@refs/heads/main",
        job_workflow_ref="mallory/widget/.github/workflows/release.yml@refs/heads/main",
    )
    status, body = mint(github.sign(claims))
    assert status == 422
    assert "v*" not in error_description(body)
    assert "tag" not in error_description(body)


# GitLab ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        (RefType.TAG, "", "refs/tags/v1.0.0", True),
        (RefType.TAG, "v*", "refs/tags/v1.0.0", True),
        (RefType.TAG, "v*", "refs/tags/nightly", False),
        (RefType.TAG, "", "refs/heads/main", False),
        (RefType.BRANCH, "main", "refs/heads/main", True),
        (RefType.BRANCH, "main", "refs/heads/feature", False),
        (RefType.BRANCH, "", "refs/merge-requests/3/head", False),
    ],
)
def test_gitlab_ref_requirement(gitlab, project, mint, case):
    ref_type, pattern, ref_path, accepted = case
    add_publisher(project, **{**GITLAB_CONFIG, "ref_type": ref_type, "ref_pattern": pattern})
    status, body = mint(gitlab.sign(_gitlab_run(ref_path)))
    if accepted:
        assert status == 200, body
        return
    assert (status, error_code(body)) == (422, "invalid-publisher")
    description = error_description(body)
    assert "the pipeline ran for " in description
    assert f"(claim 'ref_path' is {ref_path!r}) but the publisher requires a {ref_type.value}" in (
        description
    )


@pytest.mark.parametrize(
    "case",
    [
        (True, "true", True),
        (True, "false", False),
        (True, None, False),
        (True, "TRUE", False),
        (False, "false", True),
        (False, None, True),
    ],
)
def test_gitlab_protected_refs_only(gitlab, project, mint, case):
    required, protected, accepted = case
    add_publisher(project, **{**GITLAB_CONFIG, "requires_protected_ref": required})
    status, body = mint(gitlab.sign(_gitlab_run("refs/heads/feature", protected=protected)))
    if accepted:
        assert status == 200, body
        return
    assert (status, error_code(body)) == (422, "invalid-publisher")
    assert (
        f"the pipeline ran for branch 'feature', which is not protected (claim 'ref_protected' "
        f"is {protected!r}), but the publisher accepts protected branches and tags only"
    ) in error_description(body)


def test_gitlab_protected_tag_matching_the_pattern_mints_and_is_audited(gitlab, project, mint):
    add_publisher(
        project,
        **{
            **GITLAB_CONFIG,
            "ref_type": RefType.TAG,
            "ref_pattern": "v*",
            "requires_protected_ref": True,
        },
    )
    status, body = mint(gitlab.sign(_gitlab_run("refs/tags/v1.0.0")))
    assert status == 200, body
    event = AuditEvent.objects.get(event_type=EventType.PROJECT_SHORT_LIVED_API_TOKEN_ADDED)
    assert event.data["ref_path"] == "refs/tags/v1.0.0"
    assert event.data["ref_type"] == "tag"
    assert event.data["ref_protected"] == "true"


# Forms, storage and history --------------------------------------------------------------


def _github_data(**overrides) -> dict:
    return {
        "owner": "acme",
        "owner_id": "4242",
        "repository": "widget",
        "workflow_filename": "release.yml",
        "environment": "",
        "ref_type": "",
        "ref_pattern": "",
        **overrides,
    }


def _gitlab_data(**overrides) -> dict:
    return {
        "namespace": "acme",
        "project": "widget",
        "workflow_filepath": ".gitlab-ci.yml",
        "environment": "",
        "ref_type": "",
        "ref_pattern": "",
        **overrides,
    }


FORMS = [
    (GitHubPublisherForm, _github_data),
    (PendingGitHubPublisherForm, _github_data),
    (GitLabPublisherForm, _gitlab_data),
    (PendingGitLabPublisherForm, _gitlab_data),
]


@pytest.mark.parametrize(("form_class", "data"), FORMS)
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ref_pattern": "v*"}, "Choose whether the pattern is for tags or for branches"),
        (
            {"ref_type": "tag", "ref_pattern": "refs/heads/main"},
            (
                "The pattern starts with refs/heads/, which names a branch, but Publish from is "
                "set to Tags only."
            ),
        ),
        ({"ref_type": "tag", "ref_pattern": "v[0-9]*"}, "cannot contain"),
        ({"ref_type": "tag", "ref_pattern": "v 1"}, "cannot contain"),
        ({"ref_type": "branch", "ref_pattern": "release/"}, "start or end with a slash"),
        ({"ref_type": "branch", "ref_pattern": "a***"}, "not ***"),
        ({"ref_type": "commit"}, "Select a valid choice"),
    ],
)
def test_forms_refuse_an_unusable_ref_requirement(form_class, data, overrides, message):
    form = form_class(data={"project_name": "future", **data(**overrides)})
    assert not form.is_valid()
    errors = [error for field_errors in form.errors.values() for error in field_errors]
    assert any(message in error for error in errors), form.errors


@pytest.mark.parametrize(("form_class", "data"), FORMS)
def test_forms_store_the_ref_requirement_by_name(form_class, data):
    form = form_class(
        data={"project_name": "f", **data(ref_type="tag", ref_pattern="refs/tags/v*")}
    )
    assert form.is_valid(), form.errors
    assert form.config()["ref_type"] == "tag"
    assert form.config()["ref_pattern"] == "v*"


def test_gitlab_form_stores_protected_refs_only():
    form = GitLabPublisherForm(data=_gitlab_data(requires_protected_ref="on"))
    assert form.is_valid(), form.errors
    assert form.config()["requires_protected_ref"] is True
    assert "requires_protected_ref" not in GitHubPublisherForm.base_fields


@pytest.mark.parametrize(
    "config",
    [
        {**GITHUB_CONFIG, "ref_pattern": "v*"},
        {**GITHUB_CONFIG, "ref_type": "commit"},
        {**GITHUB_CONFIG, "requires_protected_ref": True},
        {"provider": Provider.GOOGLE, "email": "ci@acme.example", "ref_type": "tag"},
    ],
)
def test_database_refuses_a_ref_requirement_that_cannot_apply(config):
    with pytest.raises(IntegrityError), transaction.atomic():
        TrustedPublisher(**config).save()


def test_ref_requirements_make_distinct_publishers_and_old_keys_stay():
    base = TrustedPublisher(**GITLAB_CONFIG).compute_config_key()
    assert base == (
        '{"env":"pypi","issuer":null,"namespace":"acme","project":"widget","provider":"gitlab",'
        '"workflow":".gitlab-ci.yml"}'
    )
    keys = {
        TrustedPublisher(**{**GITLAB_CONFIG, **extra}).compute_config_key()
        for extra in (
            {},
            {"ref_type": RefType.TAG},
            {"ref_type": RefType.TAG, "ref_pattern": "v*"},
            {"ref_type": RefType.BRANCH, "ref_pattern": "v*"},
            {"requires_protected_ref": True},
        )
    }
    assert len(keys) == 5


def test_publisher_added_event_and_name_carry_the_ref_requirement(owner, project):
    publisher = add_publisher_to_project(
        project=project,
        config={
            **GITLAB_CONFIG,
            "ref_type": RefType.TAG,
            "ref_pattern": "v*",
            "requires_protected_ref": True,
        },
        actor=owner,
    )
    assert publisher.display_name == (
        "GitLab (gitlab.com): acme/widget .gitlab-ci.yml (environment pypi), only from a tag "
        "matching 'v*', protected refs only"
    )
    event = AuditEvent.objects.get(event_type=EventType.PROJECT_OIDC_PUBLISHER_ADDED)
    assert event.data["ref_type"] == "tag"
    assert event.data["ref_pattern"] == "v*"
    assert event.data["requires_protected_ref"] is True
    assert event.data["publisher"] == publisher.display_name


def test_pending_publisher_event_carries_the_ref_requirement(owner):
    register_pending_publisher(
        user=owner,
        project_name="future",
        config={**GITHUB_CONFIG, "ref_type": RefType.BRANCH, "ref_pattern": "main"},
    )
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_OIDC_PENDING_PUBLISHER_ADDED)
    assert event.data["ref_type"] == "branch"
    assert event.data["ref_pattern"] == "main"
    assert event.data["workflow"] == "release.yml"
    assert "requires_protected_ref" not in event.data
