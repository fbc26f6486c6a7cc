"""Pending publishers: registration rules, creation of the project on first publish, expiry."""

import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from auditlog.events import EventType
from auditlog.models import AuditEvent
from index_site.models import OutboxEmail
from projects.exceptions import ProjectNameError
from projects.models import ProhibitedProjectName, Project, Role
from publishing.models import PendingPublisher, TrustedPublisher
from publishing.pending import (
    expire_pending_publishers,
    project_from_pending_publisher,
    register_pending_publisher,
)
from publishing.publisher_errors import PublisherError
from tests.factories import ProjectFactory, TwoFactorUserFactory, UserFactory
from tests.publishing.oidc.conftest import (
    GITHUB_CONFIG,
    error_code,
    github_claims,
)
from tests.publishing.oidc.test_mint_token import _upload_identity
from tokens.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def registrant():
    return TwoFactorUserFactory()


def _register(user, name="new-widget", **config):
    return register_pending_publisher(
        user=user, project_name=name, config={**GITHUB_CONFIG, **config}
    )


def test_registering_records_an_event(registrant):
    pending = _register(registrant)
    assert pending.publisher.config_key == pending.config_key
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_OIDC_PENDING_PUBLISHER_ADDED)
    assert event.user == registrant
    assert event.data["project"] == "new-widget"


def test_at_most_three_pending_publishers_per_user(registrant):
    for index in range(3):
        _register(registrant, name=f"project-{index}")
    with pytest.raises(PublisherError, match="at most 3"):
        _register(registrant, name="project-4")


def test_pending_publisher_requires_a_verified_email(db):
    user = TwoFactorUserFactory(email__verified=False)
    with pytest.raises(PublisherError, match="Verify your primary email"):
        _register(user)


@pytest.mark.parametrize("name", ["os", "prohibited-name", "bad name!"])
def test_name_policy_is_checked_at_registration(registrant, name):
    ProhibitedProjectName.objects.create(name="prohibited-name")
    with pytest.raises(PublisherError):
        _register(registrant, name=name)
    assert not PendingPublisher.objects.exists()


def test_existing_project_cannot_get_a_pending_publisher(registrant):
    ProjectFactory(name="taken")
    with pytest.raises(PublisherError):
        _register(registrant, name="taken")


def test_registering_the_same_name_twice_is_refused(registrant):
    _register(registrant)
    with pytest.raises(PublisherError, match="You already have a pending publisher"):
        _register(registrant, repository_name="elsewhere")
    assert PendingPublisher.objects.count() == 1


def test_second_registrant_of_a_name_is_refused_without_naming_the_first(registrant):
    first = UserFactory(username="first-registrant")
    register_pending_publisher(user=first, project_name="new-widget", config=dict(GITHUB_CONFIG))
    with pytest.raises(PublisherError) as refused:
        _register(registrant, name="New_Widget")
    message = str(refused.value)
    assert "already registered for 'New_Widget'" in message
    assert "first-registrant" not in message
    assert first.email not in message
    assert list(PendingPublisher.objects.values_list("added_by", flat=True)) == [first.pk]


def test_squatted_name_is_not_silently_shared(github, registrant, mint, rf):
    """A squatter registering a victim's CI first: the victim is told, not told "nothing to do"."""
    squatter = TwoFactorUserFactory()
    register_pending_publisher(user=squatter, project_name="new-widget", config=dict(GITHUB_CONFIG))
    with pytest.raises(PublisherError, match="contact the site's administrators"):
        _register(registrant)
    assert not PendingPublisher.objects.filter(added_by=registrant).exists()


def test_concurrent_second_registration_is_refused_by_the_database(registrant, monkeypatch):
    """Two registrations racing past the check: the unique name constraint refuses the second."""
    register_pending_publisher(
        user=UserFactory(), project_name="new-widget", config=dict(GITHUB_CONFIG)
    )
    monkeypatch.setattr(
        "publishing.pending.PendingPublisher.objects",
        _NoPendingYet(PendingPublisher.objects),
    )
    with pytest.raises(PublisherError, match="already registered for 'new-widget'"):
        _register(registrant, repository_name="elsewhere")


class _NoPendingYet:
    """The manager as seen by a registration that read before the other one committed."""

    def __init__(self, manager) -> None:
        self._manager = manager

    def filter(self, **kwargs):
        if "normalized_name" in kwargs:
            return self._manager.none()
        return self._manager.filter(**kwargs)

    def __getattr__(self, name):
        return getattr(self._manager, name)


