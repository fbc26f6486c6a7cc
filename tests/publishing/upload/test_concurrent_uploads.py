"""Races between uploads and the writes around them, with real threads on PostgreSQL.

Each race is made to happen every run, not by luck: one request is held at a query boundary
(a `connection.execute_wrapper` in its own thread, the database's own hook) while the other
request runs to its end, then let go.
"""

import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

import pytest
from django.db import connection, connections
from django.test import Client

from projects.models import File, Project, Role
from tests.factories import ProjectFactory, RoleFactory, TwoFactorUserFactory
from tests.publishing.upload.conftest import USER_AGENT, basic_auth
from tests.publishing.upload.dists import Dist, make_wheel, multipart_body
from tokens.models import ApiToken
from tokens.services import create_api_token, revoke_api_token

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
HOLD_TIMEOUT = 30  # seconds a held request waits before the test fails


@pytest.fixture(autouse=True)
def _require_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL: set DATABASE_URL=postgres://...")


def post_upload(dist: Dist, raw_token: str):
    body, content_type = multipart_body(
        dist.form(), filename=dist.filename, content=dist.content, content_type=None
    )
    return Client().generic(
        "POST",
        "/legacy/",
        body,
        content_type=content_type,
        HTTP_AUTHORIZATION=basic_auth(raw_token),
        HTTP_USER_AGENT=USER_AGENT,
    )


@contextmanager
def held_after(
    sql_fragment: str, *, reached: threading.Event, release: threading.Event, backend: dict
):
    """In this thread, stop after the first query containing `sql_fragment` that runs inside a
    transaction, until `release`.

    The held connection's server process id goes into `backend["pid"]` for the test to watch.
    """
    held = False

    def wrapper(execute, sql, params, many, context):
        nonlocal held
        result = execute(sql, params, many, context)
        if not held and sql_fragment in sql and context["connection"].in_atomic_block:
            held = True
            backend["pid"] = context["connection"].connection.info.backend_pid
            reached.set()
            if not release.wait(HOLD_TIMEOUT):
                raise TimeoutError("the held request was never let go")
        return result

    with connection.execute_wrapper(wrapper):
        yield


def wait_until_blocked_by(pid: int) -> bool:
    """Wait until some backend waits for a lock `pid` holds; False if none does in time."""
    deadline = time.monotonic() + HOLD_TIMEOUT
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                [pid],
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False


@contextmanager
def held_before(table_fragment: str, *, reached: threading.Event, release: threading.Event):
    """In this thread, stop before the first query naming `table_fragment` until `release`."""
    held = False

    def wrapper(execute, sql, params, many, context):
        nonlocal held
        if not held and table_fragment in sql:
            held = True
            reached.set()
            if not release.wait(HOLD_TIMEOUT):
                raise TimeoutError("the held request was never let go")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield


def run_in_thread(target: Callable[[], object], answers: dict, key: str) -> threading.Thread:
    def run() -> None:
        try:
            answers[key] = target()
        except Exception as error:  # noqa: BLE001 - the test asserts on it
            answers[key] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_an_owner_whose_identical_first_upload_races_itself_is_never_told_the_name_conflicts():
    owner = TwoFactorUserFactory()
    _row, raw = create_api_token(user=owner, name="ci", actor=owner)
    wheel = make_wheel(name="racing-pkg")
    reached, release = threading.Event(), threading.Event()
    answers: dict = {}

    def held_upload():
        # Held after it found no project, just before the name check (the prohibited names).
        with held_before("projects_prohibitedprojectname", reached=reached, release=release):
            return post_upload(wheel, raw)

    held = run_in_thread(held_upload, answers, "held")
    assert reached.wait(HOLD_TIMEOUT)
    first = post_upload(wheel, raw)  # creates the project and publishes the file
    release.set()
    held.join(HOLD_TIMEOUT)

    assert first.status_code == 200, first.content
    second = answers["held"]
    assert not isinstance(second, Exception), second
    assert second.status_code == 200, second.content
    assert "already uploaded with the same content" in second.content.decode()
    project = Project.objects.get(normalized_name="racing-pkg")
    assert list(Role.objects.filter(project=project).values_list("user", "role")) == [
        (owner.pk, Role.Kind.OWNER)
    ]
    assert File.objects.filter(release__project=project).count() == 1


