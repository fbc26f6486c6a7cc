"""How accounts asks the site's one two-factor policy, without importing the app that owns it.

The policy ("must this user have a second factor?") depends on project roles and the critical
flag, so it lives in `projects.policy`; accounts sits below projects and may not import it. It
needs the answer in two places only: refusing to remove a required user's last method, and
sending a freshly logged-in user to two-factor setup. settings.TWO_FACTOR_POLICY_CHECK names
the policy function (a dotted path, `projects.policy.two_factor_required`), so the dependency
points the right way and there is still only one policy.
"""

from django.conf import settings
from django.utils.module_loading import import_string

from accounts.models import User
from accounts.selectors import has_two_factor


def two_factor_required(user: User) -> bool:
    """Whether the site's policy requires `user` to have a second factor."""
    return import_string(settings.TWO_FACTOR_POLICY_CHECK)(user)


def two_factor_missing(user: User) -> bool:
    """Whether `user` must add a second factor before managing projects or uploading."""
    return two_factor_required(user) and not has_two_factor(user)
