"""Who is uploading, and to which project they may upload: the pipeline's permission steps.

Read before the write (`project_for_upload`: the project and the uploader's role, or the name
a first upload creates) and again inside it (`create_first_project`, `check_still_authorized`),
because the body may take minutes to arrive and a concurrent upload or revocation may have
changed the answer meanwhile.
"""

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage
from packaging.utils import canonicalize_name

from accounts.selectors import account_standing
from index_site.links import absolute_url
from projects.exceptions import ProjectNameError
from projects.models import Project
from projects.names import validate_project_name
from projects.policy import two_factor_missing
from projects.selectors import UPLOAD_ROLES, get_project_with_role
from projects.services.deletion import check_name_not_reserved
from projects.services.projects import create_project
from publishing.pending import project_from_pending_publisher
from publishing.selectors import hold_publisher_attachment, publisher_may_upload_to
from publishing.upload.errors import UploadError
from tokens.authentication import UploadIdentity, authenticate_upload
from tokens.selectors import hold_token
from tokens.services import record_token_refusal

NON_USER_CREATE_MESSAGE = (
    "Non-user identities cannot create new projects. This was probably caused by successfully "
    "using a pending publisher but specifying the project name incorrectly (either in the "
    "publisher or in your project's metadata). Please ensure that both match."
)
REVOKED_DURING_UPLOAD_MESSAGE = (
    "The API token was revoked while the file was being sent, so nothing was published. "
    "Upload again with a valid token."
)
TOO_MANY_PROJECTS_MESSAGE = (
    "Too many new projects created. Wait an hour before creating another project, or upload "
    "to one of your existing projects."
)


def authenticate(request: HttpRequest) -> UploadIdentity:
    """The upload's identity from its `Authorization` header; users need email and 2FA."""
    identity = authenticate_upload(request)
    user = identity.user
    if identity.is_trusted_publisher or user is None:
        return identity
    standing = account_standing(user)
    if not standing.has_verified_email:
        raise UploadError(
            f"User '{user.username}', associated with the API token used, does not have a "
            "verified primary email address. Please add a verified primary email before "
            f"attempting to upload: {absolute_url('accounts:settings')}",
            status=403,
        )
    if two_factor_missing(user, has_factor=standing.has_two_factor):
        raise UploadError(
            f"User '{user.username}', associated with the API token used, does not have "
            "two-factor authentication enabled. Please enable two-factor authentication before "
            f"attempting to upload: {absolute_url('accounts:two_factor')}",
            status=403,
        )
    return identity


def project_for_upload(
    request: HttpRequest, identity: UploadIdentity, name: str
) -> tuple[Project | None, str]:
    """The project the upload goes to (permission checked), or None and the new name's form.

    For a user token the new name has passed the name policy (`validate_project_name`), and
    `create_first_project` relies on that. A concurrent upload (typically the same user's
    identical or other file) can create the project between the lookup and the name check; the
    name then reads as taken. The project is read again, and the upload goes on as one to an
    existing project, permission checks included, rather than telling its own owner the name
    "conflicts with an existing project".
    """
    project = get_project_with_role(name, identity.user)
    if project is None:
        try:
            return None, _check_project_creation(request, identity, name)
        except ProjectNameError as exc:
            if exc.code != "conflict":
                raise
            project = get_project_with_role(name, identity.user)
            if project is None:
                raise
    check_project_permission(request, project, identity)
    return project, project.normalized_name


def _check_project_creation(request: HttpRequest, identity: UploadIdentity, name: str) -> str:
    """Refuse a first upload that may not create its project; return the normalized name.

    A name the policy refuses raises ProjectNameError; one that is taken (code "conflict")
    makes the caller read the project again.
    """
    check_name_not_reserved(name=name, user=identity.user)
    if identity.is_trusted_publisher:
        # The pending publisher (if any) is resolved, and its name checked, when the project
        # is created.
        return canonicalize_name(name)
    if not identity.may_create_projects:
        _record_refusal(
            request, identity, reason=f"project-scoped token used to create project '{name}'"
        )
        raise UploadError(identity.scope_error(None), status=403)
    normalized = validate_project_name(name)
    if project_creation_limited(request, identity, increment=False):
        raise UploadError(TOO_MANY_PROJECTS_MESSAGE, status=429)
    return normalized


def project_creation_limited(
    request: HttpRequest, identity: UploadIdentity, *, increment: bool
) -> bool:
    """Whether this user or client IP created its share of projects for now.

    Tested before creating (the count must still have room for one more) and counted after a
    project was created, so refused uploads do not use up the allowance.
    """
    user_key = f"user:{identity.user.pk if identity.user else 'none'}"
    limits = (
        (
            "upload:project-create:user",
            lambda _group, _request: user_key,
            settings.UPLOAD_PROJECT_CREATE_RATE_USER,
        ),
        ("upload:project-create:ip", "ip", settings.UPLOAD_PROJECT_CREATE_RATE_IP),
    )
    limited = False
    for group, key, rate in limits:
        usage = get_usage(request, group=group, key=key, rate=rate, increment=increment)
        if usage is not None and usage["count"] >= usage["limit"] + (1 if increment else 0):
            limited = True
    return limited


