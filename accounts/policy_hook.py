"""How accounts asks the site's one two-factor policy, without importing the app that owns it.

The policy ("must this user have a second factor?") depends on project roles and the critical
flag, so it lives in `projects.policy`; accounts sits below projects and may not import it. It
needs the answer in two places only: refusing to remove a required user's last method, and
sending a freshly logged-in user to two-factor setup. So projects registers its policy here when
the app registry is ready (`ProjectsConfig.ready`), the way Django's own registries (system
checks, signal receivers) let a lower layer call a higher one: the dependency points the right
way and there is still only one policy. Until a policy is registered every user needs a second
factor, so a wiring mistake fails closed.
"""

from collections.abc import Callable

from accounts.models import User
from accounts.selectors import has_two_factor

_policy: Callable[[User], bool] | None = None


def register_two_factor_policy(policy: Callable[[User], bool]) -> None:
    """Make `policy` the site's answer to "must this user have a second factor?"."""
    global _policy  # noqa: PLW0603 - one registration, at start-up
    _policy = policy


def two_factor_required(user: User) -> bool:
    """Whether the site's policy requires `user` to have a second factor."""
    return True if _policy is None else _policy(user)


def two_factor_missing(user: User) -> bool:
    """Whether `user` must add a second factor before managing projects or uploading."""
    return two_factor_required(user) and not has_two_factor(user)
