"""History pages: filters, keyset pages that keep the filters, and the streamed export."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from auditlog.events import EventKind, EventType, kind_of
from auditlog.history import EVENTS_PER_PAGE, EXPORT_FIELDS
from auditlog.services import record_event
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
HISTORY = "/account/security-history/"


@pytest.fixture
def member(client):
    user = UserFactory()
    client.force_login(user)
    return user


def record(
    user, event_type=EventType.ACCOUNT_LOGIN_SUCCESS, ip="192.0.2.1", agent="uv/0.13.9", **data
):
    request = RequestFactory().get("/", REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)
    return record_event(event_type=event_type, actor=user, request=request, data=data)


def shown(response) -> list[str]:
    html = response.content.decode()
    return [part.split("</p>")[0] for part in html.split('<p class="sentence">')[1:]]


def test_every_event_type_has_a_kind():
    assert [event_type for event_type in EventType if kind_of(event_type) is None] == []


def test_pages_are_cut_by_event_id_and_keep_newer_and_older_links(client, member):
    events = [record(member, data_n=n) for n in range(EVENTS_PER_PAGE * 2 + 3)]

    first = client.get(HISTORY)
    assert len(shown(first)) == EVENTS_PER_PAGE
    oldest_on_first = events[-EVENTS_PER_PAGE]
    assert f"?before={oldest_on_first.pk}" in first.content.decode()

    second = client.get(HISTORY, {"before": oldest_on_first.pk})
    assert len(shown(second)) == EVENTS_PER_PAGE
    third = client.get(HISTORY, {"before": events[2].pk + 1})
    assert len(shown(third)) == 3
    assert ">Older</a>" not in third.content.decode()

    back = client.get(HISTORY, {"after": events[-EVENTS_PER_PAGE - 1].pk})
    assert len(shown(back)) == EVENTS_PER_PAGE
    assert ">Newer</a>" not in back.content.decode()


def test_the_kind_filter_and_the_problems_filter(client, member):
    record(member)
    record(member, EventType.ACCOUNT_LOGIN_FAILURE, reason="bad_password")
    record(member, EventType.ACCOUNT_API_TOKEN_ADDED, token_name="ci")

    tokens = client.get(HISTORY, {"kind": EventKind.TOKENS.value})
    problems = client.get(HISTORY, {"problems": "on"})

    assert shown(tokens) == ["API token &#x27;ci&#x27; created"]
    assert shown(problems) == ["Failed login (wrong password)"]


def test_the_date_and_address_filters(client, member):
    record(member, ip="198.51.100.7")
    record(member, ip="192.0.2.1")
    today = timezone.now().date()

    by_address = client.get(HISTORY, {"ip_address": "198.51.100.7"})
    tomorrow = client.get(HISTORY, {"since": str(today + timedelta(days=1))})

    assert len(shown(by_address)) == 1
    assert shown(tomorrow) == []
    assert "No events match these filters" in tomorrow.content.decode()


def test_invalid_filters_are_said_and_show_the_whole_history(client, member):
    record(member)

    response = client.get(HISTORY, {"since": "2026-02-01", "until": "2026-01-01"})

    assert "The end date is before the start date." in response.content.decode()
    assert len(shown(response)) == 1


def test_the_history_shows_only_the_user_s_own_events(client, member):
    record(UserFactory())

    assert shown(client.get(HISTORY)) == []


def test_export_as_json_lines_has_the_documented_fields_oldest_first(client, member):
    first = record(member)
    record(member, EventType.ACCOUNT_API_TOKEN_ADDED, token_name="ci")

    response = client.get(HISTORY + "export.jsonl")

    assert response["Content-Type"].startswith("application/jsonl")
    assert 'filename="security-history.jsonl"' in response["Content-Disposition"]
    rows = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert rows[0]["id"] == first.pk
    assert all(tuple(row) == EXPORT_FIELDS for row in rows)
    assert rows[1]["sentence"] == "API token 'ci' created"
    assert rows[1]["kind"] == "tokens"
    assert rows[1]["data"] == {"token_name": "ci"}


def test_export_as_csv_follows_the_filters_and_defuses_formulas(client, member):
    record(member, EventType.ACCOUNT_API_TOKEN_ADDED, token_name="ci", agent="=HYPERLINK(1)")
    record(member)

    response = client.get(HISTORY + "export.csv", {"kind": "tokens"})

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert tuple(rows[0]) == EXPORT_FIELDS
    assert len(rows) == 2
    assert rows[1][EXPORT_FIELDS.index("event_type")] == "account:api_token:added"
    # A cell that would start like a formula reaches the spreadsheet as text.
    assert rows[1][EXPORT_FIELDS.index("user_agent")] == "'=HYPERLINK(1)"


def test_export_refuses_invalid_filters_with_the_reason(client, member):
    response = client.get(HISTORY + "export.csv", {"ip_address": "not-an-ip"})

    assert response.status_code == 400
    assert "Enter a valid IPv4 or IPv6 address." in response.content.decode()


def test_export_needs_a_login(client):
    response = client.get(HISTORY + "export.jsonl")

    assert response.status_code == 302


def test_events_that_need_a_look_are_marked_and_counted_until_the_history_is_seen(client, member):
    other = UserFactory()
    record(member)
    record(member, EventType.ACCOUNT_API_TOKEN_REFUSED, token_name="ci", reason="expired")
    # A role given by someone else needs a look; one the user took themself does not.
    record_event(event_type=EventType.PROJECT_ROLE_ADD, actor=other, user=member, data={})
    record_event(event_type=EventType.PROJECT_ROLE_ADD, actor=member, data={})

    settings_page = client.get("/account/settings/").content.decode()
    assert "2 events need a look" in settings_page

    history = client.get(HISTORY).content.decode()
    assert history.count("Needs a look") == 2

    assert "need a look" not in client.get("/account/settings/").content.decode()
    record(member, EventType.ACCOUNT_TWO_FACTOR_METHOD_REMOVED, method="totp")
    assert "1 event needs a look" in client.get("/account/settings/").content.decode()


@pytest.mark.parametrize(
    ("run_url", "linked"),
    [
        ("https://github.com/acme/widget/actions/runs/1", True),
        ("javascript:alert(1)", False),
        ("data:text/html,x", False),
        ("//evil.example/", False),
        (["https://github.com/"], False),
    ],
)
def test_a_stored_ci_run_is_linked_only_over_http(run_url, linked):
    user = UserFactory()
    event = record_event(
        event_type=EventType.PROJECT_FILE_ADD,
        actor=user,
        data={"ci_run": {"repository": "acme/widget", "run_url": run_url}},
    )
    assert event.ci_run is not None
    assert event.ci_run["repository"] == "acme/widget"
    assert ("run_url" in event.ci_run) is linked
