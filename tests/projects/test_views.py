import json
import re

import pytest
from django.urls import resolve, reverse

from auditlog.models import AuditEvent
from projects.models import File, Project, Role, RoleInvitation
from projects.services.roles import invite_collaborator, make_invitation_token
from tests.accounts.two_factor.conftest import code_at, current_step, pending_secret
from tests.factories import (
    FileFactory,
    ReleaseFactory,
    RoleFactory,
    TwoFactorUserFactory,
    UserFactory,
)
from tests.publishing.oidc.conftest import GITHUB_CONFIG, add_publisher
from tests.url_walk import walk_urls

# What a POST to each owner action sends (the others get an empty form).
_POST_DATA = {
    "invite": {"username": "x", "role": "Owner"},
    "change_role": {"role": "Maintainer"},
    "trusted_publishing_only": {"enabled": "on"},
}
# Project pages a maintainer may post to (yanking is for owners and maintainers).
_MAINTAINER_ACTIONS = {
    "projects:leave",
    "projects:releases",
    "projects:manage_release",
    "projects:yank_release",
    "projects:unyank_release",
}


def _owner_post_urls(project, ids: dict[str, int | str]) -> list[tuple[str, dict]]:
    """Every page under a project's management URL, with real ids: walked from the URLconf,
    so an owner action added later is covered without a change here."""
    urls = []
    for walked in walk_urls():
        if not walked.route.startswith("manage/project/<text:name>/"):
            continue
        match = resolve(walked.path)
        if match.view_name in _MAINTAINER_ACTIONS:
            continue
        kwargs = {
            name: project.normalized_name if name == "name" else ids[name]
            for name in match.kwargs
            if name != "fmt"
        }
        url = reverse(match.view_name, kwargs=kwargs)
        urls.append((url, _POST_DATA.get(match.url_name, {})))
    return urls


def test_maintainer_posts_to_every_owner_action_are_denied_and_recorded(
    login, project, owner, maintainer
):
    invitation = invite_collaborator(
        project=project, username=UserFactory().username, role="Owner", actor=owner
    )
    owner_role = Role.objects.get(project=project, user=owner)
    publisher = add_publisher(project, **GITHUB_CONFIG)
    file = FileFactory(release=ReleaseFactory(project=project, version="1.0"))
    client = login(maintainer)
    urls = _owner_post_urls(
        project,
        {
            "role_id": owner_role.pk,
            "invitation_id": invitation.pk,
            "publisher_id": publisher.pk,
            "version": "1.0",
            "file_id": file.pk,
        },
    )
    assert len(urls) >= 8
    statuses = {url: client.post(url, data).status_code for url, data in urls}
    # Pages that take no POST answer 405; every other one refuses the maintainer.
    assert set(statuses.values()) <= {403, 405}, statuses
    refused = [url for url, status in statuses.items() if status == 403]
    assert len(refused) >= 6
    denied = AuditEvent.objects.filter(event_type="authz:denied", actor=maintainer)
    assert denied.count() == len(refused)
    assert publisher.projects.filter(pk=project.pk).exists()
    assert all(event.project == project for event in denied)
    # Nothing changed.
    assert Role.objects.get(pk=owner_role.pk).role == Role.Kind.OWNER
    assert RoleInvitation.objects.filter(pk=invitation.pk).exists()
    assert not Project.objects.get(pk=project.pk).is_trusted_publishing_only
    assert File.objects.filter(pk=file.pk).exists()


def test_maintainer_reads_no_owner_page(login, project, owner, maintainer):
    owner_role = Role.objects.get(project=project, user=owner)
    publisher = add_publisher(project, **GITHUB_CONFIG)
    file = FileFactory(release=ReleaseFactory(project=project, version="1.0"))
    client = login(maintainer)
    urls = _owner_post_urls(
        project,
        {
            "role_id": owner_role.pk,
            "invitation_id": 1,
            "publisher_id": publisher.pk,
            "version": "1.0",
            "file_id": file.pk,
        },
    )

    statuses = {url: client.get(url).status_code for url, _data in urls}

    # Owner pages refuse the maintainer; actions that take only POST answer 405 to a GET.
    assert set(statuses.values()) <= {403, 405}, statuses
    assert statuses[reverse("projects:history_export_csv", kwargs={"name": "widget"})] == 403


