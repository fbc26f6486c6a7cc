"""Delete stored distribution files that no File row references (left by a crash mid-upload)."""

from datetime import timedelta

from django.core.management.base import BaseCommand

from projects.services.files import delete_orphaned_files


class Command(BaseCommand):
    help = (
        "Delete stored distribution files no File row references, older than --min-age-hours "
        "(so uploads in progress are never touched). Celery beat runs the same sweep hourly; "
        "run this command from cron where no beat process runs."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--min-age-hours", type=float, default=1.0)

    def handle(self, *args, min_age_hours: float, **options) -> None:
        deleted = delete_orphaned_files(older_than=timedelta(hours=min_age_hours))
        self.stdout.write(f"Deleted {deleted} orphaned file(s).")
