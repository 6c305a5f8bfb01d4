"""Typed columns built straight from SQLite cells, and what frames share about kinds.

Cells go from the cursor into numpy object arrays and from there into
nullable ``Int64``, UTC datetimes and pandas strings, never row by row
through pandas, so a million events stay quick.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from ..dtypes import STRING
from ..kinds import KINDS, TURN_KINDS
from ..store.sqlite import sqlite3

TURNS = tuple(sorted(TURN_KINDS))


def kind_categories(present: Iterable[str]) -> list[str]:
    """The categories of a kind column: the catalogue's order, then any other kind present."""
    return [*KINDS, *sorted(set(present) - set(KINDS))]


def id_array(values: Sequence[Any]) -> pd.arrays.IntegerArray:
    """Ids (None allowed) as nullable Int64, without a per-item pandas conversion."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        return pd.arrays.IntegerArray(values.astype(np.int64), np.zeros(len(values), bool))
    floats = np.array(values, dtype=np.float64)  # None becomes NaN; ids stay exact < 2**53
    mask = np.isnan(floats)
    return pd.arrays.IntegerArray(np.where(mask, 0, floats).astype(np.int64), mask)


def utc_times(values: Sequence[str]) -> pd.DatetimeIndex:
    """ISO-8601 texts as UTC datetimes; none at all in microseconds, as rpkit stores them."""
    times = pd.to_datetime(pd.Index(values, dtype=object), utc=True, format="ISO8601")
    return times if len(times) else times.as_unit("us")


def object_array(values: Sequence[Any]) -> np.ndarray:
    """``values`` as a 1-d object array (lists stay single cells)."""
    return np.fromiter(values, dtype=object, count=len(values))


def query_cells(conn: sqlite3.Connection, sql: str, args: Sequence[Any], width: int) -> np.ndarray:
    """A query's cells as an (rows, width) object array, with no list of row tuples."""
    cells = np.fromiter(chain.from_iterable(conn.execute(sql, args)), dtype=object)
    return cells.reshape(-1, width)


def string_array(values: Any) -> pd.arrays.StringArray:
    """Strings (None allowed) as a pandas string array; pandas converts anything else."""
    arr = values if isinstance(values, np.ndarray) else object_array(values)
    try:
        return pd.arrays.StringArray(arr, dtype=STRING)
    except ValueError:
        return pd.array(arr, dtype=STRING)