@pytest.mark.parametrize("page", ["projects:settings", "projects:history"])
def test_owner_pages_are_denied_to_maintainers_and_strangers(login, project, maintainer, page):
    url = reverse(page, kwargs={"name": project.normalized_name})
    assert login(maintainer).get(url).status_code == 403
    assert login(TwoFactorUserFactory()).get(url).status_code == 403
    assert AuditEvent.objects.filter(event_type="authz:denied").count() == 2


def test_anonymous_is_sent_to_login(client, project):
    response = client.get(reverse("projects:settings", kwargs={"name": "widget"}))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_management_without_second_factor_goes_to_two_factor_setup(login, db):
    user = UserFactory()
    response = login(user).get(reverse("projects:mine"))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:two_factor") + "?next=%2Fmanage%2Fprojects%2F"


def test_role_change_needs_recent_authentication(client, project, owner, maintainer):
    client.force_login(owner)  # Logged in, but no recent password entry.
    role = Role.objects.get(project=project, user=maintainer)
    url = reverse("projects:change_role", kwargs={"name": "widget", "role_id": role.pk})
    response = client.post(url, {"role": "Owner"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:reauth"))
    assert Role.objects.get(pk=role.pk).role == Role.Kind.MAINTAINER


def test_owner_invites_changes_and_removes_through_the_pages(login, project, owner, maintainer):
    client = login(owner)
    settings_url = reverse("projects:settings", kwargs={"name": "widget"})
    page = client.get(settings_url)
    assert page.status_code == 200
    assert maintainer.username in page.content.decode()

    invitee = UserFactory()
    response = client.post(
        reverse("projects:invite", kwargs={"name": "widget"}),
        {"username": invitee.username, "role": "Maintainer"},
    )
    assert response.status_code == 302
    assert response["Location"] == settings_url
    assert RoleInvitation.objects.filter(invitee=invitee).exists()

    role = Role.objects.get(project=project, user=maintainer)
    client.post(
        reverse("projects:change_role", kwargs={"name": "widget", "role_id": role.pk}),
        {"role": "Owner"},
    )
    assert Role.objects.get(pk=role.pk).role == Role.Kind.OWNER
    client.post(reverse("projects:remove_role", kwargs={"name": "widget", "role_id": role.pk}))
    assert not Role.objects.filter(pk=role.pk).exists()


def test_removing_the_last_owner_shows_the_reason(login, project, owner):
    client = login(owner)
    role = Role.objects.get(project=project, user=owner)
    response = client.post(
        reverse("projects:remove_role", kwargs={"name": "widget", "role_id": role.pk}),
        follow=True,
    )
    assert "is the only owner of Widget and cannot be removed" in response.content.decode()
    assert Role.objects.filter(pk=role.pk).exists()


def test_last_owner_cannot_leave(login, project, owner):
    response = login(owner).post(reverse("projects:leave", kwargs={"name": "widget"}), follow=True)
    assert "Make another collaborator an owner first" in response.content.decode()
    assert Role.objects.filter(project=project, user=owner).exists()


def test_trusted_publishing_only_toggle_records_event(login, project, owner):
    client = login(owner)
    url = reverse("projects:trusted_publishing_only", kwargs={"name": "widget"})
    client.post(url, {"enabled": "on"})
    assert Project.objects.get(pk=project.pk).is_trusted_publishing_only
    client.post(url, {})
    assert not Project.objects.get(pk=project.pk).is_trusted_publishing_only
    events = AuditEvent.objects.filter(
        project=project, event_type="project:trusted_publishing_only:change"
    ).order_by("pk")
    assert [event.data for event in events] == [{"enabled": True}, {"enabled": False}]


def test_invitation_link_page_and_accept(login, project, owner):
    invitee = TwoFactorUserFactory()
    invitation = invite_collaborator(
        project=project, username=invitee.username, role="Maintainer", actor=owner
    )
    token = make_invitation_token(invitation)
    client = login(invitee)
    page = client.get(reverse("projects:invitation", kwargs={"token": token}))
    assert page.status_code == 200
    assert "Accept" in page.content.decode()
    response = client.post(
        reverse("projects:accept_invitation", kwargs={"invitation_id": invitation.pk})
    )
    assert response.status_code == 302
    assert Role.objects.get(project=project, user=invitee).role == Role.Kind.MAINTAINER


def test_invitation_link_for_another_account_is_refused(login, project, owner):
    invitee = TwoFactorUserFactory()
    invitation = invite_collaborator(
        project=project, username=invitee.username, role="Owner", actor=owner
    )
    token = make_invitation_token(invitation)
    intruder = TwoFactorUserFactory()
    client = login(intruder)
    page = client.get(reverse("projects:invitation", kwargs={"token": token}))
    assert page.status_code == 404
    assert "for a different account" in page.content.decode()
    response = client.post(
        reverse("projects:accept_invitation", kwargs={"invitation_id": invitation.pk})
    )
    assert response.status_code == 404
    assert not Role.objects.filter(user=intruder).exists()


def test_tampered_invitation_link_is_refused(login, project, owner):
    page = login(owner).get(reverse("projects:invitation", kwargs={"token": "abc:def"}))
    assert page.status_code == 404
    assert "invalid or has expired" in page.content.decode()


def test_decline_from_projects_page(login, project, owner):
    invitee = TwoFactorUserFactory()
    invitation = invite_collaborator(
        project=project, username=invitee.username, role="Owner", actor=owner
    )
    client = login(invitee)
    mine = client.get(reverse("projects:mine")).content.decode()
    assert "Invitations waiting for you" in mine
    assert "Widget" in mine
    client.post(reverse("projects:decline_invitation", kwargs={"invitation_id": invitation.pk}))
    assert not RoleInvitation.objects.exists()


def test_critical_policy_requires_second_factor_to_join_a_critical_project(
    login, settings, project, owner
):
    settings.TWO_FACTOR_POLICY = "critical"
    Project.objects.filter(pk=project.pk).update(is_critical=True)
    invitee = UserFactory()
    invitation = invite_collaborator(
        project=project, username=invitee.username, role="Maintainer", actor=owner
    )
    response = login(invitee).post(
        reverse("projects:accept_invitation", kwargs={"invitation_id": invitation.pk})
    )
    assert response["Location"] == reverse("accounts:two_factor")
    assert not Role.objects.filter(user=invitee).exists()


def test_history_is_paginated_and_owner_only(login, project, owner, maintainer):
    client = login(owner)
    response = client.get(reverse("projects:history", kwargs={"name": "widget"}))
    assert response.status_code == 200
    html = response.content.decode()
    assert "project:create" in html
    assert "project:role:add" in html


def test_history_export_is_the_project_s_events_for_owners_only(login, project, owner, maintainer):
    url = reverse("projects:history_export_jsonl", kwargs={"name": "widget"})

    response = login(owner).get(url)

    assert response.status_code == 200
    assert 'filename="widget-history.jsonl"' in response["Content-Disposition"]
    types = [
        json.loads(line)["event_type"] for line in b"".join(response.streaming_content).splitlines()
    ]
    assert "project:create" in types
    assert login(maintainer).get(url).status_code == 403


def test_my_projects_query_count_is_fixed(login, owner, django_assert_max_num_queries):
    for _ in range(20):
        RoleFactory(user=owner, role=Role.Kind.MAINTAINER)
    client = login(owner)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("projects:mine"))
    assert response.status_code == 200


def test_project_page_non_normalized_redirects_and_unknown_is_404(client, project):
    FileFactory(release=ReleaseFactory(project=project))
    response = client.get("/project/Widget/")
    assert response.status_code == 301
    assert response["Location"] == "/project/widget/"
    assert client.get("/project/nothing/").status_code == 404


def test_history_never_shows_secrets_and_query_count_is_fixed(
    login, project, owner, django_assert_max_num_queries
):
    from auditlog.services import record_event  # noqa: PLC0415 - only this test writes raw events

    for n in range(30):
        record_event(
            event_type="project:file:add",
            actor=owner,
            project=project,
            data={"filename": f"w-{n}.whl", "token": "pypi-SENTINEL-SECRET"},
        )
    client = login(owner)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("projects:history", kwargs={"name": "widget"}))
    html = response.content.decode()
    assert "SENTINEL" not in html
    assert "[redacted]" in html
    assert html.count('class="card event"') == 25
    assert ">Older</a>" in html
    assert ">Newer</a>" not in html


