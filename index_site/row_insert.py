"""Inserting one model row with a statement built once per model, not once per row.

`Model.objects.create()` composes its INSERT anew for every row: for the few rows each upload
writes (release, file, filename, audit events) that composition cost more CPU than PostgreSQL
spent running the statements. The statement depends only on the model, so `insert_row` builds
it once per process and per database, and then only prepares each field's value as the ORM
would (`pre_save`, so `auto_now_add` and defaults apply, then `get_db_prep_save`).

Not a general replacement for `save()`: no signals are sent (no model written this way has a
receiver), and a column with a database default (`db_default`) is always left to the database.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models.expressions import Col
from django.db.models.fields import Field

M = TypeVar("M", bound=models.Model)


# PostgreSQL and SQLite (3.35 on) both return the new primary key, and the values the database
# chose for its defaults, from the INSERT itself.
_INSERT_SQL = "INSERT INTO {table} ({columns}) VALUES ({placeholders}) RETURNING {returning}"


@dataclass(frozen=True)
class _Insert:
    sql: str
    sent: tuple[Field, ...]  # the fields whose values the statement sends, in order
    # Each returned column: the attribute it sets, the column, the converters the ORM applies.
    returned: tuple[tuple[str, Col, tuple[Callable[..., Any], ...]], ...]


def _column_name(field: Field) -> str:
    assert field.column is not None  # noqa: S101 - a concrete field always has a column
    return field.column


@cache
def _insert_for(model: type[models.Model], alias: str) -> _Insert:
    """The INSERT of one `model` row on database `alias`."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    meta = model._meta
    sent: list[Field] = []
    returned: list[Field] = [meta.pk]
    for field in meta.local_concrete_fields:
        if field.db_default is not models.NOT_PROVIDED:
            returned.append(field)
        elif field is not meta.auto_field:
            sent.append(field)
    sql = _INSERT_SQL.format(
        table=quote(meta.db_table),
        columns=", ".join(quote(_column_name(field)) for field in sent),
        placeholders=", ".join(["%s"] * len(sent)),
        returning=", ".join(quote(_column_name(field)) for field in returned),
    )
    columns = [field.get_col(meta.db_table) for field in returned]
    return _Insert(
        sql=sql,
        sent=tuple(sent),
        returned=tuple(
            (
                column.target.attname,
                column,
                (*connection.ops.get_db_converters(column), *column.get_db_converters(connection)),
            )
            for column in columns
        ),
    )


def insert_row(instance: M, *, using: str = DEFAULT_DB_ALIAS) -> M:
    """INSERT `instance` (a new, unsaved row) and return it saved: its primary key and the
    columns the database filled in (`db_default`) set, as `Model.objects.create()` leaves them."""
    if not instance._state.adding:
        raise ValueError("insert_row takes a new row only.")
    connection = connections[using]
    insert = _insert_for(type(instance), using)
    values = [
        field.get_db_prep_save(field.pre_save(instance, add=True), connection)
        for field in insert.sent
    ]
    with connection.cursor() as cursor:
        cursor.execute(insert.sql, values)
        row = cursor.fetchone()
    for (attname, column, converters), raw in zip(insert.returned, row, strict=True):
        value = raw
        for converter in converters:
            value = converter(value, column, connection)
        setattr(instance, attname, value)
    instance._state.adding = False
    instance._state.db = using
    return instance
