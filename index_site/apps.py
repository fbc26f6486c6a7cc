from django.apps import AppConfig
from django.core.signals import request_finished
from django.urls import register_converter

from index_site.middleware import clear_log_context
from index_site.url_converters import CONVERTERS


class IndexSiteConfig(AppConfig):
    name = "index_site"
    verbose_name = "Site"

    def ready(self) -> None:
        from index_site import checks  # noqa: F401, PLC0415 - registers the system checks
        from index_site.celery import ensure_broker_folders  # noqa: PLC0415 - needs settings

        ensure_broker_folders()
        request_finished.connect(clear_log_context)
        # Before any URLconf is loaded: every text capture in the site uses these converters.
        for name, converter in CONVERTERS.items():
            register_converter(converter, name)
