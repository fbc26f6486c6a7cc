"""Every kind of event reads as one sentence with its facts, on the history pages too."""

from types import SimpleNamespace

import pytest

from auditlog.events import EventType
from auditlog.sentences import SENTENCES, sentence
from auditlog.services import record_event


def event(event_type: EventType, project_name: str = "", **data) -> SimpleNamespace:
    return SimpleNamespace(event_type=event_type.value, project_name=project_name, data=data)


def test_every_event_type_has_a_sentence():
    assert set(SENTENCES) == set(EventType)


@pytest.mark.parametrize("event_type", list(EventType), ids=[e.value for e in EventType])
def test_a_sentence_reads_well_without_any_recorded_fact(event_type):
    text = sentence(event(event_type))

    assert text
    assert text[0].isupper()
    for leftover in ("None", "''", "{", "  ", " :"):
        assert leftover not in text


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        (
            event(EventType.ACCOUNT_LOGIN_SUCCESS, method="passkey"),
            "Logged in with a passkey",
        ),
        (
            event(EventType.ACCOUNT_LOGIN_FAILURE, reason="bad_password"),
            "Failed login (wrong password)",
        ),
        (
            event(
                EventType.ACCOUNT_API_TOKEN_REFUSED,
                token_name="CI for maya-demo",
                reason="for project 'other' it is not scoped to",
            ),
            (
                "Refused: the API token 'CI for maya-demo' was used (for project 'other' it is not "
                "scoped to)"
            ),
        ),
        (
            event(
                EventType.PROJECT_FILE_ADD,
                project_name="maya-demo",
                version="0.2.0",
                filename="maya_demo-0.2.0-py3-none-any.whl",
                client='uv/0.13.9 {"installer":{"name":"uv"}}',
                token_name="CI for maya-demo",
                uploaded_via_trusted_publisher=False,
            ),
            (
                "maya-demo 0.2.0: maya_demo-0.2.0-py3-none-any.whl uploaded by uv 0.13.9 with the "
                "token 'CI for maya-demo'"
            ),
        ),
        (
            event(
                EventType.PROJECT_FILE_ADD,
                project_name="widget",
                version="1.0",
                filename="widget-1.0.tar.gz",
                client="twine/7.0.0 CPython/3.11.9",
                uploaded_via_trusted_publisher=True,
            ),
            "widget 1.0: widget-1.0.tar.gz uploaded by twine 7.0.0 through trusted publishing",
        ),
        (
            event(
                EventType.PROJECT_OIDC_PUBLISHER_ADDED,
                project_name="widget",
                publisher="GitHub acme/widget, workflow release.yml, environment release",
            ),
            (
                "Trusted publisher added to widget: GitHub acme/widget, workflow release.yml, "
                "environment release"
            ),
        ),
        (
            event(EventType.ACCOUNT_TWO_FACTOR_METHOD_ADDED, method="webauthn", label="YubiKey"),
            "Second factor added: security key 'YubiKey'",
        ),
        (
            event(
                EventType.PROJECT_ROLE_ADD,
                project_name="widget",
                target_user="maya",
                role="Maintainer",
            ),
            "maya became Maintainer of widget",
        ),
    ],
    ids=lambda value: value.event_type if isinstance(value, SimpleNamespace) else "",
)
def test_sentences_carry_the_facts_that_matter(recorded, expected):
    assert sentence(recorded) == expected


def test_an_unknown_event_type_reads_as_itself():
    assert sentence(SimpleNamespace(event_type="retired:kind", project_name="", data={})) == (
        "retired:kind"
    )


@pytest.mark.django_db
def test_the_security_history_shows_sentences_and_keeps_the_raw_type(client, user):
    record_event(event_type=EventType.ACCOUNT_LOGIN_SUCCESS, actor=user, data={"method": "totp"})
    client.force_login(user)

    page = client.get("/account/security-history/").content.decode()

    assert "Logged in with an authenticator app code" in page
    assert "account:login:success" in page
