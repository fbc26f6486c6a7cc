import pytest

from projects.models import Role
from projects.selectors import (
    is_owner,
    may_upload,
    projects_for_user,
    role_for_user,
    sole_owned_projects,
)
from tests.factories import ProjectFactory, RoleFactory, UserFactory


@pytest.mark.django_db
def test_role_checks_distinguish_owner_maintainer_and_stranger():
    project = ProjectFactory()
    owner = RoleFactory(project=project, role=Role.Kind.OWNER).user
    maintainer = RoleFactory(project=project, role=Role.Kind.MAINTAINER).user
    stranger = UserFactory()

    assert role_for_user(project, owner).role == Role.Kind.OWNER
    assert role_for_user(project, stranger) is None
    assert is_owner(project, owner)
    assert not is_owner(project, maintainer)
    assert may_upload(project, owner)
    assert may_upload(project, maintainer)
    assert not may_upload(project, stranger)
    assert not is_owner(project, None)


@pytest.mark.django_db
def test_projects_for_user_lists_only_their_projects_with_role():
    user = UserFactory()
    mine = RoleFactory(user=user, role=Role.Kind.MAINTAINER).project
    ProjectFactory()
    projects = list(projects_for_user(user))
    assert projects == [mine]
    assert projects[0].user_role == Role.Kind.MAINTAINER


@pytest.mark.django_db
def test_sole_owned_projects_lists_only_projects_without_another_owner():
    user = UserFactory()
    alone = RoleFactory(user=user, role=Role.Kind.OWNER).project
    shared = RoleFactory(user=user, role=Role.Kind.OWNER).project
    RoleFactory(project=shared, role=Role.Kind.OWNER)
    RoleFactory(project=alone, role=Role.Kind.MAINTAINER)
    RoleFactory(user=user, role=Role.Kind.MAINTAINER)
    assert list(sole_owned_projects(user)) == [alone]
