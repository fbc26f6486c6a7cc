"""Trusted publishers, pending publishers, custom OIDC issuers, the publishers a minted token
acts for, and used JWT ids.

A publisher's configuration (which CI workflow may publish) lives in `PublisherConfig`, shared by
`TrustedPublisher` (attached to projects) and `PendingPublisher` (for a project that does not
exist yet). `config_key` is a canonical string of the configuration: two rows with the same key
describe the same CI identity, so an identical publisher row is reused across projects.
"""

import json

from django.conf import settings
from django.db import models
from django.db.models import Q


class Provider(models.TextChoices):
    GITHUB = "github", "GitHub Actions"
    GITLAB = "gitlab", "GitLab CI/CD"
    GOOGLE = "google", "Google Cloud"
    CUSTOM = "custom", "Custom issuer"


class OIDCIssuer(models.Model):
    """An issuer an admin registers: a self-managed GitLab, Forgejo/Gitea, Buildkite, ..."""

    class Kind(models.TextChoices):
        GITLAB = "gitlab", "Self-managed GitLab"
        CUSTOM = "custom", "Custom (claim rules)"

    class KeySource(models.TextChoices):
        DISCOVERY = "discovery", "OpenID discovery (jwks_uri)"
        PINNED = "pinned", "Pinned JWKS"

    name = models.CharField(max_length=100, unique=True)
    issuer_url = models.URLField(
        max_length=255, unique=True, help_text="Compared exactly with the token's `iss` claim."
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CUSTOM)
    key_source = models.CharField(
        max_length=16, choices=KeySource.choices, default=KeySource.DISCOVERY
    )
    pinned_jwks = models.JSONField(
        default=dict, blank=True, help_text='With a pinned key source: {"keys": [...]}.'
    )
    audience = models.CharField(
        max_length=255, blank=True, help_text="Expected `aud`; empty means the site's audience."
    )
    algorithms = models.JSONField(
        default=list, blank=True, help_text='Allowed algorithms, e.g. ["RS256"]; empty: RS256.'
    )
    requires_jti = models.BooleanField(
        default=True, help_text="Refuse tokens without a `jti` (replay protection)."
    )
    is_enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "OIDC issuer"

    def __str__(self) -> str:
        return f"{self.name} ({self.issuer_url})"


class AdminFlag(models.Model):
    """A switch an admin flips at run time. `disallow-oidc` turns trusted publishing off."""

    DISALLOW_OIDC = "disallow-oidc"

    id = models.CharField(max_length=64, primary_key=True)
    is_enabled = models.BooleanField(default=False)
    description = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"{self.id} ({'on' if self.is_enabled else 'off'})"


class RefType(models.TextChoices):
    """Which kind of git ref a publisher requires the CI run to be for."""

    ANY = "", "Any branch or tag"
    TAG = "tag", "Tags only"
    BRANCH = "branch", "Branches only"


