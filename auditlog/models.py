from django.conf import settings
from django.db import models
from django.db.models.functions import Now

from auditlog.clients import client_in_words
from auditlog.events import NEEDS_ATTENTION, NEEDS_ATTENTION_WHEN_BY_OTHERS
from auditlog.sentences import sentence


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete an audit event."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events cannot be changed.")

    def delete(self):
        raise AppendOnlyError("Audit events cannot be deleted.")


class AuditEvent(models.Model):
    """One sensitive event. Append-only; outlives the user and project it describes.

    Foreign keys are SET_NULL and the names are copied into snapshot columns, so the history
    stays readable after a user or project is deleted.
    """

    # Validated against EventType by record_event(); no field choices, so adding an event type
    # needs no migration.
    event_type = models.CharField(max_length=64)
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The database's own clock when the row was inserted (the statement's start): what the
    # sealing job uses to tell events that may still be in flight (see auditlog.chain).
    recorded_at = models.DateTimeField(db_default=Now())
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who did it (empty for the system or an anonymous request).",
    )
    actor_username = models.CharField(max_length=150, blank=True)
    # The ids as recorded. The foreign keys beside them are cleared when the user or project is
    # deleted; these stay, so the sealed digest still covers who and what the event was about.
    actor_pk = models.BigIntegerField(null=True, blank=True)
    user_pk = models.BigIntegerField(null=True, blank=True)
    project_pk = models.BigIntegerField(null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_events",
        help_text="Whose security history shows it.",
    )
    username = models.CharField(max_length=150, blank=True)
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_events",
        help_text="Whose project history shows it.",
    )
    project_name = models.CharField(max_length=255, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    data = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        indexes = [
            models.Index(fields=["user", "-occurred_at"], name="auditevent_user_time"),
            models.Index(fields=["project", "-occurred_at"], name="auditevent_project_time"),
            models.Index(fields=["event_type", "-occurred_at"], name="auditevent_type_time"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events cannot be deleted.")

    @property
    def client(self) -> str:
        """The client in words ("uv 0.13.9", "Firefox 140 on Windows"), from the user agent."""
        return client_in_words(self.user_agent)

    @property
    def ci_run(self) -> dict[str, str] | None:
        """For a trusted-publishing upload, the CI run it came from (repository, workflow, ref,
        sha, and `run_url` only when it is an http(s) link); None otherwise."""
        run = self.data.get("ci_run") if isinstance(self.data, dict) else None
        if not isinstance(run, dict):
            return None
        shown = {key: str(value) for key, value in run.items() if isinstance(value, str)}
        if not shown.get("run_url", "").startswith(("https://", "http://")):
            shown.pop("run_url", None)
        return shown or None

    @property
    def needs_attention(self) -> bool:
        """Whether the account holder should look at this event (see events.NEEDS_ATTENTION)."""
        if self.event_type in NEEDS_ATTENTION:
            return True
        return self.event_type in NEEDS_ATTENTION_WHEN_BY_OTHERS and self.actor_pk != self.user_pk

    @property
    def sentence(self) -> str:
        """The event in one sentence, for the person reading the history (auditlog.sentences)."""
        return sentence(self)


class ChainLink(models.Model):
    """The chain digest after one sealed event: sha256(previous link's digest, event content).

    Written by the sealing job in event order, never by a request; lets the verifier name the
    first event that was changed, deleted or inserted.
    """

    event_id = models.BigIntegerField(primary_key=True)
    digest = models.CharField(max_length=64)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["event_id"]

    def __str__(self) -> str:
        return f"link {self.event_id}"


class Seal(models.Model):
    """A signed checkpoint: the chain head after every event up to `last_event_id`.

    The signature is an HMAC with AUDIT_SEAL_KEY, which lives in the environment and never in
    the database, over this seal's fields and the previous seal's signature: rewriting events
    and links consistently, or removing a seal, breaks a signature nobody with only the
    database can make again.
    """

    last_event_id = models.BigIntegerField(unique=True)
    event_count = models.PositiveIntegerField()
    head = models.CharField(max_length=64)
    previous_signature = models.CharField(max_length=64, blank=True)
    signature = models.CharField(max_length=64)
    sealed_at = models.DateTimeField(auto_now_add=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["last_event_id"]

    def __str__(self) -> str:
        return f"seal through event {self.last_event_id}"


class Pruning(models.Model):
    """A signed record that events up to `last_event_id` were removed by the retention policy,
    so the verifier reports "pruned" there rather than a break."""

    last_event_id = models.BigIntegerField(unique=True)
    event_count = models.PositiveIntegerField()
    signature = models.CharField(max_length=64)
    pruned_at = models.DateTimeField(auto_now_add=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["last_event_id"]

    def __str__(self) -> str:
        return f"pruned through event {self.last_event_id}"


class HistoryVisit(models.Model):
    """The newest event a user had in their history when they last looked at it."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="history_visit"
    )
    last_seen_event_id = models.BigIntegerField(default=0)
    visited_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"history visit of user {self.user_id}"
