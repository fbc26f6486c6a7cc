"""List where File rows and stored objects disagree, and repair what can be repaired here.

Two kinds of mismatch: a row whose object is missing (the file is listed in the simple index
but its download fails), and an object no row references (a failed upload's, or one in
flight). The first needs the file's bytes, which only its uploader has: an identical re-upload
stores the object again. The second is what the orphan sweep deletes once it is old enough.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser

from projects.services.files import ORPHAN_MIN_AGE, check_storage, delete_orphaned_files

REUPLOAD_HELP = (
    "Upload the identical file again (twine upload or uv publish of the same file): the upload "
    "finds its row and stores the object again."
)


class Command(BaseCommand):
    help = (
        "List File rows without their stored object and stored objects without a File row. "
        "With --repair, delete the objects without a row older than --min-age-hours, as the "
        "orphan sweep does; rows without their object are repaired by an identical re-upload. "
        "Exits with status 1 while a row lacks its object."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--repair",
            action="store_true",
            help="Delete stored objects without a row that are older than --min-age-hours.",
        )
        parser.add_argument(
            "--min-age-hours", type=float, default=ORPHAN_MIN_AGE / timedelta(hours=1)
        )

    def handle(self, *args: object, repair: bool, min_age_hours: float, **options: object) -> None:
        older_than = timedelta(hours=min_age_hours)
        result = check_storage(older_than=older_than)
        unreferenced = result.unreferenced_objects
        self.stdout.write(f"{len(unreferenced)} stored object(s) without a file row.")
        for item in unreferenced:
            if item.is_sweepable:
                fate = "deleted now" if repair else "the orphan sweep or --repair deletes it"
            else:
                fate = f"younger than {min_age_hours:g} h, kept: an upload may be in flight"
            self.stdout.write(f"  {item.path} (modified {item.modified_at.isoformat()}; {fate})")
        if repair:
            deleted = delete_orphaned_files(older_than=older_than)
            self.stdout.write(f"Deleted {deleted} stored object(s) without a file row.")
        missing = result.missing_objects
        self.stdout.write(f"{len(missing)} file row(s) without their stored object.")
        for path in missing:
            self.stdout.write(f"  {path}")
        if missing:
            raise CommandError(
                f"{len(missing)} published file(s) cannot be downloaded: their stored object is "
                f"missing. {REUPLOAD_HELP}"
            )
