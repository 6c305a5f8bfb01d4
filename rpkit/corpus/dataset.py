"""The corpus on disk: a hive-partitioned Parquet dataset, one partition per history.

``OUT/<table>/history=<name>/part-0.parquet`` for the tables ``events``,
``turns``, ``affinity`` and ``chats``. A partition is one file, written under a
temporary name in ``OUT/_tmp/`` (outside every table, so no reader lists it)
and renamed over the old one: a reader, or a process killed midway, sees the
old file or the new one, never half of one and never both. A corpus is derived
from its history files, so its files are not fsynced unless asked
(``durable=True``); after a power cut, ``readable`` finds a partition that
no longer opens, and rerunning the export or build rewrites it. Columns keep
the frames' pandas dtypes (pyarrow's pandas metadata); object columns (lists,
dicts, extra payload fields of mixed types) are stored as JSON text, named in
the file's ``rpkit.json`` metadata and decoded on reading, so a history reads
back equal to its frames.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..dtypes import STRING
from ..durable import fsync_dir, fsync_file, make_dirs
from .errors import CorpusPathError, HistoryNameError

TABLES = ("events", "turns", "affinity", "chats")
PART = "part-0.parquet"
TMP = "_tmp"
_SAFE = " @-_.,()+'!~#&;[]{}"  # kept as they are in a partition folder's name
_JSON_KEY = b"rpkit.json"
_SOURCE_KEY = b"rpkit.source"
_UNOPENED = (OSError, pa.ArrowException)  # a partition missing, empty or cut short


def partition_dir(out: Path, table: str, name: str) -> Path:
    """The folder of one history's partition of ``table``."""
    return out / table / f"history={quote(name, safe=_SAFE)}"


def check_name(name: str) -> str:
    """Refuse a history name that cannot be a partition (empty, hidden, a path)."""
    if not name or name.startswith((".", "_")) or "/" in name or "\\" in name:
        raise HistoryNameError(
            f"history name {name!r} cannot be a partition: it must be non-empty, must not "
            "start with '.' or '_' and must not hold a slash; rename the file"
        )
    return name


def check_out(out: Path, *, durable: bool = False) -> Path:
    """Create ``out`` if needed and make sure it is a folder this process can write to.

    ``durable``: a new corpus folder's name is fsynced into its parent, so that
    a durable export's fsynced partitions are not lost with the folder.
    """
    if out.exists() and not out.is_dir():
        raise CorpusPathError(f"the corpus folder {out} is a file; pass a folder (new or a corpus)")
    try:
        if durable:
            make_dirs(out)
        else:
            out.mkdir(parents=True, exist_ok=True)
        (out / TMP).mkdir(exist_ok=True)
        probe = out / TMP / f".probe-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise CorpusPathError(
            f"cannot write to the corpus folder {out} ({exc.strerror or exc}); "
            "choose a folder you can write to"
        ) from None
    return out


def temp_path(out: Path, name: str, suffix: str) -> Path:
    """A fresh temporary path in ``OUT/_tmp`` that says which host and process owns it."""
    host = socket.gethostname().replace("~", "-")
    return out / TMP / f"{host}~{os.getpid()}~{uuid.uuid4().hex}~{quote(name, safe='')}{suffix}"


