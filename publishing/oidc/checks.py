"""System checks for the trusted-publishing settings."""

from django.conf import settings
from django.core import checks
from django.core.checks import CheckMessage, Error, register

ISSUER_SETTINGS = ("OIDC_GITHUB_ISSUER", "OIDC_GITLAB_ISSUER", "OIDC_GOOGLE_ISSUER")
MAX_LEEWAY_SECONDS = 60
MAX_TOKEN_LIFETIME_SECONDS = 3600


@register()
def check_trusted_publishing_settings(app_configs=None, **kwargs) -> list[CheckMessage]:
    """Issuers are exact https URLs; leeway and token lifetime stay short."""
    messages: list[CheckMessage] = []
    for name in ISSUER_SETTINGS:
        value = getattr(settings, name)
        if not value.startswith("https://") or value.endswith("/"):
            messages.append(
                Error(
                    f"{name} must be the issuer's exact https:// URL, without a trailing slash "
                    f"(tokens are matched on the `iss` claim exactly); it is {value!r}.",
                    id="publishing.E001",
                )
            )
    if not 0 <= settings.OIDC_LEEWAY <= MAX_LEEWAY_SECONDS:
        messages.append(
            checks.Warning(
                f"OIDC_LEEWAY is {settings.OIDC_LEEWAY} s; keep it between 0 and "
                f"{MAX_LEEWAY_SECONDS} s so expired CI tokens are refused.",
                id="publishing.W001",
            )
        )
    lifetime = settings.OIDC_TOKEN_LIFETIME.total_seconds()
    if not 0 < lifetime <= MAX_TOKEN_LIFETIME_SECONDS:
        messages.append(
            checks.Warning(
                f"OIDC_TOKEN_LIFETIME is {lifetime:.0f} s; minted upload tokens should live "
                f"at most {MAX_TOKEN_LIFETIME_SECONDS} s (PyPI uses 900).",
                id="publishing.W002",
            )
        )
    return messages
