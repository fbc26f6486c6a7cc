"""account_standing: the one read of "verified primary email?" and "second factor?"."""

import pytest

from accounts.models import Email, TOTPDevice
from accounts.selectors import AccountStanding, account_standing, has_two_factor
from tests.factories import TwoFactorUserFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_user_with_a_verified_primary_email_and_a_security_key():
    user = TwoFactorUserFactory()

    assert account_standing(user) == AccountStanding(has_verified_email=True, has_two_factor=True)
    assert has_two_factor(user)


def test_an_unverified_or_secondary_email_does_not_count():
    user = UserFactory(email__verified=False)
    Email.objects.create(user=user, email="second@example.com", is_verified=True)

    assert account_standing(user).has_verified_email is False


@pytest.mark.parametrize(("confirmed", "expected"), [(False, False), (True, True)])
def test_an_authenticator_app_counts_once_confirmed(confirmed, expected):
    user = UserFactory()
    TOTPDevice.objects.create(user=user, encrypted_secret=b"x", is_confirmed=confirmed)

    assert account_standing(user).has_two_factor is expected
    assert has_two_factor(user) is expected


def test_standing_is_one_query(django_assert_num_queries):
    user = TwoFactorUserFactory()

    with django_assert_num_queries(1):
        account_standing(user)
