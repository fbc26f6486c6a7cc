"""The one two-factor policy: must this user have a second factor to act?

Every page that needs a second factor declares it (`accounts.protection`, `Need.SECOND_FACTOR`),
which asks this policy through `accounts.policy_hook`; the upload endpoint and project-specific
checks call `two_factor_missing` themselves. `accounts` only answers "does this user have a
second factor?".
"""

from django.conf import settings

from accounts.selectors import has_two_factor


def two_factor_required(user, project=None) -> bool:
    """Whether the policy requires `user` to have a second factor to manage or upload.

    `project`: the project the user is about to act on or join; under the "critical" policy a
    critical project requires a second factor even before the user holds a role on it.
    """
    if settings.TWO_FACTOR_POLICY == "critical":
        if project is not None and project.is_critical:
            return True
        return user.project_roles.filter(project__is_critical=True).exists()
    return True


def two_factor_missing(user, project=None, *, has_factor: bool | None = None) -> bool:
    """Whether `user` must add a second factor before acting (on `project`, if given).

    `has_factor`: whether the user has a second factor, when the caller has read it already.
    """
    if not two_factor_required(user, project):
        return False
    return not (has_two_factor(user) if has_factor is None else has_factor)


def admin_two_factor_missing(user) -> bool:
    """Whether a staff member lacks the second factor the admin always requires.

    The admin can change every project, so it needs a second factor whatever the policy.
    """
    return not has_two_factor(user)