def test_simple_page_without_trailing_slash_redirects(client, project):
    response = client.get("/simple/widget")
    assert response.status_code == 301
    assert response["Location"] == "/simple/widget/"


def test_settings_page_query_count_is_fixed(login, project, owner, django_assert_max_num_queries):
    for _ in range(15):
        RoleFactory(project=project, user=UserFactory(), role=Role.Kind.MAINTAINER)
    for _ in range(5):
        invite_collaborator(
            project=project, username=UserFactory().username, role="Owner", actor=owner
        )
    client = login(owner)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("projects:settings", kwargs={"name": "widget"}))
    assert response.status_code == 200
    assert response.content.decode().count("Change role") == 16


def test_my_projects_filter_critical_and_sort(login, owner):
    from projects.services.projects import create_project  # noqa: PLC0415 - local to this test

    create_project(name="alpha", creator=owner)
    beta = create_project(name="beta", creator=owner)
    create_project(name="gamma", creator=owner)
    Project.objects.filter(pk=beta.pk).update(is_critical=True)
    client = login(owner)

    critical = client.get(reverse("projects:mine"), {"critical": "1"})
    assert [p.name for p in critical.context["projects"]] == ["beta"]
    newest = client.get(reverse("projects:mine"), {"order": "newest"})
    assert [p.name for p in newest.context["projects"]] == ["gamma", "beta", "alpha"]
    first = client.get(reverse("projects:mine"), {"order": "critical"})
    assert [p.name for p in first.context["projects"]] == ["beta", "alpha", "gamma"]
    fallback = client.get(reverse("projects:mine"), {"order": "password"})
    assert [p.name for p in fallback.context["projects"]] == ["alpha", "beta", "gamma"]


