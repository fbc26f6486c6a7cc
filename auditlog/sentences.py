"""One sentence per kind of event, written for the person reading their history.

Each sentence carries the facts that matter (which token, which file, which publisher) from the
event's recorded fields; the raw fields stay available beside it. Every EventType has its
sentence (a test walks them), and a sentence never fails on an event recorded before a field
was added: missing facts are left out, not guessed.
"""

from collections.abc import Callable
from typing import Any

from auditlog.clients import client_in_words
from auditlog.events import EventType

_METHODS = {
    "password": "a password only",
    "totp": "an authenticator app code",
    "webauthn": "a security key",
    "passkey": "a passkey",
    "recovery_code": "a recovery code",
}
_REASONS = {
    "bad_password": "wrong password",
    "compromised_password": "the password is in a public breach list",
    "disabled": "the account is disabled",
}


class _Facts:
    """An event's recorded fields, read leniently: a missing fact is an empty string."""

    def __init__(self, event: Any) -> None:
        self.event = event
        self.data = event.data if isinstance(event.data, dict) else {}

    def __getitem__(self, key: str) -> str:
        value = self.data.get(key)
        return "" if value is None else str(value)

    def quoted(self, key: str, prefix: str = "") -> str:
        """` <prefix>'<value>'` when the fact is known, else nothing."""
        value = self[key]
        return f" {prefix}'{value}'" if value else ""

    @property
    def project(self) -> str:
        return self.event.project_name or self["project"] or "a project"

    @property
    def target(self) -> str:
        return self["target_user"] or "a user"


def _reason(facts: _Facts) -> str:
    reason = facts["reason"]
    return f" ({_REASONS.get(reason, reason.replace('_', ' '))})" if reason else ""


def _method(facts: _Facts) -> str:
    method = facts["method"]
    shown = {"totp": "authenticator app", "webauthn": "security key"}.get(method, method)
    return f"{shown}{facts.quoted('label')}" if shown else "a second factor"


def _login(facts: _Facts) -> str:
    method = _METHODS.get(facts["method"], "")
    return f"Logged in with {method}" if method else "Logged in"


def _token_refused(facts: _Facts) -> str:
    return f"Refused: the API token{facts.quoted('token_name')} was used{_reason(facts)}"


def _recovery_code_used(facts: _Facts) -> str:
    left = f" ({facts['remaining']} left)" if facts["remaining"] else ""
    return f"A recovery code was used{left}"


def _version(facts: _Facts) -> str:
    return f" {facts['version']}" if facts["version"] else ""


def _release_added(facts: _Facts) -> str:
    return f"{facts.project}{_version(facts)} released"


def _removed_by(facts: _Facts) -> str:
    if facts["by"] == "admin":
        return " by an administrator"
    return facts.quoted("removed_by", "by ")


def _file_added(facts: _Facts) -> str:
    version = _version(facts)
    how = []
    if facts["client"]:
        how.append(f"by {client_in_words(facts['client'])}")
    if facts["uploaded_via_trusted_publisher"] == "True":
        how.append("through trusted publishing")
    elif facts["token_name"]:
        how.append(f"with the token '{facts['token_name']}'")
    uploaded = " ".join(["uploaded", *how])
    return f"{facts.project}{version}: {facts['filename'] or 'a file'} {uploaded}"


def _publisher(facts: _Facts) -> str:
    return facts["publisher"] or facts["provider"] or "a trusted publisher"


def _role_sentence(template: str) -> Callable[[_Facts], str]:
    def sentence(facts: _Facts) -> str:
        return template.format(
            target=facts.target, role=facts["role"] or "a role", project=facts.project
        )

    return sentence


def _status_reason(facts: _Facts) -> str:
    return f": {facts['reason']}" if facts["reason"] else ""


def _deprecated(facts: _Facts) -> str:
    successor = f", succeeded by {facts['successor']}" if facts["successor"] else ""
    return f"{facts.project} was deprecated{successor}{_status_reason(facts)}"


def _release_quarantine(template: str) -> Callable[[_Facts], str]:
    def sentence(facts: _Facts) -> str:
        release = f"{facts.project}{_version(facts)}"
        return template.format(release=release) + _status_reason(facts)

    return sentence


