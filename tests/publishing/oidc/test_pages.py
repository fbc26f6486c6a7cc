"""Publisher pages: project owners add and remove publishers; users manage pending ones."""

import re
import time
from html import unescape

import pytest
from django.urls import reverse

from accounts.reauth import AUTHENTICATED_AT_KEY
from auditlog.events import EventType
from auditlog.models import AuditEvent
from index_site.models import OutboxEmail
from projects.models import Role
from publishing.models import AdminFlag, OIDCIssuer, PendingPublisher, Provider, TrustedPublisher
from tests.factories import UserFactory
from tests.publishing.oidc.conftest import GITHUB_CONFIG, FakeResponse, add_publisher

pytestmark = pytest.mark.django_db

URL = "/manage/project/widget/settings/publishing/"


def _login(client, user) -> None:
    client.force_login(user)
    session = client.session
    session[AUTHENTICATED_AT_KEY] = int(time.time())
    session.save()


def _github_form(**overrides) -> dict:
    data = {
        "provider": "github",
        "github-owner": "acme",
        "github-owner_id": "4242",
        "github-repository": "widget",
        "github-workflow_filename": "release.yml",
        "github-environment": "Release",
    }
    data.update(overrides)
    return data


@pytest.fixture
def maintainer(project):
    from tests.factories import TwoFactorUserFactory  # noqa: PLC0415

    user = TwoFactorUserFactory()
    Role.objects.create(project=project, user=user, role=Role.Kind.MAINTAINER)
    return user


def test_owner_adds_a_github_publisher_and_collaborators_are_emailed(
    client, owner, maintainer, project
):
    _login(client, owner)
    response = client.post(URL, _github_form())
    assert response.status_code == 302
    publisher = TrustedPublisher.objects.get()
    assert publisher.environment == "release"  # GitHub environments are stored lower-cased
    assert list(publisher.projects.all()) == [project]
    recipients = set(
        OutboxEmail.objects.filter(template="publishing/publisher_added").values_list(
            "recipient", flat=True
        )
    )
    assert recipients == {owner.email, maintainer.email}
    event = AuditEvent.objects.get(event_type=EventType.PROJECT_OIDC_PUBLISHER_ADDED)
    assert event.project == project
    assert event.actor == owner


def test_adding_the_same_publisher_twice_is_refused(client, owner, project):
    _login(client, owner)
    client.post(URL, _github_form())
    response = client.post(URL, _github_form())
    assert response.status_code == 400
    assert b"already registered" in response.content


def test_identical_publisher_row_is_reused_across_projects(client, owner, project):
    from tests.factories import ProjectFactory  # noqa: PLC0415

    other = ProjectFactory(name="other")
    Role.objects.create(project=other, user=owner, role=Role.Kind.OWNER)
    _login(client, owner)
    client.post(URL, _github_form())
    client.post("/manage/project/other/settings/publishing/", _github_form())
    assert TrustedPublisher.objects.count() == 1
    assert TrustedPublisher.objects.get().projects.count() == 2


def test_owner_removes_a_publisher_and_collaborators_are_emailed(
    client, owner, maintainer, project
):
    publisher = add_publisher(project, **GITHUB_CONFIG)
    _login(client, owner)
    response = client.post(f"{URL}{publisher.pk}/remove/")
    assert response.status_code == 302
    assert not TrustedPublisher.objects.exists()
    assert OutboxEmail.objects.filter(template="publishing/publisher_removed").count() == 2
    assert AuditEvent.objects.filter(event_type=EventType.PROJECT_OIDC_PUBLISHER_REMOVED).exists()


def test_maintainer_cannot_manage_publishers_and_each_refusal_is_audited(
    client, maintainer, project
):
    publisher = add_publisher(project, **GITHUB_CONFIG)
    _login(client, maintainer)
    assert client.get(URL).status_code == 403
    assert client.post(URL, _github_form(**{"github-repository": "x"})).status_code == 403
    assert client.post(f"{URL}{publisher.pk}/remove/").status_code == 403
    assert publisher.projects.exists()
    denied = AuditEvent.objects.filter(event_type=EventType.AUTHZ_DENIED).order_by("pk")
    assert [event.data["action"] for event in denied] == [
        "project:publisher:view",
        "project:publisher:add",
        "project:publisher:remove",
    ]
    assert {(event.actor_id, event.project) for event in denied} == {(maintainer.pk, project)}


def test_publisher_page_of_a_missing_project_is_not_found(client, owner):
    _login(client, owner)
    assert client.get("/manage/project/no-such-project/settings/publishing/").status_code == 404
    assert not AuditEvent.objects.filter(event_type=EventType.AUTHZ_DENIED).exists()


def test_publisher_pages_require_two_factor(client, project):
    user = UserFactory()
    Role.objects.create(project=project, user=user, role=Role.Kind.OWNER)
    _login(client, user)
    response = client.get(URL)
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:two_factor") + "?next=")