@pytest.mark.parametrize("policy", ["all", "critical"])
def test_invitee_sent_to_set_up_two_factor_returns_to_the_invitation(
    login, project, owner, settings, policy
):
    settings.TWO_FACTOR_POLICY = policy
    project.is_critical = True
    project.save(update_fields=["is_critical"])
    invitee = UserFactory()
    invitation = invite_collaborator(
        project=project, username=invitee.username, role="Maintainer", actor=owner
    )
    link = reverse("projects:invitation", kwargs={"token": make_invitation_token(invitation)})
    client = login(invitee)
    page = client.get(link)
    if policy == "critical":
        # Seeing the invitation needs no second factor; accepting a critical project's does.
        assert page.status_code == 200
        page = client.post(
            reverse("projects:accept_invitation", kwargs={"invitation_id": invitation.pk}),
            HTTP_REFERER=f"http://testserver{link}",
        )
    assert page.status_code == 302
    detour = page["Location"]
    assert detour.startswith(reverse("accounts:two_factor") + "?next=")
    setup_page = client.get(detour).content.decode()
    assert "the page you were opening" in setup_page

    client.get(reverse("accounts:totp_setup"))
    secret = pending_secret(client)
    client.post(reverse("accounts:totp_setup"), {"code": code_at(secret, current_step())})
    codes_page = client.get(reverse("accounts:recovery_codes")).content.decode()
    [continue_url] = re.findall(r'href="([^"]+)">I have saved my codes', codes_page)
    assert continue_url.endswith(link)
    assert client.get(continue_url).status_code == 200
    accepted = client.post(
        reverse("projects:accept_invitation", kwargs={"invitation_id": invitation.pk})
    )
    assert accepted.status_code == 302
    assert Role.objects.filter(project=project, user=invitee).exists()