SENTENCES: dict[EventType, Callable[[_Facts], str]] = {
    EventType.ACCOUNT_CREATE: lambda f: "Account created",
    EventType.ACCOUNT_DISABLED: lambda f: "Account disabled by an administrator",
    EventType.ACCOUNT_ENABLED: lambda f: "Account enabled again by an administrator",
    EventType.ACCOUNT_PROFILE_CHANGE: lambda f: f"Display name changed{f.quoted('name', 'to ')}",
    EventType.ACCOUNT_ADMIN_CHANGE: lambda f: "An administrator changed the account",
    EventType.ACCOUNT_EMAIL_ADD: lambda f: f"Email address{f.quoted('email')} added",
    EventType.ACCOUNT_EMAIL_VERIFIED: lambda f: f"Email address{f.quoted('email')} verified",
    EventType.ACCOUNT_EMAIL_REMOVE: lambda f: f"Email address{f.quoted('email')} removed",
    EventType.ACCOUNT_EMAIL_PRIMARY_CHANGE: lambda f: (
        f"Primary email address changed{f.quoted('old_email', 'from ')}"
        f"{f.quoted('new_email', 'to ')}"
    ),
    EventType.ACCOUNT_LOGIN_SUCCESS: _login,
    EventType.ACCOUNT_LOGIN_FAILURE: lambda f: f"Failed login{_reason(f)}",
    EventType.ACCOUNT_LOGIN_FAILURE_BURST: lambda f: (
        f"{f['failures'] or 'Many'} failed logins in a short time; you were emailed"
    ),
    EventType.ACCOUNT_LOGOUT: lambda f: "Logged out",
    EventType.ACCOUNT_REAUTHENTICATE_FAILURE: lambda f: (
        f"Failed to confirm the password for a sensitive page{_reason(f)}"
    ),
    EventType.ACCOUNT_PASSWORD_CHANGE: lambda f: "Password changed",
    EventType.ACCOUNT_PASSWORD_RESET_REQUEST: lambda f: (
        f"Password reset requested{' by an administrator' if f['by_admin'] == 'True' else ''}"
        f"{f.quoted('email', 'for ')}"
    ),
    EventType.ACCOUNT_PASSWORD_RESET: lambda f: "Password reset with an emailed link",
    EventType.ACCOUNT_TWO_FACTOR_METHOD_ADDED: lambda f: f"Second factor added: {_method(f)}",
    EventType.ACCOUNT_TWO_FACTOR_METHOD_REMOVED: lambda f: f"Second factor removed: {_method(f)}",
    EventType.ACCOUNT_TWO_FACTOR_RESET: lambda f: (
        f"Every second factor was removed by an administrator{_reason(f)}"
    ),
    EventType.ACCOUNT_RECOVERY_CODES_GENERATED: lambda f: "Recovery codes created",
    EventType.ACCOUNT_RECOVERY_CODES_REGENERATED: lambda f: (
        "Recovery codes replaced (the old ones no longer work)"
    ),
    EventType.ACCOUNT_RECOVERY_CODE_USED: _recovery_code_used,
    EventType.ACCOUNT_WEBAUTHN_POSSIBLE_CLONE: lambda f: (
        f"The security key{f.quoted('label')} reported a signature counter that went backwards: "
        "it may have been copied"
    ),
    EventType.ACCOUNT_API_TOKEN_ADDED: lambda f: f"API token{f.quoted('token_name')} created",
    EventType.ACCOUNT_API_TOKEN_REMOVED: lambda f: (
        f"API token{f.quoted('token_name')} revoked{_reason(f)}"
    ),
    EventType.ACCOUNT_API_TOKEN_REMOVED_LEAK: lambda f: (
        f"API token{f.quoted('token_name')} revoked: it was found published{_reason(f)}"
    ),
    EventType.ACCOUNT_API_TOKEN_EXPIRED: lambda f: f"API token{f.quoted('token_name')} expired",
    EventType.ACCOUNT_API_TOKEN_REFUSED: _token_refused,
    EventType.PROJECT_API_TOKEN_ADDED: lambda f: (
        f"API token{f.quoted('token_name')} for {f.project} created{f.quoted('created_by', 'by ')}"
    ),
    EventType.PROJECT_API_TOKEN_REMOVED: lambda f: (
        f"API token{f.quoted('token_name')} for {f.project} revoked"
    ),
    EventType.PROJECT_CREATE: lambda f: (
        f"Project {f.project} created{f.quoted('created_by', 'by ')}"
    ),
    EventType.PROJECT_REMOVE: lambda f: (
        f"Project {f['name'] or f.project} removed by "
        + (f"its owner{f.quoted('removed_by')}" if f["by"] == "owner" else "an administrator")
        + _reason(f)
    ),
    EventType.PROJECT_ROLE_INVITE: _role_sentence("{target} invited to {project} as {role}"),
    EventType.PROJECT_ROLE_DECLINE_INVITE: _role_sentence(
        "{target} declined the invitation to {project}"
    ),
    EventType.PROJECT_ROLE_REVOKE_INVITE: _role_sentence(
        "The invitation of {target} to {project} was withdrawn"
    ),
    EventType.PROJECT_ROLE_ADD: _role_sentence("{target} became {role} of {project}"),
    EventType.PROJECT_ROLE_CHANGE: _role_sentence("{target} is now {role} of {project}"),
    EventType.PROJECT_ROLE_REMOVE: _role_sentence("{target} is no longer {role} of {project}"),
    EventType.PROJECT_RELEASE_ADD: _release_added,
    EventType.PROJECT_FILE_ADD: _file_added,
    EventType.PROJECT_RELEASE_YANK: lambda f: (
        f"{f.project}{_version(f)} yanked{f.quoted('yanked_by', 'by ')}"
        + (f": {f['reason']}" if f["reason"] else "")
    ),
    EventType.PROJECT_RELEASE_UNYANK: lambda f: (
        f"{f.project}{_version(f)} un-yanked{f.quoted('unyanked_by', 'by ')}"
    ),
    EventType.PROJECT_RELEASE_REMOVE: lambda f: (
        f"{f.project}{_version(f)} deleted{_removed_by(f)}{_reason(f)}"
    ),
    EventType.PROJECT_FILE_REMOVE: lambda f: (
        f"{f.project}{_version(f)}: {f['filename'] or 'a file'} deleted{_removed_by(f)}{_reason(f)}"
    ),
    EventType.PROJECT_CRITICAL_ENTER: lambda f: (
        f"{f.project} became a critical project: its maintainers need a second factor"
    ),
    EventType.PROJECT_CRITICAL_EXIT: lambda f: f"{f.project} is no longer a critical project",
    EventType.PROJECT_UPLOAD_LIMIT_CHANGE: lambda f: (
        f"An administrator changed the upload limits of {f.project}"
    ),
    EventType.PROJECT_TRUSTED_PUBLISHING_ONLY_CHANGE: lambda f: (
        f"{f.project} now accepts uploads "
        + ("only through trusted publishing" if f["enabled"] == "True" else "with API tokens too")
    ),
    EventType.PROJECT_SHORT_LIVED_API_TOKEN_ADDED: lambda f: (
        f"Trusted publisher {f['publisher_name'] or 'a publisher'} received a short-lived token "
        f"for {f.project}"
    ),
    EventType.PROJECT_OIDC_PUBLISHER_ADDED: lambda f: (
        f"Trusted publisher added to {f.project}: {_publisher(f)}"
    ),
    EventType.PROJECT_OIDC_PUBLISHER_REMOVED: lambda f: (
        f"Trusted publisher removed from {f.project}: {_publisher(f)}"
    ),
    EventType.ACCOUNT_OIDC_PENDING_PUBLISHER_ADDED: lambda f: (
        f"Pending trusted publisher added for the new project {f.project}: {_publisher(f)}"
    ),
    EventType.ACCOUNT_OIDC_PENDING_PUBLISHER_REMOVED: lambda f: (
        f"Pending trusted publisher removed: {_publisher(f)}"
    ),
    EventType.ADMIN_OIDC_ISSUER_CHANGED: lambda f: (
        f"An administrator changed the trusted-publishing issuer{f.quoted('issuer_url')}"
    ),
    EventType.PROJECT_ARCHIVE_ENTER: lambda f: (
        f"{f.project} was archived: uploads are refused{_status_reason(f)}"
    ),
    EventType.PROJECT_ARCHIVE_EXIT: lambda f: f"{f.project} was unarchived: uploads are open again",
    EventType.PROJECT_DEPRECATE_ENTER: _deprecated,
    EventType.PROJECT_DEPRECATE_EXIT: lambda f: f"{f.project} is no longer deprecated",
    EventType.PROJECT_QUARANTINE_ENTER: lambda f: (
        f"An administrator quarantined {f.project}: hidden from installers, uploads refused"
        f"{_status_reason(f)}"
    ),
    EventType.PROJECT_QUARANTINE_EXIT: lambda f: (
        f"An administrator lifted the quarantine of {f.project}{_status_reason(f)}"
    ),
    EventType.PROJECT_RELEASE_QUARANTINE_ENTER: _release_quarantine(
        "An administrator quarantined the release {release}: hidden from installers"
    ),
    EventType.PROJECT_RELEASE_QUARANTINE_EXIT: _release_quarantine(
        "An administrator lifted the quarantine of the release {release}"
    ),
    EventType.PROJECT_REPORT_ADD: lambda f: (
        f"Reported {f['project'] or 'a project'}{_version(f)} as {f['kind'] or 'a problem'}"
    ),
    EventType.PROJECT_REPORT_DISMISS: lambda f: (
        f"An administrator dismissed a report on {f['project'] or 'a project'}{_status_reason(f)}"
    ),
    EventType.ADMIN_FLAG_CHANGED: lambda f: (
        f"An administrator turned the switch{f.quoted('flag')} "
        + ("on" if f["is_enabled"] == "True" else "off")
    ),
    EventType.ADMIN_LOGIN_LIMITS_CLEARED: lambda f: (
        f"An administrator cleared the login limits{f.quoted('subject', 'of ')}"
    ),
    EventType.AUTHZ_DENIED: lambda f: f"Refused: not allowed to {f['action'] or 'do that'}",
    EventType.AUDIT_LOG_PRUNED: lambda f: (
        f"{f['event_count'] or 'Old'} events older than the retention period were removed"
    ),
}


def sentence(event: Any) -> str:
    """The sentence for `event` (an AuditEvent, or anything with its fields)."""
    describe = SENTENCES.get(event.event_type)  # a StrEnum key equals its string value
    if describe is None:
        return event.event_type
    text = describe(_Facts(event))
    # A sentence may open with a name (projects and usernames keep their case) or, when the
    # name is unknown, with a placeholder such as "a project", which is capitalised.
    return text[0].upper() + text[1:] if text.startswith(("a ", "an ")) else text
