"""WebAuthn: security keys, platform authenticators (Touch ID, Windows Hello, Android) and passkeys.

The RP ID and origin come from SITE_URL. Each ceremony's challenge lives in the session with the
time it was issued and is removed on the first verification attempt, pass or fail, so it is
single use and short-lived. py_webauthn checks the challenge, origin, RP ID hash, flags and
signature; this module adds what it leaves to the relying party: which user owns a credential,
the user handle, one owner per credential ID, and sign-count clone detection.
"""

import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidJSONStructure,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from accounts.models import User, WebAuthnCredential, WebAuthnUserHandle
from accounts.notifications import email_user
from accounts.two_factor.methods import (
    METHOD_WEBAUTHN,
    TwoFactorError,
    after_method_change,
    ensure_method_removable,
)
from auditlog.events import EventType
from auditlog.services import record_event
from index_site.links import absolute_url

REGISTER_SESSION_KEY = "webauthn_register"
AUTHENTICATE_SESSION_KEY = "webauthn_authenticate"
CHALLENGE_MAX_AGE = 300  # seconds
CEREMONY_TIMEOUT_MS = 120_000
LABEL_MAX_LENGTH = 64

KIND_SECURITY_KEY = "security_key"
KIND_PASSKEY = "passkey"
KINDS = (KIND_SECURITY_KEY, KIND_PASSKEY)

FAILED_MESSAGE = (
    "Your security key or passkey could not be verified. Try again, or use another method."
)
EXPIRED_MESSAGE = (
    "The request to your security key expired or was already used. Try again: it takes a "
    "fresh request each time."
)
IN_USE_MESSAGE = (
    "This security key or passkey is already registered. Each one can be added once; use it "
    "to log in, or add a different one."
)
CLONE_MESSAGE = (
    "This security key reported a use count lower than before, which can mean it was copied. "
    "It was refused. Use another method to log in and check the email sent to you."
)


class WebAuthnError(TwoFactorError):
    """A ceremony failed; `reason` is recorded with the failure, the message is for the user."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def relying_party_id() -> str:
    """The RP ID: SITE_URL's host name."""
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def expected_origin() -> str:
    """The one origin ceremonies may come from: SITE_URL's scheme, host and port."""
    parts = urlsplit(settings.SITE_URL)
    return f"{parts.scheme}://{parts.netloc}"


def user_handle_for(user: User) -> bytes:
    """The opaque user handle credentials carry for `user` (random, made once)."""
    handle, _ = WebAuthnUserHandle.objects.get_or_create(user=user)
    return handle.handle.bytes


def _descriptors(credentials) -> list[PublicKeyCredentialDescriptor]:
    descriptors = []
    for credential in credentials:
        transports = []
        for name in credential.transports:
            try:
                transports.append(AuthenticatorTransport(name))
            except ValueError:
                continue  # A transport this library does not know is only a hint: skip it.
        descriptors.append(
            PublicKeyCredentialDescriptor(id=bytes(credential.credential_id), transports=transports)
        )
    return descriptors


def _store_challenge(request: HttpRequest, key: str, challenge: bytes, **extra: Any) -> None:
    request.session[key] = {
        "challenge": bytes_to_base64url(challenge),
        "issued_at": int(time.time()),
        **extra,
    }


def _take_challenge(request: HttpRequest, key: str) -> dict[str, Any]:
    """Remove the ceremony state from the session and return it if still fresh."""
    state = request.session.pop(key, None)
    if not isinstance(state, dict) or not isinstance(state.get("issued_at"), int):
        raise WebAuthnError(EXPIRED_MESSAGE, reason="no_challenge")
    if time.time() - state["issued_at"] > CHALLENGE_MAX_AGE:
        raise WebAuthnError(EXPIRED_MESSAGE, reason="expired_challenge")
    return state


def registration_options(*, request: HttpRequest, user: User, kind: str) -> str:
    """Options for `navigator.credentials.create()` as JSON; remember the challenge.

    A passkey must be discoverable (it can log in without a username); a security key need not.
    User verification is preferred, never required, so keys without a PIN still work.
    """
    if kind not in KINDS:
        raise WebAuthnError(FAILED_MESSAGE, reason="unknown_kind")
    options = generate_registration_options(
        rp_id=relying_party_id(),
        rp_name=settings.SITE_NAME,
        user_id=user_handle_for(user),
        user_name=user.username,
        user_display_name=user.name or user.username,
        timeout=CEREMONY_TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=(
                ResidentKeyRequirement.REQUIRED
                if kind == KIND_PASSKEY
                else ResidentKeyRequirement.DISCOURAGED
            ),
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=_descriptors(user.webauthn_credentials.all()),
    )
    _store_challenge(request, REGISTER_SESSION_KEY, options.challenge, user_id=user.pk, kind=kind)
    return options_to_json(options)


