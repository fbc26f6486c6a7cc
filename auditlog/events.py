"""Every kind of audit event, in one place. Values follow `source:subject:action`."""

import functools
from enum import StrEnum


class EventType(StrEnum):
    # Accounts
    ACCOUNT_CREATE = "account:create"
    ACCOUNT_DISABLED = "account:disabled"
    ACCOUNT_ENABLED = "account:enabled"
    ACCOUNT_PROFILE_CHANGE = "account:profile:change"
    # An administrator changed name, staff/superuser status or groups in the admin.
    ACCOUNT_ADMIN_CHANGE = "account:admin:change"
    ACCOUNT_EMAIL_ADD = "account:email:add"
    ACCOUNT_EMAIL_VERIFIED = "account:email:verified"
    ACCOUNT_EMAIL_REMOVE = "account:email:remove"
    ACCOUNT_EMAIL_PRIMARY_CHANGE = "account:email:primary:change"
    ACCOUNT_LOGIN_SUCCESS = "account:login:success"
    ACCOUNT_LOGIN_FAILURE = "account:login:failure"
    # Failed logins came in a burst and the account's owner was emailed (once a day at most).
    ACCOUNT_LOGIN_FAILURE_BURST = "account:login:failure_burst"
    ACCOUNT_LOGOUT = "account:logout"
    ACCOUNT_REAUTHENTICATE_FAILURE = "account:reauthenticate:failure"
    ACCOUNT_PASSWORD_CHANGE = "account:password:change"
    ACCOUNT_PASSWORD_RESET_REQUEST = "account:password:reset:request"
    ACCOUNT_PASSWORD_RESET = "account:password:reset"
    # Two-factor authentication
    ACCOUNT_TWO_FACTOR_METHOD_ADDED = "account:two_factor:method_added"
    ACCOUNT_TWO_FACTOR_METHOD_REMOVED = "account:two_factor:method_removed"
    ACCOUNT_TWO_FACTOR_RESET = "account:two_factor:reset"
    ACCOUNT_RECOVERY_CODES_GENERATED = "account:recovery_codes:generated"
    ACCOUNT_RECOVERY_CODES_REGENERATED = "account:recovery_codes:regenerated"
    ACCOUNT_RECOVERY_CODE_USED = "account:recovery_codes:used"
    ACCOUNT_WEBAUTHN_POSSIBLE_CLONE = "account:webauthn:possible_clone"
    # API tokens
    ACCOUNT_API_TOKEN_ADDED = "account:api_token:added"
    ACCOUNT_API_TOKEN_REMOVED = "account:api_token:removed"
    ACCOUNT_API_TOKEN_REMOVED_LEAK = "account:api_token:removed_leak"
    ACCOUNT_API_TOKEN_EXPIRED = "account:api_token:expired"
    ACCOUNT_API_TOKEN_REFUSED = "account:api_token:refused"
    PROJECT_API_TOKEN_ADDED = "project:api_token:added"
    PROJECT_API_TOKEN_REMOVED = "project:api_token:removed"
    # Projects
    PROJECT_CREATE = "project:create"
    PROJECT_REMOVE = "project:remove"
    PROJECT_ROLE_INVITE = "project:role:invite"
    PROJECT_ROLE_DECLINE_INVITE = "project:role:decline_invite"
    PROJECT_ROLE_REVOKE_INVITE = "project:role:revoke_invite"
    PROJECT_ROLE_ADD = "project:role:add"
    PROJECT_ROLE_CHANGE = "project:role:change"
    PROJECT_ROLE_REMOVE = "project:role:remove"
    PROJECT_RELEASE_ADD = "project:release:add"
    PROJECT_FILE_ADD = "project:file:add"
    # Release lifecycle: yank (PEP 592) and deletion by owners or administrators.
    PROJECT_RELEASE_YANK = "project:release:yank"
    PROJECT_RELEASE_UNYANK = "project:release:unyank"
    PROJECT_RELEASE_REMOVE = "project:release:remove"
    PROJECT_FILE_REMOVE = "project:file:remove"
    PROJECT_CRITICAL_ENTER = "project:critical:enter"
    PROJECT_CRITICAL_EXIT = "project:critical:exit"
    PROJECT_UPLOAD_LIMIT_CHANGE = "admin:project:set_upload_limit"
    PROJECT_TRUSTED_PUBLISHING_ONLY_CHANGE = "project:trusted_publishing_only:change"
    # Trusted publishing
    PROJECT_SHORT_LIVED_API_TOKEN_ADDED = "project:short_lived_api_token:added"
    PROJECT_OIDC_PUBLISHER_ADDED = "project:oidc:publisher-added"
    PROJECT_OIDC_PUBLISHER_REMOVED = "project:oidc:publisher-removed"
    ACCOUNT_OIDC_PENDING_PUBLISHER_ADDED = "account:oidc:pending-publisher-added"
    ACCOUNT_OIDC_PENDING_PUBLISHER_REMOVED = "account:oidc:pending-publisher-removed"
    ADMIN_OIDC_ISSUER_CHANGED = "admin:oidc_issuer:changed"
    # Project status (PEP 792) set by owners, quarantine by administrators, and reports
    PROJECT_ARCHIVE_ENTER = "project:archive:enter"
    PROJECT_ARCHIVE_EXIT = "project:archive:exit"
    PROJECT_DEPRECATE_ENTER = "project:deprecate:enter"
    PROJECT_DEPRECATE_EXIT = "project:deprecate:exit"
    PROJECT_QUARANTINE_ENTER = "project:quarantine:enter"
    PROJECT_QUARANTINE_EXIT = "project:quarantine:exit"
    PROJECT_RELEASE_QUARANTINE_ENTER = "project:release:quarantine:enter"
    PROJECT_RELEASE_QUARANTINE_EXIT = "project:release:quarantine:exit"
    PROJECT_REPORT_ADD = "project:report:add"
    PROJECT_REPORT_DISMISS = "project:report:dismiss"
    # Admin switches
    ADMIN_FLAG_CHANGED = "admin:flag:changed"
    # An administrator cleared the login counters of an account, an IP or a network.
    ADMIN_LOGIN_LIMITS_CLEARED = "admin:login_limits:cleared"
    # Authorization
    AUTHZ_DENIED = "authz:denied"
    # The retention policy removed the oldest sealed events (auditlog.chain.prune).
    AUDIT_LOG_PRUNED = "auditlog:pruned"


