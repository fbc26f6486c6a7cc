"""Check the audit log's hash chain and seals; name the first event changed, deleted or inserted."""

from django.core.management.base import BaseCommand, CommandError

from auditlog import chain


class Command(BaseCommand):
    help = (
        "Verify every seal and link of the audit log and report the first event that was changed, "
        "deleted or inserted. Exits non-zero on a break."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--seal", action="store_true", help="Seal the events that can be sealed first."
        )

    def handle(self, *args, seal: bool = False, **options) -> None:
        if seal:
            chain.seal()
        verification = chain.verify()
        if verification.pruned_through:
            self.stdout.write(f"Pruned before event {verification.pruned_through + 1}.")
        for finding in verification.findings:
            self.stdout.write(f"BROKEN: {finding}")
        if not verification.ok:
            raise CommandError(
                f"The audit log failed verification: {len(verification.findings)} finding(s); "
                f"the first is {verification.findings[0]}."
            )
        self.stdout.write(
            f"OK: {verification.events_checked} events checked, sealed through event "
            f"{verification.sealed_through}."
        )