def clean_label(raw: str) -> str:
    label = " ".join(raw.split())
    if not label:
        raise WebAuthnError(
            "Give this key a name, such as “YubiKey on my keyring” or “Laptop”.",
            reason="missing_label",
        )
    if len(label) > LABEL_MAX_LENGTH:
        raise WebAuthnError(
            f"Use a name of at most {LABEL_MAX_LENGTH} characters.", reason="long_label"
        )
    return label


@transaction.atomic
def register_credential(
    *, request: HttpRequest, user: User, label: str, credential_json: str
) -> WebAuthnCredential:
    """Verify a `navigator.credentials.create()` response and store the new credential.

    Every other session of `user` ends.
    """
    state = _take_challenge(request, REGISTER_SESSION_KEY)
    if state.get("user_id") != user.pk:
        raise WebAuthnError(EXPIRED_MESSAGE, reason="challenge_for_other_user")
    label = clean_label(label)
    if WebAuthnCredential.objects.filter(user=user, label=label).exists():
        raise WebAuthnError(
            "You already have a key with this name. Choose another name.", reason="label_in_use"
        )
    try:
        parsed = parse_registration_credential_json(credential_json)
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=base64url_to_bytes(state["challenge"]),
            expected_rp_id=relying_party_id(),
            expected_origin=expected_origin(),
            require_user_verification=False,
        )
    except (InvalidRegistrationResponse, InvalidJSONStructure, ValueError, TypeError) as error:
        raise WebAuthnError(FAILED_MESSAGE, reason="invalid_registration") from error
    if WebAuthnCredential.objects.filter(credential_id=verified.credential_id).exists():
        raise WebAuthnError(IN_USE_MESSAGE, reason="credential_in_use")
    try:
        with transaction.atomic():
            credential = WebAuthnCredential.objects.create(
                user=user,
                label=label,
                credential_id=verified.credential_id,
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                transports=[str(t.value) for t in (parsed.response.transports or [])],
                is_discoverable=state.get("kind") == KIND_PASSKEY,
            )
    except IntegrityError as error:  # A concurrent registration of the same credential.
        raise WebAuthnError(IN_USE_MESSAGE, reason="credential_in_use") from error
    record_event(
        event_type=EventType.ACCOUNT_TWO_FACTOR_METHOD_ADDED,
        actor=user,
        request=request,
        data={
            "method": METHOD_WEBAUTHN,
            "label": label,
            "discoverable": credential.is_discoverable,
        },
    )
    after_method_change(
        user=user,
        request=request,
        template="two_factor/method_added",
        method=METHOD_WEBAUTHN,
        label=label,
    )
    return credential


def authentication_options(*, request: HttpRequest, user: User | None) -> str:
    """Options for `navigator.credentials.get()` as JSON; remember the challenge.

    With a user (the second login step) the allowed credentials are theirs and user
    verification is preferred. Without one (passkey login, no username typed) any discoverable
    credential may answer, and user verification is required: the passkey is then both factors.
    """
    if user is None:
        allow: list[PublicKeyCredentialDescriptor] = []
        verification = UserVerificationRequirement.REQUIRED
    else:
        allow = _descriptors(user.webauthn_credentials.all())
        verification = UserVerificationRequirement.PREFERRED
    options = generate_authentication_options(
        rp_id=relying_party_id(),
        timeout=CEREMONY_TIMEOUT_MS,
        allow_credentials=allow,
        user_verification=verification,
    )
    _store_challenge(
        request,
        AUTHENTICATE_SESSION_KEY,
        options.challenge,
        user_id=user.pk if user is not None else None,
    )
    return options_to_json(options)