def test_publisher_pages_require_recent_authentication(client, owner, project):
    client.force_login(owner)
    response = client.post(URL, _github_form())
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:reauth"))
    assert not TrustedPublisher.objects.exists()


def test_form_is_prefilled_from_the_query_string(client, owner, project):
    _login(client, owner)
    response = client.get(URL + "?provider=github&owner=acme&repository=widget")
    assert response.status_code == 200
    content = response.content.decode()
    assert 'value="acme"' in content
    assert 'value="widget"' in content


def test_page_lists_publishers_with_pinned_queries(
    client, owner, project, django_assert_max_num_queries
):
    for index in range(5):
        add_publisher(project, **{**GITHUB_CONFIG, "workflow_filename": f"w{index}.yml"})
    _login(client, owner)
    with django_assert_max_num_queries(12):
        response = client.get(URL)
    assert response.content.decode().count("w0.yml") == 1
    content = response.content.decode()
    for publisher in TrustedPublisher.objects.all():
        remove = reverse(
            "publishing:remove_publisher",
            kwargs={"name": project.name, "publisher_id": publisher.pk},
        )
        assert f'<form method="post" action="{remove}" class="inline-form">' in content


def test_github_owner_id_is_looked_up_when_not_given(client, owner, project, web):
    web.routes["https://api.github.com/users/acme"] = {"login": "Acme", "id": 4242}
    _login(client, owner)
    response = client.post(URL, _github_form(**{"github-owner_id": ""}))
    assert response.status_code == 302
    publisher = TrustedPublisher.objects.get()
    assert (publisher.repository_owner, publisher.repository_owner_id) == ("Acme", "4242")


def test_unknown_github_owner_is_refused(client, owner, project, web):
    web.routes["https://api.github.com/users/nobody"] = FakeResponse(404, {})
    _login(client, owner)
    response = client.post(URL, _github_form(**{"github-owner": "nobody", "github-owner_id": ""}))
    assert response.status_code == 400
    assert b"GitHub has no user or organization" in response.content


def test_github_unreachable_asks_for_the_owner_id(client, owner, project, web):
    web.down = True
    _login(client, owner)
    response = client.post(URL, _github_form(**{"github-owner_id": ""}))
    assert response.status_code == 400
    assert b"Enter it yourself" in response.content
    assert not TrustedPublisher.objects.exists()


def test_default_compute_service_account_is_refused(client, owner, project):
    _login(client, owner)
    response = client.post(
        URL,
        {"provider": "google", "google-email": "123-compute@developer.gserviceaccount.com"},
    )
    assert response.status_code == 400
    assert b"dedicated service account" in response.content
    assert not TrustedPublisher.objects.exists()


def test_gitlab_and_custom_publishers_can_be_added(client, owner, project):
    from publishing.models import OIDCIssuer  # noqa: PLC0415

    issuer = OIDCIssuer.objects.create(name="forgejo", issuer_url="https://code.acme.example")
    _login(client, owner)
    response = client.post(
        URL,
        {
            "provider": "gitlab",
            "gitlab-namespace": "acme/tools",
            "gitlab-project": "widget",
            "gitlab-workflow_filepath": ".gitlab-ci.yml",
        },
    )
    assert response.status_code == 302
    response = client.post(
        URL,
        {
            "provider": "custom",
            "custom-issuer": str(issuer.pk),
            "custom-rules": "repository == acme/tool\nref startswith refs/tags/",
        },
    )
    assert response.status_code == 302
    custom = TrustedPublisher.objects.get(provider=Provider.CUSTOM)
    assert custom.claim_rules == [
        {"claim": "repository", "op": "equals", "value": "acme/tool"},
        {"claim": "ref", "op": "startswith", "value": "refs/tags/"},
    ]


def test_custom_publisher_needs_an_exact_rule(client, owner, project):
    from publishing.models import OIDCIssuer  # noqa: PLC0415

    issuer = OIDCIssuer.objects.create(name="forgejo", issuer_url="https://code.acme.example")
    _login(client, owner)
    response = client.post(
        URL,
        {"provider": "custom", "custom-issuer": str(issuer.pk), "custom-rules": "ref startswith r"},
    )
    assert response.status_code == 400


def test_registrations_are_rate_limited(client, owner, project, settings):
    settings.PUBLISHER_REGISTRATION_RATE_LIMIT = "2/d"
    _login(client, owner)
    for index in range(2):
        client.post(URL, _github_form(**{"github-workflow_filename": f"w{index}.yml"}))
    response = client.post(URL, _github_form(**{"github-workflow_filename": "w9.yml"}))
    assert response.status_code == 429
    assert TrustedPublisher.objects.count() == 2


