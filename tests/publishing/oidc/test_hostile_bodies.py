"""Hostile JSON bodies sent to the trusted-publishing endpoints answer 422, never a 500.

Found by fuzzing from outside: 1,000 nested arrays raised RecursionError inside the JSON
parser, and a lone surrogate in the token string broke the JWT library's UTF-8 encoding.
"""

import pytest

from index_site.json_body import MAX_JSON_BODY_BYTES, MAX_JSON_DEPTH

ENDPOINTS = ["/_/oidc/mint-token", "/_/oidc/github/mint-token", "/_/oidc/burn-token"]
TOO_DEEP = f"nested more than {MAX_JSON_DEPTH} levels deep"
CANNOT_STORE = "contains a character this index cannot store"
# Each body, with what the refusal's description says.
HOSTILE_BODIES = {
    "arrays 1,000 deep": (b"[" * 1000 + b"]" * 1000, TOO_DEEP),
    "objects 1,000 deep": (b'{"token": ' * 1000 + b'"x"' + b"}" * 1000, TOO_DEEP),
    "a token nested past the limit": (
        b'{"token": ' + b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH + b"}",
        TOO_DEEP,
    ),
    "arrays as deep as the size cap allows": (
        b"[" * (MAX_JSON_BODY_BYTES // 2) + b"]" * (MAX_JSON_BODY_BYTES // 2),
        TOO_DEEP,
    ),
    "a lone surrogate in the token": (b'{"token": "eyJ\\ud800.x.y"}', "(U+D800)"),
    "a NUL in the token": (b'{"token": "eyJ\\u0000.x.y"}', "(U+0000)"),
    "a NUL in a key": (b'{"tok\\u0000en": "x"}', CANNOT_STORE),
    "NaN": (b'{"token": NaN}', "must be JSON"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(("body", "said"), HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_a_hostile_body_is_refused_as_an_invalid_payload(client, path, body, said):
    response = client.post(path, data=body, content_type="application/json")

    assert response.status_code == 422
    payload = response.json()
    assert payload["message"] == "Token request failed"
    error = payload["errors"][0]
    assert error["code"] == "invalid-payload"
    assert said in error["description"]
