from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "tokens"
    verbose_name = "Tokens"

    def ready(self) -> None:
        from tokens import checks  # noqa: F401, PLC0415 - registers the system checks
