"""Which issuers Gatehouse trusts, chosen by the exact `iss` string.

The built-in providers' issuer URLs are settings; self-managed GitLab instances and custom
issuers are OIDCIssuer rows an admin registers. No normalisation: a trailing slash, another
scheme or another case is another issuer, which is unknown (RFC 8725 §3.8, OIDC Core §3.1.3.7).
"""

from dataclasses import dataclass, field

from django.conf import settings

from publishing.models import OIDCIssuer, Provider

DEFAULT_ALGORITHMS = ("RS256",)


@dataclass(frozen=True)
class Issuer:
    url: str
    provider: str
    audience: str
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    requires_jti: bool = True
    pinned_jwks: dict | None = None
    registered: OIDCIssuer | None = field(default=None, compare=False)

    @property
    def service_name(self) -> str:
        return Provider(self.provider).label


def builtin_issuers() -> dict[str, str]:
    """Map each built-in issuer URL to its provider."""
    return {
        settings.OIDC_GITHUB_ISSUER: Provider.GITHUB,
        settings.OIDC_GITLAB_ISSUER: Provider.GITLAB,
        settings.OIDC_GOOGLE_ISSUER: Provider.GOOGLE,
    }


def resolve_issuer(iss: str) -> Issuer | None:
    """Return the trusted issuer whose URL is exactly `iss`, or None."""
    provider = builtin_issuers().get(iss)
    if provider is not None:
        # Google ID tokens carry no jti (short expiry is the defence); the others must.
        return Issuer(
            url=iss,
            provider=provider,
            audience=settings.OIDC_AUDIENCE,
            requires_jti=provider != Provider.GOOGLE,
        )
    registered = OIDCIssuer.objects.filter(issuer_url=iss, is_enabled=True).first()
    if registered is None or registered.issuer_url != iss:
        # The database collation may compare case-insensitively; the match must be exact.
        return None
    return Issuer(
        url=iss,
        provider=Provider.GITLAB if registered.kind == OIDCIssuer.Kind.GITLAB else Provider.CUSTOM,
        audience=registered.audience or settings.OIDC_AUDIENCE,
        algorithms=tuple(registered.algorithms or DEFAULT_ALGORITHMS),
        requires_jti=registered.requires_jti,
        pinned_jwks=(
            registered.pinned_jwks if registered.key_source == OIDCIssuer.KeySource.PINNED else None
        ),
        registered=registered,
    )
