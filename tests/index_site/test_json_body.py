import pytest
from django.test import RequestFactory

from index_site.json_body import (
    MAX_JSON_BODY_BYTES,
    MAX_JSON_DEPTH,
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


def _nested(depth: int, *, opener: str = "[", closer: str = "]") -> bytes:
    return (opener * depth + closer * depth).encode()


def _nested_objects(depth: int) -> bytes:
    return ('{"a":' * depth + "1" + "}" * depth).encode()


@pytest.mark.parametrize("make", [_nested, _nested_objects])
def test_nesting_up_to_the_limit_is_read_and_past_it_is_refused(make):
    inside = b'{"a": ' + make(MAX_JSON_DEPTH - 1) + b"}"
    assert read_json_object(_post(inside))["a"]

    with pytest.raises(JSONBodyError) as caught:
        read_json_object(_post(b'{"a": ' + make(MAX_JSON_DEPTH) + b"}"))
    assert caught.value.problem is JSONBodyProblem.TOO_DEEP
    assert caught.value.message == (
        f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep; send a flatter one."
    )


@pytest.mark.parametrize("depth", [1_000, 30_000])
def test_nesting_past_the_parsers_stack_is_refused_as_too_deep(depth):
    with pytest.raises(JSONBodyError) as caught:
        read_json_object(_post(_nested(depth)))
    assert caught.value.problem is JSONBodyProblem.TOO_DEEP


@pytest.mark.parametrize(
    ("body", "code_point"),
    [
        (b'{"token": "a\\u0000b"}', "U+0000"),
        (b'{"token": "\\ud800"}', "U+D800"),
        (b'{"token": "x\\udfff"}', "U+DFFF"),
        (b'{"a\\u0000": "value"}', "U+0000"),
        (b'{"outer": [{"inner": "\\udc00"}]}', "U+DC00"),
    ],
)
def test_text_the_database_cannot_store_is_refused_in_keys_and_values_at_any_depth(
    body, code_point
):
    with pytest.raises(JSONBodyError) as caught:
        read_json_object(_post(body))
    assert caught.value.problem is JSONBodyProblem.UNSTORABLE_TEXT
    assert caught.value.message == (
        f"The JSON body contains a character this index cannot store ({code_point}); "
        "remove it and try again."
    )


def test_a_surrogate_pair_is_one_character_and_is_read():
    assert read_json_object(_post(b'{"a": "\\ud83d\\ude00"}')) == {"a": "\U0001f600"}


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_constants_that_are_not_json_are_refused(constant):
    with pytest.raises(JSONBodyError) as caught:
        read_json_object(_post(b'{"a": ' + constant + b"}"))
    assert caught.value.problem is JSONBodyProblem.NOT_JSON


@pytest.mark.parametrize("problem", list(JSONBodyProblem))
def test_every_refusal_is_a_sentence(problem):
    bodies = {
        JSONBodyProblem.TOO_LARGE: b'"' + b"x" * MAX_JSON_BODY_BYTES + b'"',
        JSONBodyProblem.NOT_JSON: b"{",
        JSONBodyProblem.TOO_DEEP: _nested(MAX_JSON_DEPTH + 1),
        JSONBodyProblem.NOT_AN_OBJECT: b"[]",
        JSONBodyProblem.REPEATED_KEY: b'{"a": 1, "a": 2}',
        JSONBodyProblem.UNSTORABLE_TEXT: b'{"a": "\\u0000"}',
    }
    with pytest.raises(JSONBodyError) as caught:
        read_json_object(_post(bodies[problem]))
    assert caught.value.problem is problem
    assert caught.value.message[0].isupper()
    assert caught.value.message.endswith(".")
