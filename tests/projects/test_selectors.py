import pytest

from projects.models import Project, Role
from projects.selectors import (
    get_project_with_role,
    is_owner,
    may_upload,
    project_for_index,
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
def test_project_with_role_finds_by_normalized_name_with_that_users_role_only():
    project = ProjectFactory(name="Sample.Pkg", normalized_name="sample-pkg")
    owner = RoleFactory(project=project, role=Role.Kind.OWNER).user
    maintainer = RoleFactory(project=project, role=Role.Kind.MAINTAINER).user
    stranger = RoleFactory(role=Role.Kind.OWNER).user  # owner of another project only

    assert get_project_with_role("SAMPLE_pkg", owner).user_role == Role.Kind.OWNER
    assert get_project_with_role("sample.pkg", maintainer).user_role == Role.Kind.MAINTAINER
    found = get_project_with_role("sample-pkg", stranger)
    assert found == project
    assert found.user_role is None
    assert get_project_with_role("sample-pkg", None).user_role is None
    assert get_project_with_role("other-pkg", owner) is None


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


@pytest.mark.django_db
def test_project_for_index_reads_the_row_as_the_orm_would():
    project = ProjectFactory(name="Spam_Eggs", normalized_name="spam-eggs", total_size=42)
    stored = Project.objects.get(pk=project.pk)

    found = project_for_index("spam-eggs")

    assert found is not None
    for field in ("pk", "name", "normalized_name", "status", "status_reason", "serial"):
        assert getattr(found, field) == getattr(stored, field), field
    # Aware on every database (SQLite hands the cursor a naive datetime).
    assert found.created_at == stored.created_at
    assert found.created_at.tzinfo is not None
    assert "total_size" in found.get_deferred_fields()
    assert found.total_size == 42  # a field left out is read when first used


@pytest.mark.django_db
def test_project_for_index_is_none_for_an_unknown_name():
    ProjectFactory(name="spam", normalized_name="spam")

    assert project_for_index("eggs") is None
