import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from accounts.login import SECOND_FACTOR_VERIFIED_KEY
from accounts.reauth import AUTHENTICATED_AT_KEY
from accounts.selectors import has_two_factor
from projects.models import Role
from projects.services.projects import create_project
from tests.factories import (
    FileFactory,
    ProjectFactory,
    ReleaseFactory,
    RoleFactory,
    TwoFactorUserFactory,
)


@pytest.fixture
def login(client):
    """Log `user` in as if they had just entered their password (re-authentication fresh)."""

    def _login(user):
        client.force_login(user)
        session = client.session
        session[AUTHENTICATED_AT_KEY] = int(time.time())
        # A user with a second factor logs in with it (the admin requires that of the session).
        session[SECOND_FACTOR_VERIFIED_KEY] = has_two_factor(user)
        session.save()
        return client

    return _login


@pytest.fixture
def owner(db):
    return TwoFactorUserFactory()


@pytest.fixture
def project(owner):
    return create_project(name="Widget", creator=owner)


@pytest.fixture
def maintainer(project):
    user = TwoFactorUserFactory()
    RoleFactory(project=project, user=user, role=Role.Kind.MAINTAINER)
    return user


@pytest.fixture
def admin_user(db):
    return TwoFactorUserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def release(project):
    """Release 1.0 of `project`, with one wheel."""
    release = ReleaseFactory(project=project, version="1.0")
    FileFactory(release=release, filename="widget-1.0-py3-none-any.whl")
    return release


@pytest.fixture
def memory_storage(settings):
    """Distribution files in memory, for tests of serving them."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }


@pytest.fixture
def stored_wheel(db):
    """A wheel of `sample-project` 1.0 with its bytes in the storage."""
    project = ProjectFactory(name="Sample_Project", normalized_name="sample-project")
    file = FileFactory(
        release=ReleaseFactory(project=project, version="1.0"),
        filename="sample_project-1.0-py3-none-any.whl",
    )
    default_storage.save(file.path, ContentFile(b"wheel bytes"))
    return file
