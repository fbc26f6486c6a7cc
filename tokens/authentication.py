"""Request authentication for uploads: the `Authorization` header into an UploadIdentity.

Only the header is read. A token in the query string or a form field is never accepted, so it
cannot end up in access logs or be posted cross-site. A token only ever authorizes uploads: the
session views never look at it.
"""

import base64
import binascii
import time
from dataclasses import dataclass, field

from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from accounts.models import User
from index_site.client_ip import client_ip
from index_site.links import absolute_url
from projects.models import Project
from tokens import services
from tokens.caveats import ProjectConstraints
from tokens.exceptions import (
    INVALID_AUTH_MESSAGE,
    PASSWORD_AUTH_MESSAGE,
    TokenAuthenticationError,
    TokenVerificationError,
)
from tokens.macaroons import MALFORMED, MAX_TOKEN_LENGTH, verify_token
from tokens.models import ApiToken

TOKEN_USERNAME = "__token__"  # noqa: S105 - the fixed Basic-auth username, not a password
INVALID_TOKEN_PREFIX = "Invalid API Token: "  # noqa: S105 - a message prefix
# Basic auth adds a third to the token's length, plus the scheme and `__token__:`.
MAX_HEADER_LENGTH = MAX_TOKEN_LENGTH * 2


@dataclass
class UploadIdentity:
    """Who is uploading: a user token's owner, or a trusted publisher."""

    user: User | None
    token: ApiToken
    publisher_id: int | None
    is_trusted_publisher: bool
    token_name: str
    projects: ProjectConstraints = field(default_factory=ProjectConstraints, repr=False)
    is_attenuated: bool = False

    def may_upload_to(self, project: Project) -> bool:
        """Whether the token's project caveats admit `project` (roles are checked elsewhere).

        Uses the constraints collected when the token was verified: no second HMAC pass.
        """
        return self.projects.admits(normalized_name=project.normalized_name, project_id=project.pk)

    @property
    def may_create_projects(self) -> bool:
        """Only a user token scoped to no project may create a project on first upload."""
        return not self.is_trusted_publisher and not self.projects.is_scoped

    def scope_error(self, project: Project | None) -> str:
        """The sentence for an upload this token's scope refuses (PyPI's wording)."""
        if project is None:
            names = sorted(set().union(*self.projects.name_sets))
            scope = ", ".join(names) if names else "specific projects"
            return (
                f"{INVALID_TOKEN_PREFIX}This token is scoped to {scope}; it cannot create new "
                "projects. Use an account-wide token for the first upload, or add a pending "
                "publisher"
            )
        if self.is_trusted_publisher:
            return (
                f"{INVALID_TOKEN_PREFIX}trusted publishing token is not valid for project: "
                f"'{project.name}'"
            )
        return (
            f"{INVALID_TOKEN_PREFIX}project-scoped token is not valid for project: '{project.name}'"
        )


def invalid_auth_message() -> str:
    return INVALID_AUTH_MESSAGE.format(help_url=absolute_url("help"))


def password_auth_message() -> str:
    help_url = absolute_url("help")
    return f"{PASSWORD_AUTH_MESSAGE} See {help_url}#apitoken and {help_url}#trusted-publishers"


@sensitive_variables("header", "value", "decoded", "raw")
def token_from_header(request: HttpRequest) -> str:
    """The raw token in the `Authorization` header, or TokenAuthenticationError."""
    header = request.META.get("HTTP_AUTHORIZATION", "").strip()
    if not header:
        raise TokenAuthenticationError(invalid_auth_message(), status=401)
    if len(header) > MAX_HEADER_LENGTH:
        # Refused before any decoding: no token this index mints comes near this size.
        raise TokenAuthenticationError(f"{INVALID_TOKEN_PREFIX}{MALFORMED}")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise TokenAuthenticationError(invalid_auth_message()) from exc
        username, separator, raw = decoded.partition(":")
        if not separator:
            raise TokenAuthenticationError(invalid_auth_message())
        if username != TOKEN_USERNAME:
            raise TokenAuthenticationError(password_auth_message())
        raw = raw.strip()
    elif scheme in {"token", "bearer"}:
        raw = value
    else:
        raise TokenAuthenticationError(invalid_auth_message())
    if not raw:
        raise TokenAuthenticationError(invalid_auth_message())
    return raw


@sensitive_variables("raw")
def authenticate_upload(request: HttpRequest) -> UploadIdentity:
    """Authenticate an upload request by its `Authorization` header alone.

    Accepts `Basic base64(__token__:<token>)`, `token <token>` and `Bearer <token>`. Raises
    TokenAuthenticationError: 401 without credentials, 403 for passwords and bad tokens.
    """
    raw = token_from_header(request)
    ip = client_ip(request)
    try:
        verified = verify_token(raw, client_ip=ip, now=int(time.time()))
    except TokenVerificationError as exc:
        if exc.token is not None:
            services.record_token_refusal(token=exc.token, reason=exc.reason, request=request)
        raise TokenAuthenticationError(f"{INVALID_TOKEN_PREFIX}{exc.reason}") from exc
    token = verified.token
    services.mark_token_used(token=token, ip_address=ip)
    return UploadIdentity(
        user=token.user,
        token=token,
        publisher_id=token.publisher_id,
        is_trusted_publisher=token.is_trusted_publisher,
        token_name=token.name,
        projects=verified.projects,
        is_attenuated=verified.is_attenuated,
    )
