"""Queueing emails through the outbox.

Every email is rendered from `templates/email/<name>/{subject.txt,body.txt,body.html}`, the
HTML body extending `email/base.html`, and written as an OutboxEmail row in the caller's
transaction. Delivery is scheduled only once that transaction commits.
"""

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string

from index_site.models import OutboxEmail


def queue_email(*, recipients: Iterable[str], template: str, context: dict[str, Any]) -> list[int]:
    """Render `template` for each recipient and queue it; return the outbox row ids."""
    from index_site.tasks import send_email  # noqa: PLC0415 - tasks import this module

    context = {"SITE_NAME": settings.SITE_NAME, "SITE_URL": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"email/{template}/subject.txt", context).split())
    body_text = render_to_string(f"email/{template}/body.txt", context)
    body_html = render_to_string(f"email/{template}/body.html", context)
    ids = []
    for recipient in dict.fromkeys(recipients):
        row = OutboxEmail.objects.create(
            recipient=recipient,
            subject=subject,
            body_text=body_text,
            body_html=body_html,
            template=template,
        )
        ids.append(row.pk)
        transaction.on_commit(lambda pk=row.pk: send_email.delay(pk))
    return ids
