"""`manage.py issue_token`: create an API token for a user and print only the token.

For administrators provisioning automation. The token is written to stdout and nothing else is,
so `TOKEN=$(manage.py issue_token ...)` captures exactly the secret.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import User
from projects.models import Project
from projects.names import normalize_project_name
from projects.policy import two_factor_missing
from tokens.exceptions import TokenCreationError
from tokens.services import create_api_token


class Command(BaseCommand):
    help = "Create an API token for a user and print it (only the token) on stdout."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--name", required=True, help="The token's name, unique per user.")
        parser.add_argument(
            "--project",
            action="append",
            default=[],
            help="Scope the token to this project (repeat for several); default: all projects.",
        )
        parser.add_argument(
            "--expires-in", type=int, default=None, metavar="DAYS", help="Expire after DAYS days."
        )

    def handle(self, *args, **options) -> None:
        user = User.objects.filter(username__iexact=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named '{options['username']}'. Check the username.")
        if not user.is_active:
            raise CommandError(f"The account '{user.username}' is disabled; it may not upload.")
        if two_factor_missing(user):
            raise CommandError(
                f"'{user.username}' has no second factor, which uploading requires; they must "
                "add one first."
            )
        project_ids = None
        if options["project"]:
            project_ids = []
            for name in options["project"]:
                project = Project.objects.filter(
                    normalized_name=normalize_project_name(name)
                ).first()
                if project is None:
                    raise CommandError(f"No project named '{name}'. Check the name.")
                project_ids.append(project.pk)
        expires_at = None
        if options["expires_in"] is not None:
            if options["expires_in"] < 1:
                raise CommandError("--expires-in must be at least 1 day.")
            expires_at = timezone.now() + timedelta(days=options["expires_in"])
        try:
            _token, raw = create_api_token(
                user=user,
                name=options["name"],
                project_ids=project_ids,
                expires_at=expires_at,
                actor=None,
            )
        except TokenCreationError as error:
            # The service's rules (verified email, hourly limit, scope) apply here too.
            raise CommandError(f"'{user.username}': {error.message}") from error
        self.stdout.write(raw)
