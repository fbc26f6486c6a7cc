"""Every page of the site on a 390 px phone, walked from the URLconf in Chromium: none scrolls
sideways, with long names in the places that overflow first (token, project, key and file
names, IPv6 addresses), and none has a serious or critical axe-core violation."""

import time

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from playwright.sync_api import Error as PlaywrightError

from accounts.login import SECOND_FACTOR_VERIFIED_KEY
from accounts.models import WebAuthnCredential
from accounts.reauth import AUTHENTICATED_AT_KEY
from auditlog.events import EventType
from auditlog.services import record_event
from projects.services.projects import create_project
from tests.e2e.browser.accessibility import blocking_violations
from tests.e2e.browser.conftest import PHONE
from tests.factories import FileFactory, ReleaseFactory, TwoFactorUserFactory
from tests.url_walk import walk_urls
from tokens.services import create_api_token

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LONG_NAME = "a-rather-long-project-name-for-a-narrow-screen"


def _content(owner) -> str:
    """Rows with long values on the pages a maintainer uses; return the project's name."""
    project = create_project(name=LONG_NAME, creator=owner)
    release = ReleaseFactory(project=project, version="2026.12.7.post1234")
    FileFactory(
        release=release, filename=f"{LONG_NAME.replace('-', '_')}-2026.12.7-py3-none-any.whl"
    )
    for name in ("CI for " + LONG_NAME, "x" * 100):
        create_api_token(user=owner, name=name, project_ids=[project.pk], actor=owner)
    create_api_token(user=owner, name="bound", ip_networks=["2001:db8:1234:5678::/64"], actor=owner)
    WebAuthnCredential.objects.create(
        user=owner, label="Laptop Touch ID " + "k" * 40, credential_id=b"walk", public_key=b"y"
    )
    request = RequestFactory().get("/", REMOTE_ADDR="2001:db8:1234:5678:9abc:def0:1234:5678")
    record_event(event_type=EventType.ACCOUNT_LOGIN_SUCCESS, actor=owner, request=request, data={})
    return project.normalized_name


def _log_in(page, site, user) -> None:
    """Give the browser a session of `user`, logged in with a second factor just now."""
    client = Client()
    client.force_login(user)
    session = client.session
    session[AUTHENTICATED_AT_KEY] = int(time.time())
    session[SECOND_FACTOR_VERIFIED_KEY] = True
    session.save()
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session.session_key, "url": site}]
    )


def _check(context, url: str) -> tuple[int, list[str]] | None:
    """The document width of `url` in a fresh tab and its blocking accessibility violations;
    None when it is not a page of the site."""
    tab = context.new_page()
    try:
        response = tab.goto(url)
    except PlaywrightError:
        return None  # a download, or an empty error answer (a POST-only endpoint's 405)
    try:
        is_html = response is not None and "text/html" in response.headers["content-type"]
        # Only pages of the site's layout: the simple index is for installers, not people.
        if not is_html or tab.locator("body > header").count() == 0:
            return None
        width = tab.evaluate("document.documentElement.scrollWidth")
        return width, blocking_violations(tab)
    finally:
        tab.close()


def test_no_page_scrolls_sideways_on_a_phone(phone_page, site, screenshot):
    owner = TwoFactorUserFactory(username="walker", is_staff=True, is_superuser=True)
    name = _content(owner)
    context = phone_page.context
    _log_in(phone_page, site, owner)

    checked = {}
    for walked in walk_urls(text_sample=name):
        if walked.path.startswith(("/account/logout", "/admin/")):
            continue  # logout would end the walk; Django's own admin is not a phone page
        found = _check(context, site + walked.path)
        if found is not None:
            checked[walked.path] = found
    too_wide = {path: width for path, (width, _) in checked.items() if width > PHONE["width"]}
    assert not too_wide, too_wide
    inaccessible = {path: found for path, (_, found) in checked.items() if found}
    assert not inaccessible, inaccessible
    assert len(checked) >= 35, sorted(checked)
    phone_page.goto(f"{site}/tokens/")
    screenshot(phone_page, "phone-tokens")
