from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ProjectsConfig(AppConfig):
    default = True
    name = "projects"
    verbose_name = "Projects"


class GatehouseAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the site that requires the site login and a second factor."""

    default = False  # Named explicitly in INSTALLED_APPS; "projects" means ProjectsConfig.

    default_site = "projects.admin_site.GatehouseAdminSite"
