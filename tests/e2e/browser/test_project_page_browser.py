"""The public project page in Chromium: the install line copied as shown, a rendered description
whose hostile parts never run, metadata, history badges; screenshots on a desktop and a phone."""

import pytest

from projects.models import File
from projects.services.projects import create_project
from tests.e2e.browser.test_two_factor_browser import fits_the_screen
from tests.factories import FileFactory, ReleaseFactory, TwoFactorUserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DESCRIPTION = """# Widget

Makes **widgets** for every_kind_of_project_with_a_rather_long_name_that_must_wrap.

```python
import widget
widget.make()
```

| Feature | Supported |
|---------|-----------|
| Fast    | yes       |

<img src=x onerror="document.title='pwned'">
<svg onload="document.title='pwned'"></svg>
[click me](javascript:document.title='pwned')
<a href="#" onclick="document.title='pwned'">or me</a>
"""


def _project() -> None:
    owner = TwoFactorUserFactory(username="widget-maker")
    project = create_project(name="Widget", creator=owner)
    old = ReleaseFactory(
        project=project, version="1.0", yanked=True, yanked_reason="Broken on Python 3.13"
    )
    FileFactory(release=old, filename="widget-1.0-py3-none-any.whl")
    release = ReleaseFactory(
        project=project,
        version="2.0",
        summary="Widgets for everyone.",
        requires_python=">=3.10",
        metadata={
            "description": DESCRIPTION,
            "description_content_type": "text/markdown",
            "license_expression": "MIT OR Apache-2.0",
            "classifiers": [
                "Programming Language :: Python :: 3.12",
                "Operating System :: OS Independent",
            ],
            "project_urls": {
                "Source": "https://git.example.org/widget",
                "Evil": "javascript:alert(1)",
            },
        },
    )
    FileFactory(release=release, filename="widget-2.0-py3-none-any.whl")
    FileFactory(
        release=release,
        filename="widget-2.0.tar.gz",
        packagetype=File.PackageType.SDIST,
        python_version="source",
    )


def test_the_project_page_installs_from_this_index_and_runs_nothing_hostile(page, site, screenshot):
    _project()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)

    page.goto(f"{site}/project/widget/")

    assert page.title().startswith("Widget 2.0")
    command = f"pip install --index-url {site}/simple/ widget"
    assert page.locator("#install-pip").inner_text() == command
    page.locator('[data-copy-target="install-pip"]').click()
    page.wait_for_function(
        "document.querySelector('[data-copy-target=install-pip]').textContent === 'Copied'"
    )
    assert page.evaluate("navigator.clipboard.readText()") == command
    description = page.locator(".project-description")
    assert description.locator("h1").inner_text() == "Widget"
    assert description.locator("table").count() == 1
    assert description.locator("svg, script, iframe, [onerror], [onclick]").count() == 0
    page.get_by_text("click me").click()
    page.get_by_text("or me").click()
    assert page.title().startswith("Widget 2.0")
    assert dialogs == []
    assert page.locator(".project-links a").all_inner_texts() == ["Source"]
    assert page.locator(".release-history .badge").inner_text() == "yanked"
    screenshot(page, "project-page-light")


def test_the_project_page_fits_a_phone(phone_page, site, screenshot):
    _project()

    phone_page.goto(f"{site}/project/widget/")

    assert phone_page.locator("#install-uv-add").is_visible()
    screenshot(phone_page, "project-page-phone")
    assert fits_the_screen(phone_page)
