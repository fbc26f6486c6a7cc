from django.apps import AppConfig


class IndexSiteConfig(AppConfig):
    name = "index_site"
    verbose_name = "Site"
