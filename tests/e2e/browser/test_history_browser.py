"""The security and project histories in Chromium: sentences, details on demand, filters, and
pages that fit a 390 px phone screen with long names in them."""

import pytest
from django.test import RequestFactory

from auditlog.events import EventType
from auditlog.services import record_event
from projects.services.projects import create_project
from tests.accounts.two_factor.conftest import enable_totp
from tests.e2e.browser.accessibility import blocking_violations
from tests.e2e.browser.conftest import log_in_with_recovery_code
from tests.e2e.browser.test_two_factor_browser import fits_the_screen
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LONG_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 "
    "Safari/537.36 with-a-very-long-extension-token-that-does-not-wrap-by-itself"
)


def _events(user, project) -> None:
    request = RequestFactory().get(
        "/", REMOTE_ADDR="2001:db8::1234:5678", HTTP_USER_AGENT=LONG_AGENT
    )
    record_event(
        event_type=EventType.ACCOUNT_API_TOKEN_REFUSED,
        actor=user,
        request=request,
        data={"token_name": "CI token " + "x" * 80, "reason": "for project 'other' " * 3},
    )
    record_event(
        event_type=EventType.PROJECT_FILE_ADD,
        actor=user,
        project=project,
        request=request,
        data={
            "version": "0.2.0",
            "filename": "a_rather_long_project_name_indeed-0.2.0-py3-none-any.whl",
            "client": "uv/0.13.9",
            "token_name": "CI",
            "sha256_digest": "e" * 64,
        },
    )


def test_the_histories_read_as_sentences_and_fit_a_phone(phone_page, site, screenshot):
    user = UserFactory(username="history-reader")
    enable_totp(user)
    project = create_project(name="a-rather-long-project-name-indeed", creator=user)
    _events(user, project)
    page = phone_page
    log_in_with_recovery_code(page, site, user)

    page.goto(f"{site}/account/security-history/")
    sentence = page.get_by_text("Refused: the API token 'CI token", exact=False)
    assert sentence.is_visible()
    assert page.get_by_text("Needs a look").first.is_visible()
    screenshot(page, "phone-security-history")
    assert fits_the_screen(page)

    details = page.locator("details").first
    assert not details.locator("code").is_visible()
    details.locator("summary").click()
    assert details.locator("code").is_visible()
    assert fits_the_screen(page)

    page.select_option("select[name=kind]", "sign-in")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(lambda url: "kind=sign-in" in url)
    assert not page.get_by_text("Refused: the API token", exact=False).is_visible()

    page.goto(f"{site}/manage/project/{project.normalized_name}/history/")
    assert page.get_by_text("uploaded by uv 0.13.9 with the token 'CI'", exact=False).is_visible()
    screenshot(page, "phone-project-history")
    assert fits_the_screen(page)


@pytest.mark.parametrize("viewport", ["page", "phone_page"])
def test_both_histories_have_no_serious_or_critical_accessibility_violations(
    request, site, viewport
):
    user = UserFactory(username="axe-reader")
    enable_totp(user)
    project = create_project(name="a-rather-long-project-name-indeed", creator=user)
    _events(user, project)
    page = request.getfixturevalue(viewport)
    log_in_with_recovery_code(page, site, user)
    for path in (
        "/account/security-history/",
        "/account/security-history/?kind=tokens&problems=on",
        f"/manage/project/{project.normalized_name}/history/",
    ):
        page.goto(site + path)
        page.locator("details").first.locator("summary").click()
        assert blocking_violations(page) == [], path


def test_the_accessibility_check_finds_what_stops_a_screen_reader(page):
    page.set_content(
        '<html lang="en"><body><main><img src="x.png"><button></button>'
        '<input type="text"></main></body></html>'
    )
    found = " ".join(blocking_violations(page))
    for rule in ("image-alt", "button-name", "label"):
        assert rule in found
