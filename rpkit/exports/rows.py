"""Rows of an export written as JSON lines or Parquet, by the output's suffix.

JSON lines: one object a row (missing values ``null``, times ISO-8601 with
their zone). Parquet: one file with the columns' declared Arrow types, so an
empty export has the same schema as a full one. Both are what
``datasets.load_dataset("json" | "parquet", data_files=...)`` reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ..extras import require

ROW_FORMATS = {".jsonl": "jsonl", ".parquet": "parquet"}

# Column types, as names ``arrow_schema`` turns into Arrow types.
MESSAGE_LIST = "messages"  # [{role, content, name}]


def _arrow_type(kind: str):
    import pyarrow as pa

    if kind == MESSAGE_LIST:
        message = pa.struct(
            [("role", pa.string()), ("content", pa.string()), ("name", pa.string())]
        )
        return pa.list_(message)
    return {
        "str": pa.string(),
        "int": pa.int64(),
        "float": pa.float64(),
        "bool": pa.bool_(),
        "ts": pa.timestamp("us", tz="UTC"),
    }[kind]


def arrow_schema(columns: dict[str, str]):
    """The Arrow schema of an export's columns (name -> ``str``/``int``/... or ``messages``)."""
    import pyarrow as pa

    return pa.schema([(name, _arrow_type(kind)) for name, kind in columns.items()])


def python_columns(frame: pd.DataFrame) -> dict[str, list[Any]]:
    """Each column as a list of Python values, NA as None, times as datetimes."""
    out = {}
    for name in frame.columns:
        col = frame[name]
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            values = [None if pd.isna(v) else v.to_pydatetime() for v in col]
        else:
            values = col.astype(object).to_numpy()
            mask = pd.isna(col).to_numpy() if col.dtype != object else None
            values = [None if mask is not None and m else v for v, m in _zip_mask(values, mask)]
        out[name] = [v.item() if isinstance(v, np.generic) else v for v in values]
    return out


def _zip_mask(values: np.ndarray, mask: np.ndarray | None):
    if mask is None:
        return ((v, False) for v in values)
    return zip(values, mask, strict=True)


def to_arrow_table(frame: pd.DataFrame, columns: dict[str, str]):
    """``frame``'s export columns as an Arrow table of the declared types."""
    require("corpus", "pyarrow", part="a Parquet export")
    import pyarrow as pa

    schema = arrow_schema(columns)
    cols = python_columns(frame[list(columns)])
    return pa.Table.from_pydict(cols, schema=schema)


def write_rows(frame: pd.DataFrame, columns: dict[str, str], path: Path, fmt: str) -> None:
    """Write ``frame``'s export ``columns`` to ``path`` as ``fmt`` (``jsonl`` or ``parquet``)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(to_arrow_table(frame, columns), path)
        return
    cols = python_columns(frame[list(columns)])
    names = list(cols)
    with open(path, "wb") as f:
        for values in zip(*cols.values(), strict=True):
            f.write(orjson.dumps(dict(zip(names, values, strict=True))))
            f.write(b"\n")
