"""Single rows written in one plain statement, for the call path: the ORM compiles every `create()`
and `update()` again (and a phone number field parses its number again) on each call, which costs
more than the statement itself there. Here the SQL is built once per model and kept; the values are
prepared by each field as the ORM would, except plain integers and text (stored as given) and the
columns named `as_is`, which the caller passes already in their database form (an E.164 number
checked on the way in)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

from django.db import connection, models
from django.db.models import Field, Model

# Fields whose database value is the Python value itself (an int, a str), which psycopg
# takes as it is: preparing them through the field costs more than the statement's send.
_STORED_AS_GIVEN = frozenset(
    {
        models.BigIntegerField,
        models.IntegerField,
        models.PositiveIntegerField,
        models.PositiveSmallIntegerField,
        models.SmallIntegerField,
        models.CharField,
        models.TextField,
        models.ForeignKey,
        models.OneToOneField,
    }
)


@functools.cache
def _insert_sql(
    model: type[Model], attnames: frozenset[str], conflict: str | None, returning: bool
) -> tuple[str, tuple[tuple[Field[Any, Any], Callable[..., Any] | None], ...]]:
    fields = tuple(
        (f, None if type(f) in _STORED_AS_GIVEN else f.get_db_prep_save)
        for f in model._meta.concrete_fields
        if f.attname in attnames
    )
    unknown = attnames - {f.attname for f, _ in fields}
    if unknown:  # `account` for `account_id`, say: the column would silently stay NULL
        raise ValueError(f"{model.__name__} has no column for {', '.join(sorted(unknown))}")
    skipped = sorted(f.attname for f in _defaulted_in_python(model) if f.attname not in attnames)
    if skipped:  # the ORM would have set it; this statement would leave it NULL or fail
        raise ValueError(f"{model.__name__}: no value for {', '.join(skipped)}, which the model gives a default")
    quote = connection.ops.quote_name
    columns = ", ".join(quote(_column(f)) for f, _ in fields)
    on_conflict = f" ON CONFLICT ({quote(conflict)}) DO NOTHING" if conflict else ""
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608 - names from the model
        f"VALUES ({', '.join(['%s'] * len(fields))}){on_conflict}"
        + (f" RETURNING {quote(_column(model._meta.pk))}" if returning else "")
    )
    return sql, fields


def _defaulted_in_python(model: type[Model]) -> list[Field[Any, Any]]:
    """The columns the ORM fills in on a `create()` and the database does not: a `default` without a
    `db_default`, `auto_now` and `auto_now_add`. A plain insert must set each of them itself."""
    return [
        f
        for f in model._meta.concrete_fields
        if not f.primary_key
        and f.db_default is models.NOT_PROVIDED
        and (f.has_default() or getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False))
    ]


def _column(field: Field[Any, Any] | None) -> str:
    """A concrete field's column (every concrete field has one)."""
    assert field is not None and field.column is not None, "a concrete field has a column"
    return field.column


def row_insert(
    model: type[Model],
    values: dict[str, Any],
    *,
    as_is: frozenset[str] = frozenset(),
    on_conflict_skip: str | None = None,
    returning: bool = True,
) -> int | None:
    """Insert one row of `model` from `values` (by attribute name: `account_id`, not `account`) and
    return its primary key. Every column the model gives a default in Python must be in `values`
    (ValueError otherwise, checked once per set of columns), so a column added with a default is
    never silently left out of the call path's inserts. With `on_conflict_skip` (a unique column), a
    row whose value is taken is not inserted and None is returned; without it, the database's
    IntegrityError is raised (at the latest by the commit, in a `pipelined` block). `returning=False`
    reads no answer (nothing to wait for in a `pipelined` block) and returns None."""
    sql, fields = _insert_sql(model, frozenset(values), on_conflict_skip, returning)
    params = [
        values[f.attname] if prepare is None or f.attname in as_is else prepare(values[f.attname], connection)
        for f, prepare in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone() if returning else None
    return row[0] if row else None


@contextlib.contextmanager
def pipelined() -> Iterator[None]:
    """Statements executed in the block go to the server together, and the block waits once for all
    their answers when it ends: read the results after the block. On PostgreSQL this is psycopg's
    pipeline mode (an execute only queues its statement); the server still runs the statements one
    after the other, in order, each with its own snapshot. An error in any statement is raised when
    the block ends; nothing inside may catch it and go on."""
    connection.ensure_connection()
    # The errors the block's end raises are psycopg's own: turned into Django's (IntegrityError…),
    # as the ORM's statements raise them, so callers catch one kind.
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield
