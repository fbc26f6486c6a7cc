"""What every page needs, declared once (`accounts.protection.protected`), found by walking URLs.

Each management page's declared needs are pinned here, so loosening one is a visible change;
every other URL is public on purpose, an admin page (the admin site checks its own login and
second factor) or a machine endpoint (it proves its caller by token or signature). Then every
declared page is visited by three people, each missing one need, and must send them where the
first missing need says, in the one order: login, then second factor, then re-authentication.
"""

import time
from urllib.parse import urlencode

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import resolve
from rest_framework.views import APIView

from accounts.protection import TWO_FACTOR_REQUIRED_MESSAGE, Need, protection_of
from accounts.reauth import AUTHENTICATED_AT_KEY
from tests.factories import TwoFactorUserFactory, UserFactory
from tests.url_walk import walk_urls

LOGIN, SECOND_FACTOR, FRESH_AUTH, PENDING_LOGIN = (
    Need.LOGIN,
    Need.SECOND_FACTOR,
    Need.FRESH_AUTH,
    Need.PENDING_LOGIN,
)
MANAGE = {LOGIN, SECOND_FACTOR}
SENSITIVE = {LOGIN, SECOND_FACTOR, FRESH_AUTH}
ACCOUNT = {
    "/account/reauthenticate/": {LOGIN},
    "/account/settings/": {LOGIN},
    "/account/settings/profile/": {LOGIN},
    "/account/settings/password/": {LOGIN},  # the form asks for the current password itself
    "/account/settings/emails/add/": {LOGIN, FRESH_AUTH},
    "/account/settings/emails/1/primary/": {LOGIN, FRESH_AUTH},
    "/account/settings/emails/1/remove/": {LOGIN, FRESH_AUTH},
    "/account/settings/emails/1/resend/": {LOGIN},
    "/account/security-history/": {LOGIN},
    "/account/security-history/export.csv": {LOGIN},
    "/account/security-history/export.jsonl": {LOGIN},
    # Two-factor setup needs no second factor (it is where one is added), but a fresh password.
    "/account/two-factor/": {LOGIN},
    "/account/two-factor/recovery-codes/": {LOGIN},  # making new codes needs FRESH_AUTH (POST)
    "/account/two-factor/totp/": {LOGIN, FRESH_AUTH},
    "/account/two-factor/totp/qr.svg": {LOGIN},
    "/account/two-factor/totp/remove/": {LOGIN, FRESH_AUTH},
    "/account/two-factor/webauthn/add/": {LOGIN, FRESH_AUTH},
    "/account/two-factor/webauthn/options/": {LOGIN, FRESH_AUTH},
    "/account/two-factor/webauthn/register/": {LOGIN, FRESH_AUTH},
    "/account/two-factor/webauthn/1/remove/": {LOGIN, FRESH_AUTH},
    # The second login step: a password proved in this session, a second factor to come.
    "/account/login/two-factor/": {PENDING_LOGIN},
    "/account/login/two-factor/recovery-code/": {PENDING_LOGIN},
    "/account/login/two-factor/webauthn/options/": {PENDING_LOGIN},
    "/account/login/two-factor/webauthn/verify/": {PENDING_LOGIN},
    # Reporting a project needs only a signed-in reporter (and is rate limited per user).
    "/project/x/report/": {LOGIN},
}
# Reading what a project or the account already has needs the second factor; changing who may
# publish, or seeing tokens, also needs a fresh password.
READ_ONLY_MANAGEMENT = {
    "/manage/projects/",
    "/manage/project/x/history/",
    "/manage/project/x/history/export.csv",
    "/manage/project/x/history/export.jsonl",
    "/invitations/x/",
    "/invitations/1/accept/",
    "/invitations/1/decline/",
}
PUBLIC = {
    "/",
    "/help/",
    "/project/x/",
    "/project/x/x/",
    "/simple/",
    "/simple/x/",
    "/files/x",
    "/account/login/",
    "/account/logout/",
    "/account/login/passkey/",
    "/account/login/passkey/options/",
    "/account/login/passkey/verify/",
    "/account/register/",
    "/account/register/done/",
    "/account/verify-email/",
    "/account/password-reset/",
    "/account/password-reset/sent/",
    "/account/password-reset/x/x/",
    "/account/two-factor/help/",
}
# Token- or signature-authenticated: /legacy/ and the JSON endpoints (DRF views).
MACHINE = {"/legacy/", "/legacy"}

WALKED = walk_urls()


def _declared(path: str) -> set[Need] | None:
    protection = protection_of(resolve(path).func)
    return None if protection is None else set(protection.needs)


def _expected(path: str) -> set[Need] | None:
    if path in ACCOUNT:
        return ACCOUNT[path]
    if path in READ_ONLY_MANAGEMENT:
        return MANAGE
    if path.startswith(("/manage/", "/tokens/")):
        return SENSITIVE
    return None


def _is_drf_view(path: str) -> bool:
    view = getattr(resolve(path).func, "cls", None)
    return isinstance(view, type) and issubclass(view, APIView)


def test_every_page_declares_what_it_needs():
    wrong = {}
    for walked in WALKED:
        path = walked.path
        expected = _expected(path)
        unprotected = (
            path in PUBLIC or path in MACHINE or path.startswith("/admin/") or _is_drf_view(path)
        )
        if expected is None and not unprotected:
            wrong[walked.route] = "neither declared here nor listed as public or machine"
        elif _declared(path) != expected:
            wrong[walked.route] = f"declares {_declared(path)}, expected {expected}"
    assert wrong == {}


def _client(user, *, fresh: bool) -> Client:
    client = Client()
    client.force_login(user)
    if fresh:
        session = client.session
        session[AUTHENTICATED_AT_KEY] = int(time.time())
        session.save()
    return client


def _sent_to(response) -> str:
    return response.get("Location", "") if response.status_code == 302 else ""


DECLARED = [walked.path for walked in WALKED if _declared(walked.path)]


@pytest.mark.django_db
def test_each_page_sends_a_person_to_the_first_need_they_lack(settings):
    settings.TWO_FACTOR_POLICY = "all"
    anonymous = Client()
    user_without_factor, user_with_factor = UserFactory(), TwoFactorUserFactory()
    problems = []
    for path in DECLARED:
        needs = _declared(path) or set()
        answers_json = protection_of(resolve(path).func).answers_json  # type: ignore[union-attr]
        first = anonymous.get(path)
        if answers_json:
            ok = first.status_code == 403 and "error" in first.json()
        else:
            ok = _sent_to(first).startswith("/account/login/")
        if not ok:
            problems.append(f"{path}: anonymous got {first.status_code} {_sent_to(first)}")
        if PENDING_LOGIN in needs:
            continue
        # No second factor and a stale password: the second factor is asked for first.
        # A new session per page, so the message read is this page's alone.
        second = _client(user_without_factor, fresh=False).get(path)
        told = [str(message) for message in get_messages(second.wsgi_request)]
        # ... and the two-factor page is told to send them back here afterwards.
        detour = "/account/two-factor/?" + urlencode({"next": path})
        refused = _sent_to(second) == detour and told == [TWO_FACTOR_REQUIRED_MESSAGE]
        if (SECOND_FACTOR in needs) != refused:
            problems.append(f"{path}: a user without a second factor got {_sent_to(second)!r}")
        third = _sent_to(_client(user_with_factor, fresh=False).get(path))
        if (FRESH_AUTH in needs) != third.startswith("/account/reauthenticate/"):
            problems.append(f"{path}: a stale session was sent to {third!r}")
    assert problems == []