def authenticate_credential(
    *, request: HttpRequest, user: User | None, credential_json: str
) -> WebAuthnCredential:
    """Verify a `navigator.credentials.get()` response; return the credential that signed it.

    `user` is the user of the pending login, or None for a passkey login without a username,
    in which case the credential must carry the user handle of its owner.
    """
    state = _take_challenge(request, AUTHENTICATE_SESSION_KEY)
    if state.get("user_id") != (user.pk if user is not None else None):
        raise WebAuthnError(EXPIRED_MESSAGE, reason="challenge_for_other_user")
    try:
        parsed = parse_authentication_credential_json(credential_json)
    except (InvalidJSONStructure, InvalidAuthenticationResponse, ValueError, TypeError) as error:
        raise WebAuthnError(FAILED_MESSAGE, reason="malformed") from error
    row = (
        WebAuthnCredential.objects.select_related("user", "user__webauthn_handle")
        .filter(credential_id=parsed.raw_id)
        .first()
    )
    if row is None or (user is not None and row.user_id != user.pk):
        raise WebAuthnError(FAILED_MESSAGE, reason="unknown_credential")
    handle = getattr(row.user, "webauthn_handle", None)
    user_handle = parsed.response.user_handle
    if user is None and not user_handle:
        raise WebAuthnError(FAILED_MESSAGE, reason="missing_user_handle")
    if user_handle and (handle is None or user_handle != handle.handle.bytes):
        raise WebAuthnError(FAILED_MESSAGE, reason="user_handle_mismatch")
    if not row.user.is_active:
        raise WebAuthnError(FAILED_MESSAGE, reason="inactive_user")
    try:
        # The stored count is checked below, after the signature: passing 0 here keeps
        # py_webauthn from refusing a regression before it is known to be genuine, so a
        # regression can be told apart from a forgery and reported.
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=base64url_to_bytes(state["challenge"]),
            expected_rp_id=relying_party_id(),
            expected_origin=expected_origin(),
            credential_public_key=bytes(row.public_key),
            credential_current_sign_count=0,
            require_user_verification=user is None,
        )
    except (InvalidAuthenticationResponse, InvalidJSONStructure, ValueError, TypeError) as error:
        raise WebAuthnError(FAILED_MESSAGE, reason="invalid_assertion") from error
    new_count = verified.new_sign_count
    # Synced passkeys report 0 every time; any other count must strictly increase.
    if (new_count > 0 or row.sign_count > 0) and new_count <= row.sign_count:
        report_possible_clone(request=request, credential=row, received_count=new_count)
        raise WebAuthnError(CLONE_MESSAGE, reason="sign_count_regression")
    updated = WebAuthnCredential.objects.filter(pk=row.pk, sign_count=row.sign_count).update(
        sign_count=new_count, last_used_at=timezone.now()
    )
    if not updated:  # Another login with this credential won the race.
        raise WebAuthnError(FAILED_MESSAGE, reason="concurrent_use")
    row.sign_count = new_count
    return row


@transaction.atomic
def report_possible_clone(
    *, request: HttpRequest | None, credential: WebAuthnCredential, received_count: int
) -> None:
    """Record and email that `credential` reported a sign count that did not increase."""
    record_event(
        event_type=EventType.ACCOUNT_WEBAUTHN_POSSIBLE_CLONE,
        actor=credential.user,
        request=request,
        data={
            "label": credential.label,
            "stored_count": credential.sign_count,
            "received_count": received_count,
        },
    )
    email_user(
        user=credential.user,
        template="two_factor/possible_clone",
        context={
            "label": credential.label,
            "manage_url": absolute_url("accounts:two_factor"),
            "help_url": absolute_url("accounts:two_factor_help"),
        },
    )


@transaction.atomic
def remove_credential(
    *, user: User, credential_pk: int, actor: User, request: HttpRequest | None
) -> None:
    """Remove one of `user`'s credentials and end their other sessions.

    Refused if it is the last method the policy needs.
    """
    credential = (
        WebAuthnCredential.objects.select_for_update().filter(user=user, pk=credential_pk).first()
    )
    if credential is None:
        raise TwoFactorError("That security key is not on your account. Reload the page.")
    ensure_method_removable(user)
    label = credential.label
    credential.delete()
    record_event(
        event_type=EventType.ACCOUNT_TWO_FACTOR_METHOD_REMOVED,
        actor=actor,
        user=user,
        request=request,
        data={"method": METHOD_WEBAUTHN, "label": label},
    )
    after_method_change(
        user=user,
        request=request,
        template="two_factor/method_removed",
        method=METHOD_WEBAUTHN,
        label=label,
    )
