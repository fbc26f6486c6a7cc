"""System checks for the token settings: a misconfiguration fails at start, not at first use."""

from django.conf import settings
from django.core.checks import Error, Warning, register  # noqa: A004 - Django's check type


@register()
def check_token_settings(app_configs, **kwargs) -> list[Error]:
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415 - only when checking
    from cryptography.hazmat.primitives.serialization import (  # noqa: PLC0415 - only when checking
        load_pem_public_key,
    )

    errors = []
    if settings.TOKEN_SECRET_ID not in settings.TOKEN_SECRETS:
        errors.append(
            Error(
                "TOKEN_SECRET_ID names no entry of TOKEN_SECRETS, so no token can be minted.",
                hint="Set TOKEN_SECRET_ID to one of the ids in TOKEN_SECRETS.",
                id="tokens.E001",
            )
        )
    prefix = settings.TOKEN_PREFIX
    if not prefix or "-" in prefix or not prefix.isascii() or not prefix.isalnum():
        errors.append(
            Error(
                f"TOKEN_PREFIX {prefix!r} must be ASCII letters and digits, without '-'.",
                id="tokens.E003",
            )
        )
    for key_id, pem in settings.SECRET_SCANNING_PUBLIC_KEYS.items():
        try:
            key = load_pem_public_key(str(pem).encode())
        except ValueError:
            key = None
        if not isinstance(key, ec.EllipticCurvePublicKey):
            errors.append(
                Error(
                    f"SECRET_SCANNING_PUBLIC_KEYS[{key_id!r}] is not a PEM ECDSA public key.",
                    hint="Copy the key exactly as the scanning service publishes it.",
                    id="tokens.E004",
                )
            )
    return errors


@register(deploy=True)
def check_token_secret_strength(app_configs, **kwargs) -> list[Warning]:
    """`check --deploy`: a short token secret can be guessed offline from any one token."""
    return [
        Warning(
            f"TOKEN_SECRETS[{key_id!r}] is shorter than 32 characters.",
            hint="Use a long random secret, e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'`.",
            id="tokens.W001",
        )
        for key_id, secret in settings.TOKEN_SECRETS.items()
        if len(str(secret)) < 32
    ]