def _record_refusal(request: HttpRequest, identity: UploadIdentity, *, reason: str) -> None:
    """Put a refused use of an authentic token on its owner's security history.

    A token used beyond its scope or its owner's roles may be a stolen one. Throttled per
    token and reason; trusted-publisher tokens have no owner and are skipped.
    """
    record_token_refusal(token=identity.token, reason=reason, request=request)


def check_project_permission(
    request: HttpRequest, project: Project, identity: UploadIdentity, *, record: bool = True
) -> None:
    """Refuse an upload the token's scope or the user's role does not allow.

    `project` comes from `get_project_with_role` for the identity's user (`user_role` set).
    With `record`, a refusal goes on the token owner's history; pass False inside a
    transaction the refusal rolls back, where the event would be lost with it.
    """
    if identity.is_trusted_publisher and identity.publisher_id is not None:
        # Checked now, not only at mint: the publisher must still be attached to the project
        # (removal takes effect at once), and a project its pending publisher created after
        # minting is admitted. A token its holder narrowed keeps its own project caveats.
        admitted = publisher_may_upload_to(
            publisher_id=identity.publisher_id, token_id=identity.token.pk, project=project
        ) and (not identity.is_attenuated or identity.may_upload_to(project))
    else:
        admitted = identity.may_upload_to(project)
    if not admitted:
        if record:
            _record_refusal(
                request,
                identity,
                reason=f"project-scoped token is not valid for project '{project.name}'",
            )
        raise UploadError(identity.scope_error(project), status=403)
    user = identity.user
    if not identity.is_trusted_publisher:
        if user is None or project.user_role not in UPLOAD_ROLES:  # type: ignore[attr-defined]
            if record:
                _record_refusal(
                    request,
                    identity,
                    reason=f"no owner or maintainer role on project '{project.name}'",
                )
            username = user.username if user else ""
            raise UploadError(
                f"The user '{username}' isn't allowed to upload to project '{project.name}'. "
                "Ask one of its owners to add you as a maintainer, or check the project name.",
                status=403,
            )
        if project.is_trusted_publishing_only:
            raise UploadError(
                f"Project '{project.name}' accepts uploads from its trusted publishers only, "
                "not from API tokens. Publish from the project's configured CI workflow, or ask "
                "an owner to turn off 'trusted publishing only'.",
                status=403,
            )


def create_first_project(
    *, request: HttpRequest, identity: UploadIdentity, name: str, normalized_name: str
) -> Project:
    """Create the project a first upload goes to, inside the upload's transaction.

    A trusted publisher creates it through its pending publisher; a user token with the name
    `project_for_upload` validated (`normalized_name`), the user becoming its Owner.
    """
    if identity.is_trusted_publisher:
        return _pending_publisher_project(identity=identity, name=name, request=request)
    assert identity.user is not None  # noqa: S101 - user tokens always have a user
    try:
        return create_project(
            name=name,
            creator=identity.user,
            request=request,
            via="upload",
            validated_name=normalized_name,
        )
    except ProjectNameError as exc:
        if exc.code == "conflict":
            # A concurrent upload (typically this user's other file) created it first: go
            # on as an upload to an existing project, permission checks included.
            project = get_project_with_role(name, identity.user)
            if project is not None:
                # Inside the upload's transaction: a refusal here rolls back, with any
                # event written for it (the race is not a sign of a stolen token).
                check_project_permission(request, project, identity, record=False)
                return project
        raise


def _pending_publisher_project(
    *, identity: UploadIdentity, name: str, request: HttpRequest
) -> Project:
    """The project a pending publisher creates on its first upload, or the refusal (the name
    policy's ProjectNameError, or NON_USER_CREATE_MESSAGE)."""
    project = project_from_pending_publisher(identity=identity, name=name, request=request)
    if project is None:
        raise UploadError(NON_USER_CREATE_MESSAGE)
    return project


def check_still_authorized(identity: UploadIdentity, project: Project) -> None:
    """Refuse the upload if its token was revoked or its publisher removed since it began.

    The token was checked before the body streamed, which can take minutes: revoking it (or
    removing the publisher) meanwhile must stop this upload, so both are read again under
    locks that make a concurrent revocation wait for this commit. Run inside the upload's
    transaction, with `project`'s row held.
    """
    if not hold_token(token_id=identity.token.pk):
        raise UploadError(REVOKED_DURING_UPLOAD_MESSAGE, status=403)
    if (
        identity.is_trusted_publisher
        and identity.publisher_id is not None
        and not hold_publisher_attachment(
            publisher_id=identity.publisher_id, project=project, token_id=identity.token.pk
        )
    ):
        raise UploadError(identity.scope_error(project), status=403)
