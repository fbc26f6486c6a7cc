"""Delete stored distribution files that no File row references (left by a failed upload)."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandParser

from projects.services.files import ORPHAN_MIN_AGE, delete_orphaned_files


class Command(BaseCommand):
    help = (
        "Delete stored distribution files no File row references, older than --min-age-hours "
        "(so uploads in progress are never touched). Celery beat runs the same sweep hourly; "
        "run this command from cron where no beat process runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--min-age-hours", type=float, default=ORPHAN_MIN_AGE / timedelta(hours=1)
        )

    def handle(self, *args: object, min_age_hours: float, **options: object) -> None:
        deleted = delete_orphaned_files(older_than=timedelta(hours=min_age_hours))
        self.stdout.write(f"Deleted {deleted} orphaned file(s).")