class EventKind(StrEnum):
    """What a person filtering their history looks for."""

    SIGN_IN = "sign-in"
    TWO_FACTOR = "two-factor"
    TOKENS = "tokens"
    PUBLISHING = "publishing"
    COLLABORATORS = "collaborators"
    ACCOUNT = "account"
    ADMIN = "admin"


KIND_LABELS = {
    EventKind.SIGN_IN: "Sign-in",
    EventKind.TWO_FACTOR: "Two-factor",
    EventKind.TOKENS: "API tokens",
    EventKind.PUBLISHING: "Publishing and uploads",
    EventKind.COLLABORATORS: "Collaborators",
    EventKind.ACCOUNT: "Email and profile",
    EventKind.ADMIN: "Administrators",
}
# By the start of the event type's value; the longest prefix wins, so a test can check that
# every event type has a kind.
_KIND_PREFIXES = {
    "account:login:": EventKind.SIGN_IN,
    "account:logout": EventKind.SIGN_IN,
    "account:reauthenticate:": EventKind.SIGN_IN,
    "account:password:": EventKind.SIGN_IN,
    "account:two_factor:": EventKind.TWO_FACTOR,
    "account:recovery_codes:": EventKind.TWO_FACTOR,
    "account:webauthn:": EventKind.TWO_FACTOR,
    "account:two_factor:reset": EventKind.ADMIN,
    "account:api_token:": EventKind.TOKENS,
    "project:api_token:": EventKind.TOKENS,
    "project:short_lived_api_token:": EventKind.TOKENS,
    "project:create": EventKind.PUBLISHING,
    "project:release:": EventKind.PUBLISHING,
    "project:file:": EventKind.PUBLISHING,
    "project:oidc:": EventKind.PUBLISHING,
    "account:oidc:": EventKind.PUBLISHING,
    "project:trusted_publishing_only:": EventKind.PUBLISHING,
    "project:role:": EventKind.COLLABORATORS,
    "project:archive:": EventKind.PUBLISHING,
    "project:deprecate:": EventKind.PUBLISHING,
    "project:quarantine:": EventKind.ADMIN,
    "project:release:quarantine:": EventKind.ADMIN,
    "project:report:": EventKind.ADMIN,
    "account:create": EventKind.ACCOUNT,
    "account:email:": EventKind.ACCOUNT,
    "account:profile:": EventKind.ACCOUNT,
    "account:disabled": EventKind.ADMIN,
    "account:enabled": EventKind.ADMIN,
    "account:admin:": EventKind.ADMIN,
    "admin:": EventKind.ADMIN,
    "project:remove": EventKind.ADMIN,
    "project:critical:": EventKind.ADMIN,
    "auditlog:": EventKind.ADMIN,
    "authz:": EventKind.COLLABORATORS,
}
# Refusals and failures: what "only problems" shows.
PROBLEMS = frozenset(
    {
        EventType.ACCOUNT_LOGIN_FAILURE,
        EventType.ACCOUNT_REAUTHENTICATE_FAILURE,
        EventType.ACCOUNT_API_TOKEN_REFUSED,
        EventType.ACCOUNT_API_TOKEN_REMOVED_LEAK,
        EventType.ACCOUNT_WEBAUTHN_POSSIBLE_CLONE,
        EventType.AUTHZ_DENIED,
    }
)


