"""No answer tells whether an account exists or what kind it is (ASVS 6.3.8, TOB-PYPI26-5).

Login and password reset are compared across kinds of account; the timing half of 6.3.8 is
checked by its cause (the hasher runs for unknown usernames too), never by measuring time.
"""

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class CountingHasher(Argon2PasswordHasher):
    """The real argon2 hasher, counting how often it hashes a password."""

    runs = 0

    def encode(self, password: str, salt: str) -> str:
        type(self).runs += 1
        return super().encode(password, salt)

    def verify(self, password: str, encoded: str) -> bool:
        type(self).runs += 1
        return super().verify(password, encoded)


def _hasher_runs_for(username: str) -> int:
    CountingHasher.runs = 0
    response = Client().post("/account/login/", {"username": username, "password": "wrong pass"})
    assert b"The username or password is incorrect" in response.content
    return CountingHasher.runs


def test_unknown_username_runs_the_password_hasher_like_a_known_one(settings, user):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]

    known = _hasher_runs_for(user.username)
    unknown = _hasher_runs_for("nobody-here")

    assert known == unknown == 1


def _reset_answer(identifier: str) -> tuple[int, str, frozenset[str], bytes]:
    client = Client()
    response = client.post("/account/password-reset/", {"identifier": identifier})
    page = client.get(response["Location"])
    return response.status_code, response["Location"], frozenset(response.cookies), page.content


@pytest.mark.parametrize(
    "kind", ["staff", "superuser", "disabled", "unverified address", "no such account"]
)
def test_reset_request_answers_alike_for_every_kind_of_account(kind):
    regular = UserFactory()
    account = {
        "staff": lambda: UserFactory(is_staff=True),
        "superuser": lambda: UserFactory(is_staff=True, is_superuser=True),
        "disabled": lambda: UserFactory(is_active=False),
        "unverified address": lambda: UserFactory(email__verified=False),
        "no such account": lambda: None,
    }[kind]()
    identifier = account.username if account is not None else "nobody-here"

    assert _reset_answer(identifier) == _reset_answer(regular.username)
