import pytest

from accounts import policy_hook
from projects.models import Role
from projects.policy import (
    admin_two_factor_missing,
    two_factor_missing,
    two_factor_required,
)
from tests.factories import ProjectFactory, RoleFactory, TwoFactorUserFactory, UserFactory


@pytest.fixture
def plain_user(db):
    return UserFactory()


def test_policy_all_requires_every_user_to_have_a_second_factor(settings, plain_user):
    settings.TWO_FACTOR_POLICY = "all"
    assert two_factor_required(plain_user)
    assert two_factor_missing(plain_user)
    assert not two_factor_missing(TwoFactorUserFactory())


def test_policy_critical_spares_users_without_critical_projects(settings, plain_user):
    settings.TWO_FACTOR_POLICY = "critical"
    RoleFactory(user=plain_user, project=ProjectFactory(is_critical=False))
    assert not two_factor_required(plain_user)
    assert not two_factor_missing(plain_user)


@pytest.mark.parametrize("kind", [Role.Kind.OWNER, Role.Kind.MAINTAINER])
def test_policy_critical_requires_maintainers_of_critical_projects(settings, plain_user, kind):
    settings.TWO_FACTOR_POLICY = "critical"
    RoleFactory(user=plain_user, project=ProjectFactory(is_critical=True), role=kind)
    assert two_factor_required(plain_user)
    assert two_factor_missing(plain_user)


def test_policy_critical_covers_a_critical_project_the_user_is_joining(settings, plain_user):
    settings.TWO_FACTOR_POLICY = "critical"
    critical = ProjectFactory(is_critical=True)
    assert two_factor_missing(plain_user, project=critical)
    assert not two_factor_missing(plain_user, project=ProjectFactory(is_critical=False))


@pytest.mark.parametrize("policy", ["all", "critical"])
def test_admin_always_needs_a_second_factor(settings, plain_user, policy):
    settings.TWO_FACTOR_POLICY = policy
    assert admin_two_factor_missing(plain_user)
    assert not admin_two_factor_missing(TwoFactorUserFactory())


def test_accounts_asks_the_projects_policy_registered_at_start_up(settings, plain_user):
    settings.TWO_FACTOR_POLICY = "critical"
    assert not policy_hook.two_factor_required(plain_user)
    RoleFactory(user=plain_user, project=ProjectFactory(is_critical=True))
    assert policy_hook.two_factor_required(plain_user)
    assert policy_hook.two_factor_missing(plain_user)


def test_without_a_registered_policy_accounts_requires_a_second_factor(
    settings, plain_user, monkeypatch
):
    settings.TWO_FACTOR_POLICY = "critical"
    monkeypatch.setattr(policy_hook, "_policy", None)

    assert policy_hook.two_factor_required(plain_user)