def test_account_page_adds_and_removes_pending_publishers(client, owner):
    _login(client, owner)
    response = client.post(
        "/manage/account/publishing/",
        {
            "provider": "github",
            "github-project_name": "future-widget",
            "github-owner": "acme",
            "github-owner_id": "4242",
            "github-repository": "widget",
            "github-workflow_filename": "release.yml",
        },
    )
    assert response.status_code == 302
    pending = PendingPublisher.objects.get()
    assert pending.project_name == "future-widget"
    page = client.get("/manage/account/publishing/")
    assert b"future-widget" in page.content
    response = client.post(f"/manage/account/publishing/{pending.pk}/remove/")
    assert response.status_code == 302
    assert not PendingPublisher.objects.exists()
    assert AuditEvent.objects.filter(
        event_type=EventType.ACCOUNT_OIDC_PENDING_PUBLISHER_REMOVED, actor=owner
    ).exists()


def test_users_cannot_remove_others_pending_publishers(client, owner):
    from publishing.pending import register_pending_publisher  # noqa: PLC0415

    pending = register_pending_publisher(
        user=UserFactory(), project_name="theirs", config=GITHUB_CONFIG
    )
    _login(client, owner)
    assert client.post(f"/manage/account/publishing/{pending.pk}/remove/").status_code == 404
    assert PendingPublisher.objects.filter(pk=pending.pk).exists()


def test_token_upload_to_a_published_project_emails_owners(owner, project, rf):
    from publishing.selectors import project_has_publisher  # noqa: PLC0415
    from publishing.services import notify_token_upload_to_published_project  # noqa: PLC0415
    from tests.publishing.oidc.test_mint_token import _upload_identity  # noqa: PLC0415
    from tokens.services import create_api_token  # noqa: PLC0415

    _, raw = create_api_token(user=owner, name="laptop", actor=owner)
    identity = _upload_identity(rf, raw)
    assert not project_has_publisher(project)
    notify_token_upload_to_published_project(project=project, identity=identity)
    assert not OutboxEmail.objects.exists()
    add_publisher(project, **GITHUB_CONFIG)
    assert project_has_publisher(project)
    notify_token_upload_to_published_project(project=project, identity=identity)
    email = OutboxEmail.objects.get(template="publishing/token_upload_to_published_project")
    assert email.recipient == owner.email
    assert "laptop" in email.body_text


def test_account_page_lists_pending_publishers_with_pinned_queries(
    client, owner, django_assert_max_num_queries
):
    from publishing.pending import register_pending_publisher  # noqa: PLC0415

    for index in range(3):
        register_pending_publisher(
            user=owner,
            project_name=f"future-{index}",
            config={**GITHUB_CONFIG, "workflow_filename": f"w{index}.yml"},
        )
    _login(client, owner)
    with django_assert_max_num_queries(10):
        response = client.get("/manage/account/publishing/")
    assert response.status_code == 200
    assert response.content.decode().count("future-") >= 3
    content = response.content.decode()
    for pending in PendingPublisher.objects.all():
        remove = reverse("publishing:remove_pending", kwargs={"pending_id": pending.pk})
        assert f'<form method="post" action="{remove}" class="inline-form">' in content


PAGES = [URL, "/manage/account/publishing/"]


def _warning(client, page: str, provider: str) -> str:

    content = client.get(page, {"provider": provider}).content.decode()
    found = re.search(r'data-testid="publisher-setup-warning">([^<]*)<', content)
    return unescape(found.group(1)) if found else ""


@pytest.mark.usefixtures("project")
@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("provider", [Provider.GITHUB, Provider.GITLAB, Provider.GOOGLE])
def test_publisher_pages_warn_while_no_audience_is_configured(
    client, owner, settings, page, provider
):
    _login(client, owner)
    assert _warning(client, page, provider) == ""
    settings.OIDC_AUDIENCE = ""
    assert "OIDC_AUDIENCE is empty" in _warning(client, page, provider)
    assert "cannot publish" in _warning(client, page, provider)


@pytest.mark.parametrize("page", PAGES)
def test_publisher_pages_warn_while_trusted_publishing_is_switched_off(
    client, owner, project, settings, page
):
    _login(client, owner)
    settings.TRUSTED_PUBLISHING_ENABLED = False
    assert "switched off on this server" in _warning(client, page, Provider.GITHUB)
    settings.TRUSTED_PUBLISHING_ENABLED = True
    AdminFlag.objects.create(id="disallow-gitlab-oidc", is_enabled=True)
    assert "switched off on this server" in _warning(client, page, Provider.GITLAB)
    assert _warning(client, page, Provider.GITHUB) == ""


@pytest.mark.parametrize("page", PAGES)
def test_the_custom_issuer_form_warns_until_an_issuer_with_an_audience_is_registered(
    client, owner, project, settings, page
):
    _login(client, owner)
    assert "No custom issuer is registered" in _warning(client, page, Provider.CUSTOM)
    issuer = OIDCIssuer.objects.create(
        name="Forgejo", issuer_url="https://forgejo.example", kind=OIDCIssuer.Kind.CUSTOM
    )
    assert _warning(client, page, Provider.CUSTOM) == ""
    settings.OIDC_AUDIENCE = ""
    assert "OIDC_AUDIENCE is empty" in _warning(client, page, Provider.CUSTOM)
    issuer.audience = "forgejo-index"
    issuer.save()
    assert _warning(client, page, Provider.CUSTOM) == ""
