"""Queueing emails through the outbox.

Every email is rendered from `templates/email/<name>/{subject.txt,body.txt,body.html}`, the
HTML body extending `email/base.html`, and written as an OutboxEmail row in the caller's
transaction. Delivery is scheduled only once that transaction commits. If the broker cannot
take the delivery task then, the change stays committed and the row waits for the periodic
sweep (`send_pending_emails`).
"""

import logging
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from kombu.exceptions import OperationalError

from index_site.models import OutboxEmail

logger = logging.getLogger(__name__)


def queue_email(*, recipients: Iterable[str], template: str, context: dict[str, Any]) -> list[int]:
    """Render `template` for each recipient and queue it; return the outbox row ids."""
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
        transaction.on_commit(partial(_schedule_delivery, row.pk))
    return ids


def _schedule_delivery(pk: int) -> None:
    """Hand a committed outbox row to a worker; a broker outage leaves it for the sweep.

    This runs after the commit: raising here would answer 500 for a change that was made.
    """
    from index_site.tasks import send_email  # noqa: PLC0415 - tasks import this module

    try:
        send_email.delay(pk)
    except (OperationalError, OSError) as exc:
        logger.warning(
            "Email %s could not be handed over for delivery (%s); the periodic sweep will send it.",
            pk,
            type(exc).__name__,
        )
