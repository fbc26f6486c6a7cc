"""Emails as a mail client shows them: the critical-project email's HTML in Chromium, on a
desktop and a 390 px phone, with its links and no horizontal scrolling."""

import pytest
from django.core import mail

from projects.services.projects import create_project, set_project_critical
from tests.e2e.browser.test_two_factor_browser import fits_the_screen
from tests.factories import TwoFactorUserFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _critical_email_html(settings) -> str:
    """The HTML part of the email as delivered (the outbox keeps no body once it is sent)."""
    settings.TWO_FACTOR_POLICY = "critical"
    owner = UserFactory(username="maya")
    project = create_project(name="a-rather-long-project-name-indeed", creator=owner)
    admin = TwoFactorUserFactory(is_staff=True)
    set_project_critical(
        project=project,
        is_critical=True,
        actor=admin,
        reason="It is the build backend of most of the index's critical projects.",
    )
    [message] = [m for m in mail.outbox if "critical project" in m.subject]
    [(html, mime)] = message.alternatives
    assert mime == "text/html"
    return html


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_the_critical_project_email_reads_well_on_a_desktop_and_a_phone(
    request, settings, screenshot, device
):
    page = request.getfixturevalue("phone_page" if device == "phone" else "page")
    page.set_content(_critical_email_html(settings))
    assert page.get_by_text("Thank you for maintaining").is_visible()
    assert page.get_by_text("Their reason", exact=False).is_visible()
    links = {
        page.get_by_role("link", name=name).get_attribute("href")
        for name in (
            "What “critical” means and how it is computed",
            "Set up two-factor authentication now",
            "trusted publishing",
        )
    }
    assert f"{settings.SITE_URL}/help/#critical-projects" in links
    assert page.get_by_text("CI never asks for a second factor", exact=False).is_visible()
    screenshot(page, f"{device}-email-critical-project")
    assert fits_the_screen(page)