class PublisherConfig(models.Model):
    """Which CI identity may publish. Fields unused by a provider stay empty."""

    provider = models.CharField(max_length=16, choices=Provider.choices)
    # GitHub Actions: the caller repository, then the workflow that publishes, in one of two
    # forms (a constraint keeps exactly one): the caller's own workflow file (`workflow_ref`),
    # or a reusable workflow it calls, possibly in another repository (`job_workflow_ref`).
    repository_owner = models.CharField(max_length=100, blank=True)
    repository_owner_id = models.CharField(max_length=32, blank=True)
    repository_name = models.CharField(max_length=100, blank=True)
    workflow_filename = models.CharField(max_length=255, blank=True)
    reusable_workflow_repository = models.CharField(
        max_length=201, blank=True, help_text="owner/name of the reusable workflow's repository."
    )
    reusable_workflow_path = models.CharField(
        max_length=255, blank=True, help_text="For example .github/workflows/release.yml."
    )
    reusable_workflow_ref = models.CharField(
        max_length=255,
        blank=True,
        help_text="A glob the reusable workflow's ref must match (refs/tags/v1*); empty: any.",
    )
    # GitLab CI/CD
    namespace = models.CharField(max_length=255, blank=True)
    project = models.CharField(max_length=255, blank=True)
    workflow_filepath = models.CharField(max_length=255, blank=True)
    # GitHub (stored lower-cased, compared case-insensitively) and GitLab (exact).
    environment = models.CharField(max_length=255, blank=True)
    # GitHub (`ref`, `ref_type`) and GitLab (`ref_path`, `ref_type`): the run must be for a tag
    # or a branch, optionally one whose name matches a glob (publishing.ref_patterns).
    ref_type = models.CharField(max_length=8, choices=RefType.choices, blank=True)
    ref_pattern = models.CharField(
        max_length=255, blank=True, help_text="A glob on the tag or branch name; empty: any."
    )
    # GitLab only (`ref_protected`): only pipelines of protected branches and tags.
    requires_protected_ref = models.BooleanField(default=False)
    # Issuer: GitLab's is gitlab.com or a registered self-managed instance; custom publishers
    # name their registered issuer.
    issuer = models.ForeignKey(OIDCIssuer, null=True, blank=True, on_delete=models.PROTECT)
    # Google Cloud
    email = models.EmailField(blank=True)
    subject = models.CharField(max_length=255, blank=True)
    # Custom issuer: [{"claim": "repository", "op": "equals"|"startswith", "value": "..."}]
    claim_rules = models.JSONField(default=list, blank=True)
    config_key = models.CharField(max_length=1024, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args, **kwargs):
        # Derived, never business logic: keeps identical configurations findable.
        self.config_key = self.compute_config_key()
        super().save(*args, **kwargs)

    def compute_config_key(self) -> str:
        # Optional parts (a reusable workflow, a ref requirement, protected refs) are added
        # only when set, so the keys of configurations stored before they existed are
        # unchanged and identical rows are still found.
        data: dict = {"provider": self.provider}
        if self.provider == Provider.GITHUB:
            data |= {
                "owner": self.repository_owner.lower(),
                "owner_id": self.repository_owner_id,
                "repo": self.repository_name.lower(),
                "workflow": self.workflow_filename,
                "env": self.environment.lower(),
            }
            if self.uses_reusable_workflow:
                data["reusable"] = {
                    "repo": self.reusable_workflow_repository.lower(),
                    "path": self.reusable_workflow_path,
                    "ref": self.reusable_workflow_ref,
                }
        elif self.provider == Provider.GITLAB:
            data |= {
                "namespace": self.namespace.lower(),
                "project": self.project.lower(),
                "workflow": self.workflow_filepath,
                "env": self.environment,
                "issuer": self.issuer_id,
            }
            if self.requires_protected_ref:
                data["protected"] = True
        elif self.provider == Provider.GOOGLE:
            data |= {"email": self.email.lower(), "sub": self.subject}
        else:
            data |= {"issuer": self.issuer_id, "rules": self.claim_rules}
        if self.ref_type:
            data["ref"] = {"type": self.ref_type, "pattern": self.ref_pattern}
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @property
    def uses_reusable_workflow(self) -> bool:
        return bool(self.reusable_workflow_path)

    @property
    def reusable_workflow(self) -> str:
        """The reusable workflow as `job_workflow_ref` names it, without the ref."""
        return f"{self.reusable_workflow_repository}/{self.reusable_workflow_path}"

    @property
    def ref_requirement(self) -> str:
        """The refs the publisher accepts, as a phrase ("a tag matching 'v*'"); "" for any."""
        if not self.ref_type:
            return ""
        kind = RefType(self.ref_type).value
        return f"a {kind} matching {self.ref_pattern!r}" if self.ref_pattern else f"a {kind}"

    @property
    def display_name(self) -> str:
        env = f" (environment {self.environment})" if self.environment else ""
        if self.ref_requirement:
            env += f", only from {self.ref_requirement}"
        if self.requires_protected_ref:
            env += ", protected refs only"
        if self.provider == Provider.GITHUB:
            caller = f"GitHub: {self.repository_owner}/{self.repository_name}"
            if self.uses_reusable_workflow:
                at = (
                    f"@{self.reusable_workflow_ref}" if self.reusable_workflow_ref else " (any ref)"
                )
                return f"{caller} calling reusable workflow {self.reusable_workflow}{at}{env}"
            return f"{caller} workflow {self.workflow_filename}{env}"
        issuer = self.issuer
        if self.provider == Provider.GITLAB:
            host = issuer.issuer_url if issuer is not None else "gitlab.com"
            return f"GitLab ({host}): {self.namespace}/{self.project} {self.workflow_filepath}{env}"
        if self.provider == Provider.GOOGLE:
            sub = f" (subject {self.subject})" if self.subject else ""
            return f"Google Cloud: {self.email}{sub}"
        rules = ", ".join(
            f"{rule['claim']} {rule['op']} {rule['value']!r}" for rule in self.claim_rules
        )
        return f"{issuer.name if issuer is not None else '?'}: {rules}"

    @property
    def url(self) -> str:
        """The CI project's web page, when the provider has one."""
        if self.provider == Provider.GITHUB:
            return f"https://github.com/{self.repository_owner}/{self.repository_name}"
        if self.provider == Provider.GITLAB:
            issuer = self.issuer
            base = issuer.issuer_url if issuer is not None else "https://gitlab.com"
            return f"{base.rstrip('/')}/{self.namespace}/{self.project}"
        return ""


