"""The token read every upload makes: the row with its owner, in one written-out query."""

import uuid
from datetime import timedelta

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from accounts.models import User
from tests.factories import ProjectFactory, UserFactory
from tokens.models import ApiToken
from tokens.selectors import token_with_owner
from tokens.services import create_api_token, create_publisher_token

pytestmark = pytest.mark.django_db


def test_the_token_and_its_owner_are_read_as_the_orm_reads_them(django_assert_num_queries):
    user = UserFactory()
    row, _raw = create_api_token(
        user=user,
        name="ci",
        actor=user,
        expires_at=timezone.now() + timedelta(days=30),
        ip_networks=["192.0.2.0/24"],
    )

    with django_assert_num_queries(1):
        token = token_with_owner(row.pk)
        assert token is not None
        owner = token.user

    expected = ApiToken.objects.select_related("user").get(pk=row.pk)
    assert model_to_dict(token) == model_to_dict(expected)
    assert token.caveats == expected.caveats
    assert token.expires_at == expected.expires_at
    assert owner == user
    assert isinstance(owner, User)
    assert model_to_dict(owner) == model_to_dict(User.objects.get(pk=user.pk))
    assert owner.last_login == expected.user.last_login
    assert owner.date_joined == expected.user.date_joined
    assert not token._state.adding
    assert not owner._state.adding


def test_a_trusted_publishers_token_has_no_owner(django_assert_num_queries):
    row, _raw = create_publisher_token(publisher_id=7, project_ids=[ProjectFactory().pk])

    with django_assert_num_queries(1):
        token = token_with_owner(row.pk)
        assert token is not None
        assert token.user is None
    assert token.publisher_id == 7


def test_an_unknown_token_is_none():
    assert token_with_owner(uuid.uuid4()) is None
