from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ProjectsConfig(AppConfig):
    default = True
    name = "projects"
    verbose_name = "Projects"

    def ready(self) -> None:
        # accounts asks the one two-factor policy through its registry (accounts.policy_hook).
        from accounts.policy_hook import register_two_factor_policy  # noqa: PLC0415
        from projects.policy import two_factor_required  # noqa: PLC0415

        register_two_factor_policy(two_factor_required)


class GatehouseAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the site that requires the site login and a second factor."""

    default = False  # Named explicitly in INSTALLED_APPS; "projects" means ProjectsConfig.

    default_site = "projects.admin_site.GatehouseAdminSite"
