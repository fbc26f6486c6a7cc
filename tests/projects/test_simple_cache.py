"""Simple pages served from the shared cache, keyed and tagged by the project's serial."""

import json

import pytest
from django.core.cache import cache
from django.db import transaction

from projects.documents import _RecentDocuments, recent_documents
from projects.models import Project
from projects.services.projects import bump_serial
from tests.factories import FileFactory, ProjectFactory, ReleaseFactory

JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
PAGE = "/simple/sample-project/"
ACCEPTS = [JSON_V1, HTML_V1, "text/html"]


@pytest.fixture
def project(db):
    project = ProjectFactory(name="Sample_Project", normalized_name="sample-project")
    release = ReleaseFactory(project=project, version="1.0")
    for number in range(5):
        FileFactory(release=release, filename=f"sample_project-1.0-py3{number}-none-any.whl")
    return project


def _add_file(project, filename, version="2.0"):
    """A file added the way every service adds one: its row and the serial in one transaction."""
    with transaction.atomic():
        FileFactory(release=ReleaseFactory(project=project, version=version), filename=filename)
        bump_serial(project=project)


@pytest.mark.parametrize("accept", ACCEPTS)
def test_cached_page_is_served_reading_only_the_project_row(
    client, project, accept, django_assert_num_queries
):
    first = client.get(PAGE, HTTP_ACCEPT=accept)

    with django_assert_num_queries(1):
        again = client.get(PAGE, HTTP_ACCEPT=accept)

    assert again.status_code == 200
    assert again.content == first.content
    assert again["Content-Type"] == first["Content-Type"]
    assert "sample_project-1.0-py34-none-any.whl" in again.content.decode()


@pytest.mark.parametrize("accept", ACCEPTS)
def test_conditional_request_is_304_after_one_query_even_when_not_cached(
    client, project, accept, django_assert_num_queries
):
    etag = client.get(PAGE, HTTP_ACCEPT=accept)["ETag"]
    # The cache may have lost the page (eviction, another replica's cache): 304 needs no page.
    cache.clear()
    recent_documents.clear()

    with django_assert_num_queries(1):
        response = client.get(PAGE, HTTP_ACCEPT=accept, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag


def test_each_format_has_its_own_etag(client, project):
    etags = {client.get(PAGE, HTTP_ACCEPT=accept)["ETag"] for accept in ACCEPTS}

    assert len(etags) == len(ACCEPTS)


@pytest.mark.parametrize("accept", ACCEPTS)
def test_a_change_gives_a_new_etag_and_the_new_page(client, project, accept):
    before = client.get(PAGE, HTTP_ACCEPT=accept)

    _add_file(project, "sample_project-2.0-py3-none-any.whl")

    after = client.get(PAGE, HTTP_ACCEPT=accept, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert "sample_project-2.0-py3-none-any.whl" in after.content.decode()
    assert "sample_project-2.0-py3-none-any.whl" not in before.content.decode()


def test_page_of_a_superseded_serial_is_never_served_again(client, project):
    """Every read after a change sees it, whichever format was cached before the change."""
    for accept in ACCEPTS:
        client.get(PAGE, HTTP_ACCEPT=accept)

    for number in range(3):
        filename = f"sample_project-2.{number}-py3-none-any.whl"
        _add_file(project, filename, version=f"2.{number}")
        for accept in ACCEPTS:
            assert filename in client.get(PAGE, HTTP_ACCEPT=accept).content.decode()


def test_cached_json_is_the_same_document_as_a_fresh_render(client, project):
    cached = client.get(PAGE, HTTP_ACCEPT=JSON_V1)
    cache.clear()
    recent_documents.clear()
    rendered = client.get(PAGE, HTTP_ACCEPT=JSON_V1)

    assert json.loads(cached.content) == json.loads(rendered.content)
    assert cached["ETag"] == rendered["ETag"]


@pytest.mark.parametrize("accept", ACCEPTS)
def test_page_tells_clients_and_cdns_how_to_cache_it(client, project, accept):
    response = client.get(PAGE, HTTP_ACCEPT=accept)
    not_modified = client.get(PAGE, HTTP_ACCEPT=accept, HTTP_IF_NONE_MATCH=response["ETag"])

    for answer in (response, not_modified):
        assert answer["Cache-Control"] == "max-age=0, must-revalidate"
        assert answer["Surrogate-Key"] == f"project-{project.pk}"
        assert "Accept" in answer["Vary"]


def test_a_project_created_again_does_not_match_the_old_page(client, project):
    """Same id and serial, as after a database is recreated: the old copy is not offered."""
    etag = client.get(PAGE, HTTP_ACCEPT=JSON_V1)["ETag"]
    project_id = project.pk
    project.delete()
    ProjectFactory(pk=project_id, name="Sample_Project", normalized_name="sample-project")

    conditional = client.get(PAGE, HTTP_ACCEPT=JSON_V1, HTTP_IF_NONE_MATCH=etag)
    plain = client.get(PAGE, HTTP_ACCEPT=JSON_V1)

    assert conditional.status_code == 200
    assert json.loads(conditional.content)["files"] == []
    assert json.loads(plain.content)["files"] == []


def test_serial_counts_each_change(project):
    for _ in range(3):
        with transaction.atomic():
            bump_serial(project=project)

    assert Project.objects.get(pk=project.pk).serial == 3


@pytest.mark.django_db(transaction=True)
def test_serial_is_only_bumped_inside_the_changes_transaction():
    project = ProjectFactory()

    with pytest.raises(RuntimeError, match="inside the transaction"):
        bump_serial(project=project)

    assert Project.objects.get(pk=project.pk).serial == 0


def test_page_lost_from_this_process_comes_from_the_shared_cache(
    client, project, django_assert_num_queries
):
    """Another replica, or this one after its own copies were dropped, reads the shared copy."""
    first = client.get(PAGE, HTTP_ACCEPT=JSON_V1)
    recent_documents.clear()

    with django_assert_num_queries(1):
        again = client.get(PAGE, HTTP_ACCEPT=JSON_V1)

    assert again.content == first.content


def test_documents_kept_in_the_process_stay_within_their_size():
    kept = _RecentDocuments(max_bytes=10)
    for key in "abcd":
        kept.put(key, b"xxxx")
    kept.put("huge", b"x" * 11)

    assert [kept.get(key) is not None for key in "abcd"] == [False, False, True, True]
    assert kept.get("huge") is None
