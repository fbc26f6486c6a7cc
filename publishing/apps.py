from django.apps import AppConfig


class PublishingConfig(AppConfig):
    name = "publishing"
    verbose_name = "Publishing"

    def ready(self) -> None:
        from publishing.oidc import checks  # noqa: F401, PLC0415 - registers the system checks
