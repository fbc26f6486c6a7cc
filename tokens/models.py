import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from tokens.caveats import PROJECT_CAVEAT_TAGS

ALL_PROJECTS = "All projects"
NO_PROJECT_LEFT = "No project (its projects were deleted)"


class ApiToken(models.Model):
    """One API token: a macaroon whose identifier is this row's id.

    Nothing here verifies a token on its own: the root key is derived from a server-held secret
    (`settings.TOKEN_SECRETS[key_id]`) and the token id, and never stored. A copy of this table
    can neither verify nor mint a token. The caveats the server issued are kept in `caveats` and
    appended to the presented token at verification, so they bind even a token stripped of them.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_tokens",
        help_text="The owner of a user token; empty for a trusted-publisher token.",
    )
    publisher_id = models.BigIntegerField(
        null=True,
        blank=True,
        db_index=True,
        help_text="The trusted publisher a short-lived token was minted for.",
    )
    name = models.CharField(max_length=100)
    key_id = models.CharField(
        max_length=64, help_text="Which TOKEN_SECRETS entry the root key is derived from."
    )
    caveats = models.JSONField(default=list, help_text="The caveats the server issued.")
    projects = models.ManyToManyField(
        "projects.Project",
        blank=True,
        related_name="api_tokens",
        help_text="The projects the token is scoped to; none means all the owner's projects.",
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    ip_networks = models.JSONField(default=list, blank=True)
    ci_run = models.JSONField(
        default=dict,
        blank=True,
        help_text="A trusted-publisher token: the CI run that minted it (repository, workflow, "
        "ref, commit, link), copied into the history of its uploads.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    expiry_recorded_at = models.DateTimeField(
        null=True, blank=True, help_text="When the token's expiry was written to the history."
    )

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"],
                condition=Q(user__isnull=False),
                name="apitoken_name_unique_per_user",
            ),
            models.CheckConstraint(
                condition=(
                    Q(user__isnull=False, publisher_id__isnull=True)
                    | Q(user__isnull=True, publisher_id__isnull=False)
                ),
                name="apitoken_user_xor_publisher",
            ),
        ]
        indexes = [
            models.Index(fields=["expires_at"], name="apitoken_expires_at"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_trusted_publisher(self) -> bool:
        return self.publisher_id is not None

    @property
    def is_project_scoped(self) -> bool:
        """Whether the issued caveats limit the token to projects. `projects` lists those that
        still exist: a scoped token whose projects were all deleted can upload nowhere."""
        return any(caveat[0] in PROJECT_CAVEAT_TAGS for caveat in self.caveats)

    @property
    def scope_without_projects(self) -> str:
        """What a list shows for the scope when `projects` is empty."""
        return NO_PROJECT_LEFT if self.is_project_scoped else ALL_PROJECTS