def remove_stale_temps(out: Path) -> int:
    """Remove temporary files left by processes of this host that are gone; return how many."""
    removed = 0
    host = socket.gethostname().replace("~", "-")
    for path in list((out / TMP).glob("*~*")):
        parts = path.name.split("~", 3)
        if len(parts) < 4 or parts[0] != host or not parts[1].isdigit():
            continue
        try:
            os.kill(int(parts[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
            removed += 1
        except PermissionError:
            continue
    return removed


def _dtype_key(dtype: Any) -> Any:
    """What of a column's dtype its pandas metadata depends on (a categorical: its size)."""
    if isinstance(dtype, pd.CategoricalDtype):
        return ("category", len(dtype.categories), dtype.ordered)
    return dtype


@lru_cache(maxsize=256)
def _pandas_metadata(shape: tuple[tuple[str, Any], ...], columns_dtype: Any) -> bytes:
    """pyarrow's pandas metadata for frames of this shape, computed on an empty one.

    Histories share their frames' shapes, so this runs once per shape rather
    than once per partition (it costs about as much as converting the data).
    """
    empty = {}
    for name, key in shape:
        if isinstance(key, tuple):  # a categorical of that many categories
            key = pd.CategoricalDtype(pd.RangeIndex(key[1]), ordered=key[2])
        empty[name] = pd.Series([], dtype=key)
    frame = pd.DataFrame(empty)
    frame.columns = frame.columns.astype(columns_dtype)
    return pa.Schema.from_pandas(frame, preserve_index=False).metadata[b"pandas"]


_MASKED = (pd.arrays.IntegerArray, pd.arrays.BooleanArray, pd.arrays.FloatingArray)


def _column(values: pd.Series) -> pa.Array:
    """One column as an Arrow array, from the Series' own array (no pandas-compat pass).

    Text goes straight from its Python strings, nullable numbers from their
    values and mask, object cells (lists, dicts) as JSON text; categoricals
    and times take pyarrow's pandas path, which sets their Arrow types.
    """
    arr = values.array
    if isinstance(arr, pd.arrays.StringArray):
        return pa.array(np.asarray(arr), type=pa.string(), from_pandas=True)
    if isinstance(arr, _MASKED):
        return pa.array(arr)
    if isinstance(arr, pd.arrays.NumpyExtensionArray):
        cells = arr.to_numpy()
        if cells.dtype == object:
            text = [None if v is None else orjson.dumps(v).decode() for v in cells]
            return pa.array(text, type=pa.string())
        return pa.array(cells, from_pandas=True)  # a float NaN is null, as from_pandas has it
    return pa.array(values, from_pandas=True)


def to_arrow(frame: pd.DataFrame, *, source: str | None = None) -> pa.Table:
    """A frame as an Arrow table; object columns as JSON text, named in the metadata.

    The table is what ``pa.Table.from_pandas`` makes of the frame with its
    object columns as JSON text (``STRING``), pandas metadata included, so
    pandas and Dask read the dtypes back without rpkit. It is built
    column by column, with the metadata computed once per shape of frame.
    """
    names = frame.columns.tolist()  # once: a pandas 3 Index of text is slow to walk
    columns = list(zip(names, frame.dtypes.tolist(), strict=True))
    encoded = [n for n, d in columns if pd.api.types.is_object_dtype(d)]
    shape = tuple((n, STRING if n in encoded else _dtype_key(d)) for n, d in columns)
    meta = {
        b"pandas": _pandas_metadata(shape, frame.columns.dtype),
        _JSON_KEY: json.dumps(encoded).encode(),
    }
    if source is not None:
        meta[_SOURCE_KEY] = source.encode()
    arrays = [_column(values) for _, values in frame.items()]
    return pa.Table.from_arrays(arrays, names=names, metadata=meta)


def json_columns(schema: pa.Schema) -> list[str]:
    """The columns a partition stores as JSON text."""
    return json.loads((schema.metadata or {}).get(_JSON_KEY, b"[]"))


def recorded_source(out: Path, name: str) -> str | None:
    """The history file a corpus's history was exported from, by the first partition that says."""
    for table in ("chats", *TABLES):
        source = source_of(partition_dir(out, table, name) / PART)
        if source is not None:
            return source
    return None


def source_of(path: Path) -> str | None:
    """The history file a partition was exported from (as the exporter saw its path).

    None when the partition does not say, or does not open (see ``readable``).
    """
    try:
        value = (pq.read_schema(path).metadata or {}).get(_SOURCE_KEY)
    except _UNOPENED:
        return None
    return value.decode() if value is not None else None


def from_arrow(table: pa.Table) -> pd.DataFrame:
    """An Arrow table written by ``to_arrow`` as the frame it was made from."""
    encoded = [c for c in json_columns(table.schema) if c in table.column_names]
    frame = table.drop_columns(encoded).to_pandas()
    for col in frame.columns:  # text as rpkit's frames have it (pyarrow reads its own storage)
        dtype = frame[col].dtype
        if isinstance(dtype, pd.StringDtype) and dtype != STRING:
            frame[col] = frame[col].astype(STRING)
    for col in encoded:
        values = [None if v is None else orjson.loads(v) for v in table.column(col).to_pylist()]
        frame.insert(table.column_names.index(col), col, pd.Series(values, dtype=object))
    return frame


def write_partitions(
    out: Path, name: str, frames: dict[str, pd.DataFrame], source: str, *, durable: bool = False
) -> None:
    """Write a history's partitions atomically, each table's in the order of ``frames``.

    Every file is written under a temporary name before any is renamed into
    place. A reader sees a table's old partition or its new one, never half; a
    history is listed once the last table's partition is in place. ``durable``:
    the files are fsynced before the renames, and after them each partition's
    folder and the folders that hold one just created, so the new partitions
    also survive a power cut, at the price of waiting on the disk for each.
    """
    temps = {table: temp_path(out, name, f".{table}.parquet") for table in frames}
    changed: dict[Path, None] = {}  # folders whose entries the renames changed, in order
    try:
        for table, frame in frames.items():
            write_parquet(to_arrow(frame, source=source), temps[table])
        if durable:
            for tmp in temps.values():
                fsync_file(tmp)
        for table, tmp in temps.items():
            folder = partition_dir(out, table, name)
            for made in (folder.parent, folder):
                if not made.exists():
                    changed[made.parent] = None
            folder.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, folder / PART)
            changed[folder] = None
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
    if durable:
        for folder in changed:
            fsync_dir(folder)


def write_parquet(table: pa.Table, path: Path) -> None:
    """One partition file: statistics for the columns readers filter on, not for text.

    Min and max of numbers, times and flags let DuckDB, Polars or pyarrow skip
    a history's row group for a filter such as ``ts >= ...``; those of free
    text, and dictionaries of it, cost time in every write and help no reader.
    Dictionary encoding stays for the dictionary columns (``kind``, ``pair``).
    """
    plain = (pa.types.is_string, pa.types.is_large_string, pa.types.is_dictionary)
    pq.write_table(
        table,
        path,
        write_statistics=[f.name for f in table.schema if not any(t(f.type) for t in plain)],
        use_dictionary=[f.name for f in table.schema if pa.types.is_dictionary(f.type)],
    )


def read_partition(out: Path, table: str, name: str, columns: list[str] | None = None):
    """One history's partition of ``table`` as its frame (``columns``: only those)."""
    with pq.ParquetFile(partition_dir(out, table, name) / PART) as f:
        if columns is not None:
            present = set(f.schema_arrow.names)
            columns = [c for c in columns if c in present]
        return from_arrow(f.read(columns=columns))


def readable(out: Path, name: str) -> bool:
    """True when each of a history's four partitions opens: its Parquet footer parses.

    A file left empty or cut short (what a power cut can leave of a partition
    written without ``durable``) has no footer and fails to open.
    """
    try:
        for table in TABLES:
            pq.read_metadata(partition_dir(out, table, name) / PART)
    except _UNOPENED:
        return False
    return True


def list_histories(out: Path) -> list[str]:
    """The histories whose four partitions are all written, sorted by name."""
    names: set[str] | None = None
    for table in TABLES:
        folder = out / table
        found = (
            {
                unquote(d.name.split("=", 1)[1])
                for d in folder.iterdir()
                if d.name.startswith("history=") and (d / PART).is_file()
            }
            if folder.is_dir()
            else set()
        )
        names = found if names is None else names & found
    return sorted(names or ())


def history_file_name(path: Path) -> str:
    """The history name of a history file: its stem."""
    return check_name(path.stem)
