"""`manage.py login_limits`: the login limiter's state, and clearing one subject's counters.

The same view of a credential-stuffing attack as the admin's *Login limits* page, for a shell
on the server: whether a surge is on, the failed logins of the current window, the most
refused accounts, IPs and networks. `--clear-account` or `--clear-address` starts one
subject's counters again from zero, recorded as `admin:login_limits:cleared` (no actor: the
command runs as the system).
"""

from django.core.management.base import BaseCommand, CommandError

from accounts import ratelimits


class Command(BaseCommand):
    help = "Show the login surge and the most refused subjects; clear one subject's counters."

    def add_arguments(self, parser) -> None:
        clear = parser.add_mutually_exclusive_group()
        clear.add_argument("--clear-account", metavar="USERNAME", default="")
        clear.add_argument(
            "--clear-address", metavar="IP_OR_NETWORK", default="", help="An IP, a /24 or a /48."
        )

    def handle(self, *args, **options) -> None:
        if options["clear_account"] or options["clear_address"]:
            try:
                subject = ratelimits.limit_subject(
                    account=options["clear_account"], address=options["clear_address"]
                )
            except ratelimits.LimitSubjectError as error:
                raise CommandError(error.message) from error
            ratelimits.clear_login_limits(subject=subject, actor=None)
            self.stdout.write(f"The login counters of {subject} start again from zero.")
            return
        state = ratelimits.login_limiter_state()
        if state.is_surge:
            self.stdout.write(
                f"Surge: on since {state.surge_started_at:%Y-%m-%d %H:%M:%S} UTC, last failure "
                f"over the line at {state.surge_last_seen_at:%Y-%m-%d %H:%M:%S} UTC."
            )
        else:
            self.stdout.write("Surge: off.")
        self.stdout.write(
            f"Failed logins in the current window: {state.global_failures} "
            f"(a surge starts at {state.surge_threshold})."
        )
        if not state.refusals:
            self.stdout.write("No login was refused in the last fifteen minutes.")
            return
        self.stdout.write("Most refused in the last fifteen minutes:")
        for refusal in state.refusals:
            self.stdout.write(
                f"  {refusal.count:6d}  {refusal.kind:<26} {refusal.subject}  "
                f"(last {refusal.last_refused_at:%H:%M:%S} UTC)"
            )
