"""JSON text of projected rows and keys, exact for every value SQLite can hold."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from .tables import TableCode, table_code


def dumps(values: tuple | list) -> str:
    try:
        return orjson.dumps(values).decode()
    except TypeError:  # an int beyond 64 bits
        return json.dumps(list(values))


def decode(text: str) -> Any:
    try:
        return orjson.loads(text)
    except ValueError:  # NaN or Infinity, written by json.dumps
        return json.loads(text)


def row_json(table: str | TableCode, row: dict[str, Any] | None) -> str | None:
    """A row as JSON text of its values (None: no row)."""
    if row is None:
        return None
    code = table if isinstance(table, TableCode) else table_code(table)
    values = code.values_of(row)
    for i in code.float_at:
        v = values[i]
        if isinstance(v, float) and not math.isfinite(v):
            return json.dumps(list(values))
    return dumps(values)


def row_from_json(table: str, text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    return dict(zip(table_code(table).cols, decode(text), strict=True))