def _config_constraints() -> list[models.BaseConstraint]:
    """What every PublisherConfig table guarantees, whatever wrote the row."""
    github = Q(provider=Provider.GITHUB)
    no_reusable = Q(reusable_workflow_repository="", reusable_workflow_path="") & Q(
        reusable_workflow_ref=""
    )
    caller_form = ~Q(workflow_filename="") & no_reusable
    reusable_form = (
        Q(workflow_filename="")
        & ~Q(reusable_workflow_repository="")
        & ~Q(reusable_workflow_path="")
    )
    no_ref_requirement = Q(ref_type="", ref_pattern="")
    return [
        models.CheckConstraint(
            condition=Q(ref_type__in=RefType.values) & (Q(ref_pattern="") | ~Q(ref_type="")),
            name="%(class)s_ref_pattern_has_a_ref_type",
            violation_error_message="A ref pattern applies to tags or to branches: choose which.",
        ),
        models.CheckConstraint(
            condition=Q(provider__in=[Provider.GITHUB, Provider.GITLAB]) | no_ref_requirement,
            name="%(class)s_ref_requirement_github_gitlab_only",
            violation_error_message="Only GitHub and GitLab publishers require a ref.",
        ),
        models.CheckConstraint(
            condition=Q(provider=Provider.GITLAB) | Q(requires_protected_ref=False),
            name="%(class)s_protected_refs_gitlab_only",
            violation_error_message="Only GitLab publishers require protected refs.",
        ),
        models.CheckConstraint(
            condition=~github | caller_form | reusable_form,
            name="%(class)s_github_one_workflow_form",
            violation_error_message="A GitHub publisher names either the caller workflow file "
            "or a reusable workflow (repository and path), not both.",
        ),
        models.CheckConstraint(
            condition=github | no_reusable,
            name="%(class)s_reusable_workflow_github_only",
            violation_error_message="Only GitHub publishers name a reusable workflow.",
        ),
    ]


class TrustedPublisher(PublisherConfig):
    """A CI identity allowed to publish the projects it is attached to."""

    projects = models.ManyToManyField(
        "projects.Project", related_name="trusted_publishers", blank=True
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["config_key"], name="publisher_config_unique"),
            *_config_constraints(),
        ]


class PendingPublisher(PublisherConfig):
    """A publisher for a project that does not exist yet; its first upload creates the project.

    `publisher` is the TrustedPublisher row with the same configuration, created at
    registration, so minting only ever looks up TrustedPublisher rows.
    """

    project_name = models.CharField(max_length=255)
    normalized_name = models.CharField(max_length=255)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pending_publishers"
    )
    publisher = models.ForeignKey(
        TrustedPublisher, on_delete=models.CASCADE, related_name="pending_publishers"
    )

    class Meta:
        constraints = [
            # One pending publisher per project name: its registrant becomes the owner.
            models.UniqueConstraint(
                fields=["normalized_name"], name="pending_publisher_name_unique"
            ),
            *_config_constraints(),
        ]


class TokenPublisher(models.Model):
    """A publisher a minted token acts for.

    A CI identity can satisfy several publishers at once (the same workflow registered with
    and without an environment, by different people, for different projects). The token acts
    for every one of them, and at use time one of them must still be attached to the project:
    see publishing.services.mint_publisher_token. The token row's own `publisher_id` names the
    most specific of them.
    """

    token = models.ForeignKey("tokens.ApiToken", on_delete=models.CASCADE, related_name="+")
    publisher = models.ForeignKey(
        TrustedPublisher, on_delete=models.CASCADE, related_name="token_grants"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "publisher"], name="token_publisher_unique"),
        ]

    def __str__(self) -> str:
        return f"token {self.token_id} acts for publisher {self.publisher_id}"


class UsedJwtId(models.Model):
    """A JWT id already exchanged for a token. The unique row is the atomic claim."""

    issuer_url = models.CharField(max_length=255)
    jti = models.CharField(max_length=255)
    expires_at = models.DateTimeField(help_text="Deletable after this (exp + leeway + margin).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "used JWT id"
        constraints = [
            models.UniqueConstraint(fields=["issuer_url", "jti"], name="used_jwt_id_unique"),
        ]
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"{self.jti} ({self.issuer_url})"
