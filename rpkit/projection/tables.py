"""The SQL and the row accessors of each projected table, made once per table spec."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from ..store.schema import PROJECTED, Table

Getter = Callable[[dict[str, Any]], tuple]


def getter(cols: tuple[str, ...]) -> Getter:
    """A function that reads ``cols`` of a row dict as a tuple (one column too)."""
    if len(cols) == 1:
        (c,) = cols
        return lambda row: (row[c],)
    return itemgetter(*cols)


@dataclass(frozen=True)
class TableCode:
    """What the projection needs to read and write one table."""

    name: str
    cols: tuple[str, ...]
    key: tuple[str, ...]
    key_of: Getter
    values_of: Getter
    float_at: tuple[int, ...]  # REAL columns: orjson would write a non-finite float as null
    insert: str
    upsert: str
    select_one: str
    delete_one: str


_made: dict[str, tuple[Table, TableCode]] = {}


def _code(table: Table) -> TableCode:
    """The code of ``table``, made once per table spec (a re-registered table gets new code)."""
    made = _made.get(table.name)
    if made is not None and made[0] is table:
        return made[1]
    code = _make(table)
    _made[table.name] = (table, code)
    return code


def _make(table: Table) -> TableCode:
    name, cols, key = table.name, tuple(table.column_names), table.key
    insert = f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in key)
    conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    where = " AND ".join(f"{c} = ?" for c in key)
    return TableCode(
        name=name,
        cols=cols,
        key=key,
        key_of=getter(key),
        values_of=getter(cols),
        float_at=tuple(i for i, (_c, sql, _d) in enumerate(table.columns) if sql == "REAL"),
        insert=insert,
        upsert=f"{insert} ON CONFLICT ({', '.join(key)}) {conflict}",
        select_one=f"SELECT {', '.join(cols)} FROM {name} WHERE {where}",
        delete_one=f"DELETE FROM {name} WHERE {where}",
    )


def table_code(name: str) -> TableCode:
    return _code(PROJECTED[name])


def all_codes() -> dict[str, TableCode]:
    """Every projected table's code, in dependency order (built-ins, then extensions)."""
    return {name: _code(table) for name, table in PROJECTED.items()}
