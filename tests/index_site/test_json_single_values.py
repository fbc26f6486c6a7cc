"""JSON bodies read as single values: a key named twice, at any depth, is refused."""

import json

import pytest

from index_site.single_values import RepeatedFieldError, loads_without_repeated_keys


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"token": "a", "token": "b"}', "token"),
        ('{"outer": {"inner": 1, "inner": 2}}', "inner"),
        ('{"list": [{"id": 1, "id": 2}]}', "id"),
    ],
)
def test_a_key_named_twice_is_refused_at_any_depth(text, key):
    with pytest.raises(RepeatedFieldError) as raised:
        loads_without_repeated_keys(text)

    assert raised.value.message == f"The field '{key}' was sent more than once; send it once."


def test_distinct_keys_read_as_json_does():
    text = '{"a": 1, "b": {"a": 2}, "c": [{"a": 3}, {"a": 4}]}'

    assert loads_without_repeated_keys(text) == json.loads(text)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/_/oidc/mint-token", "/_/oidc/github/mint-token"])
def test_mint_token_refuses_a_repeated_token_key(client, path):
    response = client.post(
        path,
        data='{"token": "first.jwt.value", "token": "second"}',
        content_type="application/json",
    )

    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["code"] == "invalid-payload"
    assert error["description"] == "The field 'token' was sent more than once; send it once."


@pytest.mark.django_db
def test_a_body_nested_a_thousand_deep_is_refused_not_a_server_error(client):
    response = client.post(
        "/_/oidc/mint-token", data="[" * 1000 + "]" * 1000, content_type="application/json"
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "invalid-payload"
