"""Forms for registering trusted publishers, one per provider; each cleans into a config dict.

`config` (after is_valid) holds the PublisherConfig field values the services take.
"""

import re
from typing import Any, cast

from django import forms

from index_site.strict_forms import StrictForm
from publishing.github_api import lookup_github_owner
from publishing.models import OIDCIssuer, Provider, RefType
from publishing.publisher_errors import PublisherError
from publishing.ref_patterns import ref_pattern_problem

GITHUB_OWNER = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*$")
GITHUB_REPOSITORY = re.compile(r"^[a-zA-Z0-9-_.]+$")
GITLAB_NAMESPACE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-_./+]*[a-zA-Z0-9]$|^[a-zA-Z0-9]$")
GITLAB_PROJECT = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9-_.+]*$")
FORBIDDEN_ENVIRONMENT_CHARACTERS = set("'\"`,;\\")
GOOGLE_DEFAULT_COMPUTE_SUFFIX = "-compute@developer.gserviceaccount.com"
FULL_COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")
RULE_LINE = re.compile(r"^\s*([A-Za-z0-9_.:-]+)\s+(==|startswith)\s+(.+?)\s*$")


def _clean_environment(value: str) -> str:
    if value != value.strip():
        raise forms.ValidationError("Remove the spaces at the start or end of the environment.")
    if any(ch in FORBIDDEN_ENVIRONMENT_CHARACTERS or ord(ch) < 32 for ch in value):
        raise forms.ValidationError(
            "Environment names cannot contain quotes, backticks, commas, semicolons, backslashes "
            "or control characters."
        )
    return value


def _clean_workflow_file(value: str) -> str:
    if not value.endswith((".yml", ".yaml")):
        raise forms.ValidationError("The workflow file name must end in .yml or .yaml.")
    return value


class PublisherForm(StrictForm):
    provider: str = ""

    def config(self) -> dict[str, Any]:
        raise NotImplementedError


def _ref_type_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        choices=RefType.choices,
        required=False,
        label="Publish from",
        help_text="Refuse runs for other refs: only tags (releases), or only branches.",
    )


def _ref_pattern_field() -> forms.CharField:
    return forms.CharField(
        max_length=255,
        required=False,
        label="Tag or branch pattern",
        help_text="A glob on the tag or branch name, such as v* or release/*: * matches "
        "anything but /, ** anything, ? one character. Empty: every tag (or branch).",
    )


class RefRequirementMixin:
    """Cleaning of the ref requirement fields (`ref_type`, `ref_pattern`) a form declares."""

    cleaned_data: dict[str, Any]

    def clean_ref_pattern(self) -> str:
        value = self.cleaned_data["ref_pattern"].strip()
        if not value:
            return value
        ref_type = self.cleaned_data.get("ref_type")
        for prefix, kind in (("refs/tags/", RefType.TAG), ("refs/heads/", RefType.BRANCH)):
            if value.startswith(prefix):
                if ref_type and ref_type != kind:
                    raise forms.ValidationError(
                        f"The pattern starts with {prefix}, which names a {kind.value}, but "
                        f"Publish from is set to {RefType(ref_type).label}."
                    )
                value = value.removeprefix(prefix)
        problem = ref_pattern_problem(value)
        if problem is not None:
            raise forms.ValidationError(problem)
        if not ref_type:
            raise forms.ValidationError(
                "Choose whether the pattern is for tags or for branches under Publish from."
            )
        return value

    def ref_config(self) -> dict[str, Any]:
        return {
            "ref_type": self.cleaned_data["ref_type"],
            "ref_pattern": self.cleaned_data["ref_pattern"],
        }


