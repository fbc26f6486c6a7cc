"""insert_row writes the row `Model.objects.create()` would, with a statement built once."""

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from auditlog.models import AuditEvent
from index_site.model_statements import insert_row
from projects.models import Release
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def _columns(row) -> dict:
    """Every column of `row` as the database holds it, read back afresh."""
    fresh = type(row).objects.get(pk=row.pk)
    return {field.attname: getattr(fresh, field.attname) for field in fresh._meta.concrete_fields}


def test_the_row_is_the_one_create_writes():
    project, user = ProjectFactory(), UserFactory()
    values = {
        "project": project,
        "version": "1.0",
        "summary": "A widget",
        "metadata": {"name": "widget", "classifiers": ["Typing :: Typed"]},
        "uploaded_by": user,
    }

    inserted = insert_row(Release(canonical_version="1", **values))
    created = Release.objects.create(canonical_version="2", **values)

    written, expected = _columns(inserted), _columns(created)
    for differing in ("id", "canonical_version", "created_at"):
        assert written.pop(differing) != expected.pop(differing)
    assert written == expected
    # Defaults and auto_now_add are applied as create() applies them.
    assert inserted.yanked is False
    assert inserted.created_at is not None
    assert model_to_dict(inserted) == model_to_dict(Release.objects.get(pk=inserted.pk))


def test_the_primary_key_and_database_defaults_come_back_from_the_insert():
    project = ProjectFactory()

    event = insert_row(AuditEvent(event_type="project:create", project=project))

    stored = AuditEvent.objects.get()
    assert event.pk == stored.pk
    # recorded_at is the database's clock (db_default), never a value the caller sent.
    assert event.recorded_at == stored.recorded_at
    assert event.recorded_at is not None
    assert not event._state.adding


def test_the_statement_names_every_column_but_the_database_defaults():
    with CaptureQueriesContext(connection) as queries:
        insert_row(AuditEvent(event_type="project:create"))

    (insert,) = [query["sql"] for query in queries.captured_queries]
    sent = insert.split("VALUES")[0]
    for field in AuditEvent._meta.concrete_fields:
        quoted = connection.ops.quote_name(field.column)
        assert (quoted in sent) is (field.name not in ("id", "recorded_at")), field.name


def test_a_saved_row_is_refused():
    release = Release.objects.create(project=ProjectFactory(), version="1.0", canonical_version="1")

    with pytest.raises(ValueError, match="new row only"):
        insert_row(release)