def test_first_publish_creates_the_project_for_the_registrant(github, registrant, mint, rf):
    _register(registrant)
    status, body = mint(github.sign(github_claims()))
    assert status == 200, body
    identity = _upload_identity(rf, body["token"])
    project = project_from_pending_publisher(identity=identity, name="New_Widget", request=None)
    assert project is not None
    assert project.name == "new-widget"
    assert Role.objects.get(project=project).user == registrant
    assert Role.objects.get(project=project).role == Role.Kind.OWNER
    assert list(project.trusted_publishers.all()) == [TrustedPublisher.objects.get()]
    assert not PendingPublisher.objects.exists()
    email = OutboxEmail.objects.get(template="publishing/pending_reified")
    assert email.recipient == registrant.email
    assert "new-widget" in email.body_text
    event = AuditEvent.objects.get(
        event_type=EventType.PROJECT_OIDC_PUBLISHER_ADDED, project=project
    )
    assert event.data["reified_from_pending_publisher"] is True


def test_oidc_token_without_a_pending_publisher_creates_nothing(github, project, mint, rf):
    from tests.publishing.oidc.conftest import add_publisher  # noqa: PLC0415

    add_publisher(project, **GITHUB_CONFIG)
    _, body = mint(github.sign(github_claims()))
    identity = _upload_identity(rf, body["token"])
    assert project_from_pending_publisher(identity=identity, name="brand-new") is None
    assert not Project.objects.filter(normalized_name="brand-new").exists()


def test_user_token_never_creates_from_a_pending_publisher(registrant, rf):
    from tokens.services import create_api_token  # noqa: PLC0415 - a real user token

    _register(registrant)
    _, raw = create_api_token(user=registrant, name="laptop", actor=registrant)
    identity = _upload_identity(rf, raw)
    assert project_from_pending_publisher(identity=identity, name="new-widget") is None


def test_project_created_meanwhile_ends_the_pending_publisher(github, registrant, mint):
    _register(registrant)
    ProjectFactory(name="new-widget")
    status, body = mint(github.sign(github_claims()))
    assert (status, error_code(body)) == (422, "invalid-pending-publisher")
    assert not PendingPublisher.objects.exists()
    assert not ApiToken.objects.exists()


def test_name_prohibited_after_registration_is_refused_at_mint(github, registrant, mint):
    _register(registrant)
    ProhibitedProjectName.objects.create(name="new-widget")
    status, body = mint(github.sign(github_claims()))
    assert (status, error_code(body)) == (422, "invalid-payload")
    assert not PendingPublisher.objects.exists()
    assert not Project.objects.exists()


def test_name_prohibited_between_mint_and_upload_is_refused_at_creation(
    github, registrant, mint, rf
):
    _register(registrant)
    _, body = mint(github.sign(github_claims()))
    ProhibitedProjectName.objects.create(name="new-widget")
    identity = _upload_identity(rf, body["token"])
    with pytest.raises(ProjectNameError):
        project_from_pending_publisher(identity=identity, name="new-widget")
    assert not Project.objects.exists()


def test_pending_publishers_expire_after_thirty_days(registrant):
    _register(registrant)
    assert expire_pending_publishers() == 0
    later = timezone.now() + timedelta(days=31)
    assert expire_pending_publishers(now=later) == 1
    assert not PendingPublisher.objects.exists()
    assert not TrustedPublisher.objects.exists()
    assert OutboxEmail.objects.get(template="publishing/pending_expired").recipient == (
        registrant.email
    )
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_OIDC_PENDING_PUBLISHER_REMOVED)
    assert event.data["removed_by"] == "system:ttl-expired"


def test_expiry_task_is_scheduled_and_runs(registrant, settings):
    from publishing.tasks import expire_pending_publishers as task  # noqa: PLC0415

    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "publishing.tasks.expire_pending_publishers" in schedule
    _register(registrant)
    with time_machine.travel(time.time() + timedelta(days=31).total_seconds()):
        assert task.delay().get() == 1


def test_first_publish_creates_the_project_for_its_one_registrant_only(
    github, registrant, mint, rf
):
    _register(registrant)
    with pytest.raises(PublisherError):
        register_pending_publisher(
            user=TwoFactorUserFactory(), project_name="new-widget", config=dict(GITHUB_CONFIG)
        )
    _, body = mint(github.sign(github_claims()))
    project = project_from_pending_publisher(
        identity=_upload_identity(rf, body["token"]), name="new-widget"
    )
    assert [role.user for role in Role.objects.filter(project=project)] == [registrant]
    assert not PendingPublisher.objects.exists()
    assert TrustedPublisher.objects.count() == 1
