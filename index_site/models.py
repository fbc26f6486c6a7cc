from django.db import models


class OutboxEmail(models.Model):
    """An email written in the same transaction as the change that caused it.

    A Celery task delivers it after commit; a periodic sweep retries what is left. A row is
    claimed before sending so two runs of the task cannot both send it.
    """

    recipient = models.EmailField(max_length=254)
    subject = models.CharField(max_length=255)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    template = models.CharField(max_length=100, help_text="The email's template name.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "outbox email"

    def __str__(self) -> str:
        return f"{self.template} to {self.recipient}"
