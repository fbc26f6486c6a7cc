"""Yank, un-yank and delete in Chromium: the typed confirmation, the yanked banner, and the
deletion window (a fresh file and a pre-release go; an old release explains why not and points
to yanking; the project cannot go while such a release remains)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from projects.models import File, Release
from projects.services.projects import create_project
from tests.e2e.browser.conftest import log_in_with_recovery_code
from tests.factories import FileFactory, ReleaseFactory, TwoFactorUserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def owner(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return TwoFactorUserFactory(username="release-owner")


def _release(project, version: str, *, age_hours: float = 0) -> Release:
    release = ReleaseFactory(project=project, version=version)
    file = FileFactory(release=release, filename=f"lifecycle_demo-{version}-py3-none-any.whl")
    File.objects.filter(pk=file.pk).update(uploaded_at=timezone.now() - timedelta(hours=age_hours))
    return release


def _flash(page) -> str:
    return page.locator(".messages").inner_text()


def test_an_owner_yanks_and_unyanks_a_release(page, site, owner, screenshot):
    project = create_project(name="lifecycle-demo", creator=owner)
    _release(project, "1.0")
    log_in_with_recovery_code(page, site, owner)

    page.goto(f"{site}/manage/projects/")
    page.get_by_role("link", name="Releases").click()
    page.get_by_role("link", name="Manage 1.0").click()
    page.fill("#yank-reason", "Crashes on import")
    page.fill("#yank-confirm", "1")
    page.click("text=Yank release")
    assert "You typed '1', not '1.0'" in _flash(page)
    assert not Release.objects.get(version="1.0").yanked

    page.fill("#yank-reason", "Crashes on import")
    page.fill("#yank-confirm", "1.0")
    page.click("text=Yank release")

    assert "Yanked release '1.0'" in _flash(page)
    banner = page.locator("#yanked-banner")
    assert banner.is_visible()
    assert "Crashes on import" in banner.inner_text()
    screenshot(page, "release-yanked")
    release = Release.objects.get(version="1.0")
    assert (release.yanked, release.yanked_reason) == (True, "Crashes on import")

    page.fill("#unyank-confirm", "1.0")
    page.click("text=Un-yank release")
    assert "Un-yanked release '1.0'" in _flash(page)
    assert not page.locator("#yanked-banner").is_visible()
    assert not Release.objects.get(version="1.0").yanked


def test_deletion_follows_the_window_and_offers_yank_after_it(page, site, owner, screenshot):
    project = create_project(name="lifecycle-demo", creator=owner)
    _release(project, "1.0", age_hours=100)
    _release(project, "2.0rc1", age_hours=1000)
    fresh = _release(project, "3.0")
    log_in_with_recovery_code(page, site, owner)

    page.goto(f"{site}/manage/project/lifecycle-demo/release/1.0/")
    refused = page.locator("#deletion-refused")
    assert "more than 72 hours ago" in refused.inner_text()
    assert page.get_by_role("button", name="Delete release").count() == 0
    assert page.get_by_role("button", name="Delete file").count() == 0
    screenshot(page, "release-deletion-refused-after-window")
    page.get_by_role("link", name="Yank the release instead").click()
    assert page.url.endswith("#yank")

    page.goto(f"{site}/manage/project/lifecycle-demo/release/3.0/")
    filename = fresh.files.get().filename
    page.fill(f"#delete-file-{fresh.files.get().pk}", filename)
    page.click("text=Delete file")
    assert f"Deleted file '{filename}'" in _flash(page)
    assert not File.objects.filter(filename=filename).exists()
    page.fill("#delete-confirm", "3.0")
    page.click("text=Delete release")
    page.wait_for_url(f"{site}/manage/project/lifecycle-demo/releases/")
    assert "Deleted release '3.0'" in _flash(page)

    page.goto(f"{site}/manage/project/lifecycle-demo/release/2.0rc1/")
    screenshot(page, "release-pre-release-deletable")
    page.fill("#delete-confirm", "2.0rc1")
    page.click("text=Delete release")
    assert "Deleted release '2.0rc1'" in _flash(page)
    assert list(Release.objects.values_list("version", flat=True)) == ["1.0"]

    page.goto(f"{site}/manage/project/lifecycle-demo/delete/")
    assert "can no longer be deleted (1.0)" in page.locator("#deletion-refused").inner_text()
    assert page.get_by_role("button", name="Delete project").count() == 0
    screenshot(page, "project-deletion-refused-after-window")