class GitHubPublisherForm(RefRequirementMixin, PublisherForm):
    provider = Provider.GITHUB

    owner = forms.CharField(max_length=100, help_text="The GitHub user or organization.")
    owner_id = forms.CharField(
        max_length=32,
        required=False,
        label="Owner ID",
        help_text="Looked up from GitHub when empty. Pinning it stops a re-created account "
        "with the same name from publishing.",
    )
    repository = forms.CharField(
        max_length=100, help_text="The repository whose workflow runs (the caller)."
    )
    workflow_filename = forms.CharField(
        max_length=255,
        required=False,
        label="Workflow file name",
        help_text="The caller's workflow file, for example release.yml. Leave empty when a "
        "reusable workflow publishes, and name it below instead.",
    )
    reusable_workflow_repository = forms.CharField(
        max_length=201,
        required=False,
        label="Reusable workflow repository",
        help_text="When the job that publishes is a reusable workflow (`uses:` in the caller): "
        "its repository as owner/name, for example acme/shared-workflows.",
    )
    reusable_workflow_path = forms.CharField(
        max_length=255,
        required=False,
        label="Reusable workflow path",
        help_text="For example .github/workflows/release.yml.",
    )
    reusable_workflow_ref = forms.CharField(
        max_length=255,
        required=False,
        label="Reusable workflow ref",
        help_text="Accept the reusable workflow only at these refs: a glob such as "
        "refs/tags/v1* or refs/heads/main, or a full commit SHA. Empty: any ref the caller "
        "names.",
    )
    environment = forms.CharField(
        max_length=255,
        required=False,
        help_text="Recommended: a GitHub environment with required reviewers.",
    )
    ref_type = _ref_type_field()
    ref_pattern = _ref_pattern_field()

    def clean_owner(self) -> str:
        owner = self.cleaned_data["owner"].strip()
        if not GITHUB_OWNER.match(owner):
            raise forms.ValidationError("Enter a valid GitHub user or organization name.")
        return owner

    def clean_owner_id(self) -> str:
        owner_id = self.cleaned_data["owner_id"].strip()
        if owner_id and not owner_id.isdigit():
            raise forms.ValidationError("The owner ID is a number.")
        return owner_id

    def clean_repository(self) -> str:
        repository = self.cleaned_data["repository"].strip()
        if repository.endswith(".git"):
            repository = repository.removesuffix(".git")
        if not GITHUB_REPOSITORY.match(repository):
            raise forms.ValidationError("Enter a valid repository name (without the owner).")
        return repository

    def clean_workflow_filename(self) -> str:
        value = self.cleaned_data["workflow_filename"].strip()
        if not value:
            return value
        if "@" in value:
            raise forms.ValidationError(
                "That looks like a reusable workflow (owner/repo/path@ref, as in `uses:`): "
                "leave the workflow file name empty and enter the reusable workflow's "
                "repository, path and ref instead."
            )
        if "/" in value:
            raise forms.ValidationError(
                "Enter only the file name, such as release.yml, without .github/workflows/."
            )
        return _clean_workflow_file(value)

    def clean_reusable_workflow_repository(self) -> str:
        value = self.cleaned_data["reusable_workflow_repository"].strip().removesuffix(".git")
        if not value:
            return value
        owner, _, name = value.partition("/")
        if not GITHUB_OWNER.match(owner) or not GITHUB_REPOSITORY.match(name):
            raise forms.ValidationError(
                "Enter the reusable workflow's repository as owner/name, such as "
                "acme/shared-workflows."
            )
        return value

    def clean_reusable_workflow_path(self) -> str:
        value = self.cleaned_data["reusable_workflow_path"].strip().removeprefix("./")
        if not value:
            return value
        if "@" in value:
            raise forms.ValidationError(
                "Enter the path without @ and a ref; put the ref in the reusable workflow ref."
            )
        if "/" not in value:
            value = f".github/workflows/{value}"
        directory, _, file = value.rpartition("/")
        if directory != ".github/workflows":
            raise forms.ValidationError(
                "GitHub runs reusable workflows only from .github/workflows/: enter a path "
                "such as .github/workflows/release.yml."
            )
        return f"{directory}/{_clean_workflow_file(file)}"

    def clean_reusable_workflow_ref(self) -> str:
        value = self.cleaned_data["reusable_workflow_ref"].strip()
        if not value or FULL_COMMIT_SHA.match(value):
            return value
        if not value.startswith(("refs/heads/", "refs/tags/")):
            raise forms.ValidationError(
                "Start the ref with refs/tags/ or refs/heads/ (for example refs/tags/v1*), or "
                "enter a full 40-character commit SHA: GitHub names the reusable workflow's ref "
                "that way."
            )
        problem = ref_pattern_problem(value)
        if problem is not None:
            raise forms.ValidationError(problem)
        return value

    def clean_environment(self) -> str:
        return _clean_environment(self.cleaned_data["environment"])

    def _clean_workflow_form(self, data: dict[str, Any]) -> None:
        """Exactly one of the two workflow forms: the caller's file, or a reusable workflow."""
        caller = data.get("workflow_filename")
        repository = data.get("reusable_workflow_repository")
        path = data.get("reusable_workflow_path")
        if caller and (repository or path or data.get("reusable_workflow_ref")):
            raise forms.ValidationError(
                "Name either the workflow file (when the caller workflow's own job publishes) "
                "or a reusable workflow (when a job it calls publishes), not both: empty one "
                "of them."
            )
        if caller:
            return
        if not repository and not path:
            raise forms.ValidationError(
                "Name the workflow that publishes: the caller's workflow file name, or a "
                "reusable workflow's repository and path."
            )
        if not repository:
            self.add_error(
                "reusable_workflow_repository",
                "Enter the reusable workflow's repository as owner/name (the caller's own "
                "repository if the workflow lives there).",
            )
        if not path:
            self.add_error(
                "reusable_workflow_path",
                "Enter the reusable workflow's path, such as .github/workflows/release.yml.",
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            self._clean_workflow_form(data)
        if data.get("owner") and not data.get("owner_id") and not self.errors:
            try:
                data["owner"], data["owner_id"] = lookup_github_owner(data["owner"])
            except PublisherError as exc:
                raise forms.ValidationError(exc.message) from exc
        return data

    def config(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "provider": Provider.GITHUB,
            "repository_owner": data["owner"],
            "repository_owner_id": data["owner_id"],
            "repository_name": data["repository"],
            "workflow_filename": data["workflow_filename"],
            "reusable_workflow_repository": data["reusable_workflow_repository"],
            "reusable_workflow_path": data["reusable_workflow_path"],
            "reusable_workflow_ref": data["reusable_workflow_ref"],
            # GitHub environment names are case-insensitive: stored lower-cased.
            "environment": data["environment"].lower(),
            **self.ref_config(),
        }


class GitLabPublisherForm(RefRequirementMixin, PublisherForm):
    provider = Provider.GITLAB

    namespace = forms.CharField(max_length=255, help_text="The group or user, with subgroups.")
    project = forms.CharField(max_length=255)
    workflow_filepath = forms.CharField(
        max_length=255, label="Pipeline file path", help_text="For example .gitlab-ci.yml."
    )
    environment = forms.CharField(max_length=255, required=False)
    ref_type = _ref_type_field()
    ref_pattern = _ref_pattern_field()
    requires_protected_ref = forms.BooleanField(
        required=False,
        label="Protected refs only",
        help_text="Accept only pipelines of protected branches and tags (GitLab's "
        "ref_protected claim): only the roles you allow can push to them.",
    )
    issuer = forms.ModelChoiceField(
        queryset=OIDCIssuer.objects.none(),
        required=False,
        empty_label="gitlab.com",
        help_text="A self-managed GitLab an administrator registered.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        issuer_field = cast(forms.ModelChoiceField, self.fields["issuer"])
        issuer_field.queryset = OIDCIssuer.objects.filter(
            kind=OIDCIssuer.Kind.GITLAB, is_enabled=True
        ).order_by("name")

    def clean_namespace(self) -> str:
        value = self.cleaned_data["namespace"].strip()
        if not GITLAB_NAMESPACE.match(value):
            raise forms.ValidationError("Enter a valid GitLab namespace, such as acme/tools.")
        return value

    def clean_project(self) -> str:
        value = self.cleaned_data["project"].strip()
        if not GITLAB_PROJECT.match(value) or value.endswith((".git", ".atom")):
            raise forms.ValidationError("Enter a valid GitLab project name.")
        return value

    def clean_workflow_filepath(self) -> str:
        value = self.cleaned_data["workflow_filepath"].strip()
        if value.startswith("/") or value.endswith("/"):
            raise forms.ValidationError("The pipeline path cannot start or end with a slash.")
        return _clean_workflow_file(value)

    def clean_environment(self) -> str:
        return _clean_environment(self.cleaned_data["environment"])

    def config(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "provider": Provider.GITLAB,
            "namespace": data["namespace"],
            "project": data["project"],
            "workflow_filepath": data["workflow_filepath"],
            "environment": data["environment"],
            "issuer": data["issuer"],
            "requires_protected_ref": data["requires_protected_ref"],
            **self.ref_config(),
        }


class GooglePublisherForm(PublisherForm):
    provider = Provider.GOOGLE

    email = forms.EmailField(label="Service account email")
    subject = forms.CharField(
        max_length=255,
        required=False,
        help_text="The service account's unique numeric ID. Recommended: an email can be "
        "re-created by someone else, the ID cannot.",
    )

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if email.endswith(GOOGLE_DEFAULT_COMPUTE_SUFFIX):
            raise forms.ValidationError(
                "Default compute service accounts are shared by every service of the Google "
                "Cloud project. Create a dedicated service account for publishing and use it."
            )
        return email

    def config(self) -> dict[str, Any]:
        return {
            "provider": Provider.GOOGLE,
            "email": self.cleaned_data["email"],
            "subject": self.cleaned_data["subject"].strip(),
        }


class CustomPublisherForm(PublisherForm):
    provider = Provider.CUSTOM

    issuer = forms.ModelChoiceField(queryset=OIDCIssuer.objects.none())
    rules = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Claim rules",
        help_text="One per line: `repository == acme/tool` or `ref startswith refs/tags/`. At "
        "least one `==` rule naming the repository or pipeline is required.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        issuer_field = cast(forms.ModelChoiceField, self.fields["issuer"])
        issuer_field.queryset = OIDCIssuer.objects.filter(
            kind=OIDCIssuer.Kind.CUSTOM, is_enabled=True
        ).order_by("name")

    def clean_rules(self) -> list[dict[str, str]]:
        rules = []
        for number, line in enumerate(self.cleaned_data["rules"].splitlines(), start=1):
            if not line.strip():
                continue
            match = RULE_LINE.match(line)
            if match is None:
                raise forms.ValidationError(
                    f"Line {number} is not a rule. Write `claim == value` or "
                    "`claim startswith value`."
                )
            claim, op, value = match.groups()
            rules.append(
                {"claim": claim, "op": "equals" if op == "==" else "startswith", "value": value}
            )
        if not any(rule["op"] == "equals" for rule in rules):
            raise forms.ValidationError(
                "Add at least one `==` rule that names the repository or pipeline exactly."
            )
        return rules

    def config(self) -> dict[str, Any]:
        return {
            "provider": Provider.CUSTOM,
            "issuer": self.cleaned_data["issuer"],
            "claim_rules": self.cleaned_data["rules"],
        }


class PendingPublisherMixin(StrictForm):
    project_name = forms.CharField(
        max_length=255, help_text="The project the first publish will create."
    )


class PendingGitHubPublisherForm(PendingPublisherMixin, GitHubPublisherForm):
    pass


class PendingGitLabPublisherForm(PendingPublisherMixin, GitLabPublisherForm):
    pass


class PendingGooglePublisherForm(PendingPublisherMixin, GooglePublisherForm):
    pass


class PendingCustomPublisherForm(PendingPublisherMixin, CustomPublisherForm):
    pass


PROJECT_FORMS: dict[str, type[PublisherForm]] = {
    Provider.GITHUB: GitHubPublisherForm,
    Provider.GITLAB: GitLabPublisherForm,
    Provider.GOOGLE: GooglePublisherForm,
    Provider.CUSTOM: CustomPublisherForm,
}
PENDING_FORMS: dict[str, type[PublisherForm]] = {
    Provider.GITHUB: PendingGitHubPublisherForm,
    Provider.GITLAB: PendingGitLabPublisherForm,
    Provider.GOOGLE: PendingGooglePublisherForm,
    Provider.CUSTOM: PendingCustomPublisherForm,
}
