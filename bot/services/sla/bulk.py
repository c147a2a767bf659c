"""Multi-row inserts for the SLA tick: one executemany per table, values converted as tortoise converts them.

A batch of reminders writes hundreds of outbox and timeline rows; building a tortoise model per row costs
more than the database does (about 85 µs each), so the tick inserts plain rows: `insert_many` takes dicts
of field values (missing fields get the model's defaults), `insert_rows` takes tuples already in the
driver's terms (the tick's hot path: `stamp` and `encoder` give the conversions). Runs on the caller's
connection (inside its transaction).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from functools import lru_cache
from typing import Any

from tortoise import connections
from tortoise.fields import DatetimeField, JSONField
from tortoise.models import Model

from bot.db import db_datetime

_PLAIN = (str, int, float, bool)


def db_value(model: type[Model], name: str, value: Any, *, sqlite: bool) -> Any:
    """A field value as the database driver takes it (None: the field's default)."""
    field = model._meta.fields_map[name]
    if value is None and field.default is not None:
        value = field.default() if callable(field.default) else field.default
    if isinstance(value, Enum):
        return value.value
    if value is None or (isinstance(value, _PLAIN) and not isinstance(field, JSONField)):
        return value  # what to_db_value would return, without its per-call overhead
    if isinstance(value, datetime):
        return db_datetime(value, sqlite=sqlite)
    return field.to_db_value(value, model)  # JSON and anything unusual: tortoise's own conversion


def insert_sql(model: type[Model], names: list[str], *, postgres: bool) -> str:
    """INSERT for the named fields of a model."""
    projection = model._meta.fields_db_projection
    columns = ", ".join(f'"{projection[n]}"' for n in names)
    marks = ", ".join(f"${i}" if postgres else "?" for i in range(1, len(names) + 1))
    return f'INSERT INTO "{model._meta.db_table}" ({columns}) VALUES ({marks})'


def converters(model: type[Model], names: list[str], *, sqlite: bool) -> list[Callable[[Any], Any]]:
    """One value converter per field (what `db_value` does, decided once per field instead of per value)."""
    return [_converter(model, name, sqlite=sqlite) for name in names]


def _converter(model: type[Model], name: str, *, sqlite: bool) -> Callable[[Any], Any]:
    field = model._meta.fields_map[name]
    if field.default is not None or isinstance(field, JSONField):
        return lambda value: db_value(model, name, value, sqlite=sqlite)  # defaults and JSON: the general way
    if isinstance(field, DatetimeField):
        if not sqlite:
            return _same
        return lambda value: None if value is None else str(value.astimezone(UTC))
    return _plain


def _same(value: Any) -> Any:
    return value


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


async def insert_many(model: type[Model], rows: Iterable[dict[str, Any]], *, with_pk: bool = False) -> int:
    """Insert rows given as {field name: value} in one executemany (asyncpg pipelines it; a multi-row
    INSERT measured no faster); the primary key comes from the database unless with_pk."""
    batch = list(rows)
    if not batch:
        return 0
    conn = connections.get("default")
    sqlite = conn.capabilities.dialect == "sqlite"
    pk = model._meta.pk_attr
    names = [n for n in model._meta.fields_db_projection if with_pk or n != pk]
    convert = list(zip(names, converters(model, names, sqlite=sqlite), strict=True))
    values = [[to_db(row.get(name)) for name, to_db in convert] for row in batch]
    await conn.execute_many(insert_sql(model, names, postgres=not sqlite), values)
    return len(values)


async def insert_rows(
    model: type[Model],
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    same: Mapping[str, Any] | None = None,
) -> int:
    """Insert rows whose values are already what the driver takes (`stamp`, `encoder`, enum values), in the
    order of the field names `names`; `same` gives columns whose value is the same in every row. Columns
    left out get NULL. PostgreSQL: one INSERT … SELECT FROM unnest(arrays), an array per varying column
    (a quarter less server time than an executemany of the same rows); SQLite: one executemany."""
    if not rows:
        return 0
    conn = connections.get("default")
    fixed = dict(same or {})
    if conn.capabilities.dialect == "postgres":
        sql = unnest_insert_sql(model, tuple(names), tuple(fixed))
        await conn.execute_query(sql, [*(list(c) for c in zip(*rows, strict=True)), *fixed.values()])
    else:
        extra = tuple(fixed.values())
        sql = insert_sql(model, [*names, *fixed], postgres=False)
        await conn.execute_many(sql, [(*row, *extra) for row in rows] if extra else rows)
    return len(rows)


@lru_cache(maxsize=64)
def unnest_insert_sql(model: type[Model], names: tuple[str, ...], same: tuple[str, ...] = ()) -> str:
    """INSERT INTO table (columns) SELECT … FROM unnest($1::type[], …) for PostgreSQL; the `same` columns
    come after the arrays as one parameter each."""
    projection = model._meta.fields_db_projection
    columns = ", ".join(f'"{projection[n]}"' for n in (*names, *same))
    arrays = ", ".join(f"${i}::{pg_type(model, n)}[]" for i, n in enumerate(names, start=1))
    values = [f"v{i}::jsonb" if _is_json(model, n) else f"v{i}" for i, n in enumerate(names, start=1)]
    values += [
        f"${i}::{'jsonb' if _is_json(model, n) else pg_type(model, n)}"
        for i, n in enumerate(same, start=len(names) + 1)
    ]
    aliases = ", ".join(f"v{i}" for i in range(1, len(names) + 1))
    return (
        f'INSERT INTO "{model._meta.db_table}" ({columns}) SELECT {", ".join(values)}'
        f" FROM unnest({arrays}) AS u({aliases})"
    )


def pg_type(model: type[Model], name: str) -> str:
    """The PostgreSQL type a field's values travel as (JSON and strings as text, cast on the way in)."""
    sql_type = str(model._meta.fields_map[name].get_for_dialect("postgres", "SQL_TYPE")).upper()
    if _is_json(model, name) or sql_type.startswith(("VARCHAR", "TEXT", "CHAR")):
        return "text"
    return sql_type.lower()


def _is_json(model: type[Model], name: str) -> bool:
    return isinstance(model._meta.fields_map[name], JSONField)


def is_sqlite() -> bool:
    """True when the current connection is SQLite's (datetimes are stored as text there)."""
    return connections.get("default").capabilities.dialect == "sqlite"


def stamp(value: datetime | None, *, sqlite: bool) -> Any:
    """A datetime as the driver takes it: tortoise's UTC text on SQLite, the datetime on PostgreSQL."""
    if value is None or not sqlite:
        return value
    return str(value.astimezone(UTC))


def encoder(model: type[Model], name: str) -> Callable[[Any], str]:
    """The JSON encoder tortoise uses for a JSON field (same text as the ORM would store). When that is
    json.dumps with fixed options, one JSONEncoder with those options (json.dumps builds one per call)."""
    field = model._meta.fields_map[name]
    assert isinstance(field, JSONField), f"{model.__name__}.{name} is not a JSON field"
    dumps = field.encoder
    if isinstance(dumps, functools.partial) and dumps.func is json.dumps and not dumps.args:
        return json.JSONEncoder(**dumps.keywords).encode
    return dumps  # type: ignore[return-value]
