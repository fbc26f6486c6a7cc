"""`manage.py announce_site`: once the site answers, print where it is and how to get an admin.

`make run` starts it beside the web server, worker and beat (Procfile), so a newcomer sees the
address and the next step after the start-up output, not buried in it.
"""

import signal
import time
from typing import Any
from urllib.error import URLError
from urllib.request import urlopen

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

POLL_SECONDS = 0.5


class Command(BaseCommand):
    help = "Wait until SITE_URL answers, then print it and how to create the first admin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--timeout", type=float, default=120.0, help="Seconds to wait for the site."
        )
        parser.add_argument(
            "--exit",
            action="store_true",
            help="Exit after printing (by default it stays, since honcho stops every process "
            "when one exits).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        site = settings.SITE_URL
        timeout = options["timeout"]
        if _wait_until_up(f"{site}/_/health", timeout=timeout):
            self.stdout.write(self.style.SUCCESS(f"Gatehouse is up: open {site}/"))
            self.stdout.write(_admin_hint(site))
        else:
            self.stderr.write(
                f"{site}/_/health did not answer within {timeout:g} s. Read the web process's "
                "output above for the reason, then run make run again."
            )
        if not options["exit"]:
            signal.pause()


def _wait_until_up(url: str, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urlopen(url, timeout=2) as response:  # noqa: S310 - our own SITE_URL
                if response.status == 200:
                    return True
        except (URLError, OSError):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)


def _admin_hint(site: str) -> str:
    if get_user_model().objects.filter(is_superuser=True, is_active=True).exists():
        return f"The admin is at {site}/admin/ (log in with your second factor)."
    return (
        "No admin yet. Create the first one in another terminal with\n"
        "    DEBUG=true .venv/bin/python manage.py createsuperuser\n"
        f"then log in at {site}/account/login/, set up a second factor, and open {site}/admin/."
    )
