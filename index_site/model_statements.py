"""Writing and reading model rows with statements built once per model, not once per query.

`Model.objects.create()` and a queryset compose their SQL anew for every query: for the few
rows each upload writes (release, file, filename, audit events) and the token it reads with
its owner, that composition cost more CPU than PostgreSQL spent running the statements. What
the ORM composes there depends only on the model, so it is built here once per process and
per database; each value is still prepared as the ORM prepares it: on the way in `pre_save`
(so `auto_now_add` and defaults apply) then `get_db_prep_save`, on the way out the backend's
and the field's converters, then `Model.from_db`.

Not a general replacement for `save()`: no signals are sent (no model written this way has a
receiver), and a column with a database default (`db_default`) is always left to the database.
"""

from collections.abc import Callable, Sequence
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
class _Column:
    attname: str
    col: Col
    converters: tuple[Callable[..., Any], ...]  # as the ORM applies them to a value read

    def convert(self, value: Any, connection: Any) -> Any:
        for converter in self.converters:
            value = converter(value, self.col, connection)
        return value


def _column_name(field: Field) -> str:
    assert field.column is not None  # noqa: S101 - a concrete field always has a column
    return field.column


def _read_column(field: Field, alias: str) -> _Column:
    connection = connections[alias]
    col = field.get_col(field.model._meta.db_table)
    converters = (*connection.ops.get_db_converters(col), *col.get_db_converters(connection))
    return _Column(attname=field.attname, col=col, converters=converters)


@dataclass(frozen=True)
class _Insert:
    sql: str
    sent: tuple[Field, ...]  # the fields whose values the statement sends, in order
    returned: tuple[_Column, ...]  # the primary key, then the columns with database defaults


def _backend(alias: str) -> str:
    """Part of every statement's cache key besides the alias: a test may point an alias at
    another kind of database, whose quoting and converters differ."""
    return connections[alias].vendor


@cache
def _insert_for(model: type[models.Model], alias: str, backend: str) -> _Insert:
    """The INSERT of one `model` row on database `alias` (a `backend` database)."""
    quote = connections[alias].ops.quote_name
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
    return _Insert(
        sql=sql,
        sent=tuple(sent),
        returned=tuple(_read_column(field, alias) for field in returned),
    )


def insert_row(instance: M, *, using: str = DEFAULT_DB_ALIAS) -> M:
    """INSERT `instance` (a new, unsaved row) and return it saved: its primary key and the
    columns the database filled in (`db_default`) set, as `Model.objects.create()` leaves them."""
    if not instance._state.adding:
        raise ValueError("insert_row takes a new row only.")
    connection = connections[using]
    insert = _insert_for(type(instance), using, _backend(using))
    values = [
        field.get_db_prep_save(field.pre_save(instance, add=True), connection)
        for field in insert.sent
    ]
    with connection.cursor() as cursor:
        cursor.execute(insert.sql, values)
        row = cursor.fetchone()
    for column, raw in zip(insert.returned, row, strict=True):
        setattr(instance, column.attname, column.convert(raw, connection))
    instance._state.adding = False
    instance._state.db = using
    return instance


@cache
def _columns_for(
    model: type[models.Model], alias: str, backend: str, fields: frozenset[str] | None
) -> tuple[_Column, ...]:
    return tuple(
        _read_column(field, alias)
        for field in model._meta.concrete_fields
        if fields is None or field.attname in fields
    )


def select_list(
    model: type[models.Model],
    table_alias: str,
    *,
    fields: frozenset[str] | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> str:
    """The columns of `model` under `table_alias` (every one, or those of `fields`, by
    attribute name), in the order `row_instance` reads them."""
    quote = connections[using].ops.quote_name
    return ", ".join(
        f"{table_alias}.{quote(_column_name(column.col.target))}"
        for column in _columns_for(model, using, _backend(using), fields)
    )


def column_count(model: type[models.Model], *, using: str = DEFAULT_DB_ALIAS) -> int:
    """How many values of a row `select_list` names, with every column."""
    return len(_columns_for(model, using, _backend(using), None))


def row_instance(
    model: type[M],
    values: Sequence[Any],
    *,
    fields: frozenset[str] | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> M:
    """The `model` instance of a row read in `select_list`'s order (with the same `fields`), as
    a queryset builds it; a field left out is read when first used, as after `.only()`."""
    connection = connections[using]
    columns = _columns_for(model, using, _backend(using), fields)
    return model.from_db(
        using,
        [column.attname for column in columns],
        [column.convert(raw, connection) for column, raw in zip(columns, values, strict=True)],
    )