@functools.cache
def kind_of(event_type: str) -> EventKind | None:
    matches = [prefix for prefix in _KIND_PREFIXES if event_type.startswith(prefix)]
    return _KIND_PREFIXES[max(matches, key=len)] if matches else None


def event_types_of(kind: EventKind) -> list[EventType]:
    return [event_type for event_type in EventType if kind_of(event_type) == kind]


# Events that need the account holder's attention (marked in the histories, counted on the
# account page since the last visit): a refused or leaked token, a copied key, a second factor
# removed, a new publisher; and anything done to the account by someone else (selectors).
NEEDS_ATTENTION = frozenset(
    {
        EventType.ACCOUNT_API_TOKEN_REFUSED,
        EventType.ACCOUNT_API_TOKEN_REMOVED_LEAK,
        EventType.ACCOUNT_WEBAUTHN_POSSIBLE_CLONE,
        EventType.ACCOUNT_LOGIN_FAILURE_BURST,
        EventType.ACCOUNT_TWO_FACTOR_METHOD_REMOVED,
        EventType.ACCOUNT_TWO_FACTOR_RESET,
        EventType.PROJECT_OIDC_PUBLISHER_ADDED,
        EventType.ACCOUNT_OIDC_PENDING_PUBLISHER_ADDED,
        EventType.ACCOUNT_EMAIL_PRIMARY_CHANGE,
        EventType.ACCOUNT_PASSWORD_RESET,
    }
)
# Done by someone else, these need a look too (a role given, a reset asked by an admin).
NEEDS_ATTENTION_WHEN_BY_OTHERS = frozenset(
    {
        EventType.PROJECT_ROLE_ADD,
        EventType.PROJECT_ROLE_CHANGE,
        EventType.PROJECT_ROLE_REMOVE,
        EventType.ACCOUNT_PASSWORD_RESET_REQUEST,
        EventType.ACCOUNT_ADMIN_CHANGE,
    }
)
