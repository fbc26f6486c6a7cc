import pytest
from django.test import RequestFactory

from index_site.json_body import (
    MAX_JSON_BODY_BYTES,
    JSONBodyError,
    JSONBodyProblem,
    read_json_object,
)


def _post(body: bytes):
    return RequestFactory().post("/", data=body, content_type="application/json")


def test_a_json_object_is_read():
    assert read_json_object(_post(b'{"token": "abc"}')) == {"token": "abc"}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", JSONBodyProblem.NOT_JSON),
        (b"\xff\xfe", JSONBodyProblem.NOT_JSON),
        (b'["token"]', JSONBodyProblem.NOT_AN_OBJECT),
        (b'"token"', JSONBodyProblem.NOT_AN_OBJECT),
        (b'{"a": "' + b"x" * MAX_JSON_BODY_BYTES + b'"}', JSONBodyProblem.TOO_LARGE),
    ],
)
def test_a_body_that_is_not_a_small_json_object_is_refused(body, problem):
    with pytest.raises(JSONBodyError) as caught:
        read_json_object(_post(body))
    assert caught.value.problem is problem


def test_an_oversized_body_is_refused_even_when_its_declared_length_is_small():
    request = _post(b'{"a": "' + b"x" * 100 + b'"}')
    request.META["CONTENT_LENGTH"] = "10"
    with pytest.raises(JSONBodyError) as caught:
        read_json_object(request, max_bytes=50)
    assert caught.value.problem is JSONBodyProblem.TOO_LARGE
