from django.conf import settings
from django.db import models


class Project(models.Model):
    class Status(models.TextChoices):
        """PEP 792 project status markers, served in the simple index and the JSON API."""

        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"  # no more uploads; files still offered
        DEPRECATED = "deprecated", "Deprecated"  # as active, with a banner and a successor
        QUARANTINED = "quarantined", "Quarantined"  # an admin hid it: no uploads, no files offered

    name = models.CharField(max_length=255, help_text="The name as first uploaded.")
    normalized_name = models.CharField(max_length=255, unique=True, help_text="PEP 503 form.")
    ultranormalized_name = models.CharField(
        max_length=255,
        db_index=True,
        blank=True,
        editable=False,
        help_text="Confusable form (no -_. and l/i as 1, o as 0): a new name may not match it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    is_critical = models.BooleanField(
        default=False, help_text="Among the most downloaded projects; maintainers need 2FA."
    )
    upload_limit = models.BigIntegerField(
        null=True, blank=True, help_text="Largest file in bytes; empty for the site default."
    )
    total_size_limit = models.BigIntegerField(
        null=True, blank=True, help_text="All files together in bytes; empty for the site default."
    )
    total_size = models.BigIntegerField(default=0)
    is_trusted_publishing_only = models.BooleanField(
        default=False, help_text="Refuse uploads made with long-lived API tokens."
    )
    serial = models.PositiveBigIntegerField(
        default=0,
        editable=False,
        help_text="Bumped by every change the index shows; keys the cached simple pages.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(
        max_length=500, blank=True, help_text="Shown to installers and on the project page."
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    successor = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="For a deprecated project: the project that replaces it.",
    )
    # An admin's quarantine: why (emailed to the owners, never served), and the status to
    # return to when it is lifted.
    quarantine_reason = models.CharField(max_length=500, blank=True)
    status_before_quarantine = models.CharField(max_length=16, choices=Status.choices, blank=True)

    class Meta:
        ordering = ["normalized_name"]

    def __str__(self) -> str:
        return self.name

    @property
    def public_status_reason(self) -> str:
        """The reason installers are shown with the status: the owners' own words. A quarantine
        shows none: its reason is the administrators' note to the owners."""
        return "" if self.status == self.Status.QUARANTINED else self.status_reason


class ReleaseQuerySet(models.QuerySet["Release"]):
    def offered(self) -> "ReleaseQuerySet":
        """Releases installers may see: neither the release nor its project is quarantined."""
        return self.filter(is_quarantined=False).exclude(project__status=Project.Status.QUARANTINED)


class Release(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="releases")
    version = models.CharField(max_length=100)
    canonical_version = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    summary = models.CharField(max_length=512, blank=True)
    requires_python = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # PEP 592: a yanked release stays downloadable and listed, marked so installers skip it
    # unless it is pinned exactly.
    yanked = models.BooleanField(default=False)
    yanked_reason = models.CharField(max_length=500, blank=True)
    yanked_at = models.DateTimeField(null=True, blank=True)
    # An admin's quarantine of one release: gone from the index, the JSON API and downloads.
    is_quarantined = models.BooleanField(default=False)
    quarantine_reason = models.CharField(max_length=500, blank=True)

    objects = ReleaseQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "canonical_version"], name="release_version_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project.name} {self.version}"


class FileQuerySet(models.QuerySet["File"]):
    def offered(self) -> "FileQuerySet":
        """Files the index lists and serves: their release is offered (see ReleaseQuerySet)."""
        return self.filter(release__is_quarantined=False).exclude(
            release__project__status=Project.Status.QUARANTINED
        )


class File(models.Model):
    class PackageType(models.TextChoices):
        SDIST = "sdist"
        WHEEL = "bdist_wheel"

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="files")
    filename = models.CharField(max_length=255, unique=True)
    packagetype = models.CharField(max_length=32, choices=PackageType.choices)
    python_version = models.CharField(max_length=64, blank=True)
    requires_python = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField()
    md5_digest = models.CharField(max_length=32)
    sha256_digest = models.CharField(max_length=64, unique=True)
    blake2_256_digest = models.CharField(max_length=64, unique=True)
    path = models.CharField(max_length=512, unique=True, help_text="Storage path.")
    metadata_sha256_digest = models.CharField(
        max_length=64, blank=True, help_text="Of the core metadata served as <file>.metadata."
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    uploaded_via = models.CharField(max_length=255, blank=True, help_text="Client user agent.")

    objects = FileQuerySet.as_manager()

    class Meta:
        ordering = ["filename"]

    def __str__(self) -> str:
        return self.filename


class FilenameRegistry(models.Model):
    """Every filename ever uploaded: a deleted file's name can never be used again."""

    filename = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "filename registry"

    def __str__(self) -> str:
        return self.filename


class Role(models.Model):
    class Kind(models.TextChoices):
        OWNER = "Owner"
        MAINTAINER = "Maintainer"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="roles")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_roles"
    )
    role = models.CharField(max_length=16, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="role_project_user_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.project}"


class RoleInvitation(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    invitee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_invitations"
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    role = models.CharField(max_length=16, choices=Role.Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "invitee"], name="invitation_project_invitee_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invitee} invited to {self.project} as {self.role}"


class ProhibitedProjectName(models.Model):
    """A name nobody may register; admins edit the list."""

    name = models.CharField(max_length=255, unique=True, help_text="PEP 503 normalized.")
    reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class DownloadCount(models.Model):
    """Downloads of a project's files on one day; incremented with an UPDATE, not a row lock."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="download_counts")
    day = models.DateField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "day"], name="download_count_day_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.project} on {self.day}: {self.count}"


class DeletedProjectName(models.Model):
    """The name of a project its owners deleted, kept for them until `reserved_until`.

    Until then only a former owner may create a project of this name (or one too similar to
    it); afterwards the usual name policy applies.
    """

    normalized_name = models.CharField(max_length=255, unique=True, help_text="PEP 503 form.")
    ultranormalized_name = models.CharField(max_length=255, db_index=True)
    name = models.CharField(max_length=255, help_text="The name as the project had it.")
    former_owners = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+", blank=True)
    deleted_at = models.DateTimeField()
    reserved_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} (reserved until {self.reserved_until:%Y-%m-%d})"


class Report(models.Model):
    """A signed-in user's report of a project or one release, queued for the administrators."""

    class Kind(models.TextChoices):
        MALWARE = "malware", "Malware"
        TYPOSQUATTING = "typosquatting", "Typosquatting"
        SPAM = "spam", "Spam"
        OTHER = "other", "Other"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        QUARANTINED = "quarantined", "Quarantined"
        DISMISSED = "dismissed", "Dismissed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="reports")
    release = models.ForeignKey(
        Release, on_delete=models.SET_NULL, null=True, blank=True, related_name="reports"
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    description = models.TextField(max_length=5000)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolution_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} report on {self.project.name}"
