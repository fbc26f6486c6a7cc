from django.apps import AppConfig


class IndexSiteConfig(AppConfig):
    name = "index_site"
    verbose_name = "Site"

    def ready(self) -> None:
        from index_site.celery import ensure_broker_folders  # noqa: PLC0415 - needs settings

        ensure_broker_folders()