def test_a_stranger_racing_an_owners_first_upload_is_still_refused():
    owner, stranger = TwoFactorUserFactory(), TwoFactorUserFactory()
    _row, owner_token = create_api_token(user=owner, name="ci", actor=owner)
    _row, stranger_token = create_api_token(user=stranger, name="ci", actor=stranger)
    reached, release = threading.Event(), threading.Event()
    answers: dict = {}

    def held_upload():
        with held_before("projects_prohibitedprojectname", reached=reached, release=release):
            return post_upload(make_wheel(name="racing-pkg", version="2.0"), stranger_token)

    held = run_in_thread(held_upload, answers, "held")
    assert reached.wait(HOLD_TIMEOUT)
    assert post_upload(make_wheel(name="racing-pkg"), owner_token).status_code == 200
    release.set()
    held.join(HOLD_TIMEOUT)

    refused = answers["held"]
    assert not isinstance(refused, Exception), refused
    assert refused.status_code == 403
    assert f"The user '{stranger.username}' isn't allowed to upload" in refused.content.decode()
    assert File.objects.count() == 1


def test_a_revocation_during_the_uploads_commit_waits_for_it_and_then_takes_effect():
    owner = TwoFactorUserFactory()
    token, raw = create_api_token(user=owner, name="ci", actor=owner)
    project = ProjectFactory(name="held-pkg", normalized_name="held-pkg")
    RoleFactory(project=project, user=owner, role=Role.Kind.OWNER)
    reached, release = threading.Event(), threading.Event()
    answers: dict = {}
    backend: dict = {}

    def held_upload():
        # Held inside the write transaction, just after the token's row was read (and locked).
        with held_after("tokens_apitoken", reached=reached, release=release, backend=backend):
            return post_upload(make_wheel(name="held-pkg"), raw)

    upload = run_in_thread(held_upload, answers, "upload")
    assert reached.wait(HOLD_TIMEOUT)
    revocation = run_in_thread(
        lambda: revoke_api_token(token=token, actor=owner, reason="leaked"), answers, "revoke"
    )
    blocked = wait_until_blocked_by(backend["pid"])
    release.set()
    upload.join(HOLD_TIMEOUT)
    revocation.join(HOLD_TIMEOUT)

    assert blocked, "the revocation did not wait for the upload holding the token's row"
    assert answers["upload"].status_code == 200, answers["upload"].content
    assert answers["revoke"] is None
    assert File.objects.filter(release__project=project).count() == 1
    assert not ApiToken.objects.filter(pk=token.pk).exists()


def test_two_files_of_a_new_release_uploaded_at_once_to_an_existing_project_both_publish():
    owner = TwoFactorUserFactory()
    _token, raw = create_api_token(user=owner, name="ci", actor=owner)
    project = ProjectFactory(name="matrix-pkg", normalized_name="matrix-pkg")
    RoleFactory(project=project, user=owner, role=Role.Kind.OWNER)
    serial = Project.objects.get(pk=project.pk).serial
    linux = make_wheel(name="matrix-pkg", version="2.0", tag="cp312-cp312-manylinux_2_17_x86_64")
    mac = make_wheel(name="matrix-pkg", version="2.0", tag="cp312-cp312-macosx_11_0_arm64")
    reached, release = threading.Event(), threading.Event()
    answers: dict = {}
    backend: dict = {}

    def held_upload():
        # Held inside its write transaction, under the project's row lock, before it creates
        # the release both files belong to.
        with held_after("tokens_apitoken", reached=reached, release=release, backend=backend):
            return post_upload(linux, raw)

    first = run_in_thread(held_upload, answers, "linux")
    assert reached.wait(HOLD_TIMEOUT)
    second = run_in_thread(lambda: post_upload(mac, raw), answers, "mac")
    # The second waits for the project's lock, then must see the release the first created.
    blocked = wait_until_blocked_by(backend["pid"])
    release.set()
    first.join(HOLD_TIMEOUT)
    second.join(HOLD_TIMEOUT)

    assert blocked, "the second upload did not wait for the first one's project lock"
    for key in ("linux", "mac"):
        assert not isinstance(answers[key], Exception), answers[key]
        assert answers[key].status_code == 200, answers[key].content
    assert project.releases.count() == 1
    assert sorted(
        File.objects.filter(release__project=project).values_list("filename", flat=True)
    ) == sorted([linux.filename, mac.filename])
    assert Project.objects.get(pk=project.pk).serial == serial + 2
