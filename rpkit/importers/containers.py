"""The containers a dataset comes in, read as a stream of records: never whole.

* ``.parquet``, or a folder of Parquet shards (``*.parquet``, in name order):
  read in record batches with pyarrow, a row is a record;
* ``.jsonl`` (JSON lines): a line is a record;
* ``.json``: a top-level list (streamed with ijson, an item is a record) or one
  object (one record);
* any of the JSON ones as ``.gz`` or ``.zst``, decompressed as a stream.

``records(path)`` yields ``(where, record)``: ``where`` names the record for
messages ("line 12", "record 3", "part-0001.parquet row 40"). A file that is
cut off (a truncated ``.gz`` or ``.zst``) or is not what its name says gives an
``ImportFormatError`` naming the file. Parquet and ``.zst`` need the
``datasets`` extra (pyarrow, zstandard), a JSON list ijson.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson

from ..errors import ImportFormatError
from ..extras import require

COMPRESSED = (".gz", ".zst")
BATCH_ROWS = 256  # rows of a Parquet record batch (1,024 rows of 10 KB peaked ~40 MB higher)
CHUNK = 1 << 20  # bytes read from a compressed file at a time


def kind(path: Path) -> str:
    """``parquet``, ``jsonl`` or ``json``: what ``path`` holds once decompressed."""
    if path.is_dir():
        return "parquet"
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    if suffixes and suffixes[-1] in COMPRESSED:
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last == ".parquet":
        return "parquet"
    return "jsonl" if last in (".jsonl", ".ndjson") else "json"


def compression(path: Path) -> str | None:
    """``.gz``, ``.zst`` or None."""
    suffix = path.suffix.lower()
    return suffix if suffix in COMPRESSED else None


def is_container(path: Path) -> bool:
    """Whether ``path`` is a container only this module reads (Parquet, compressed)."""
    return (
        path.is_dir()
        and any(path.glob("*.parquet"))
        or (path.is_file() and (kind(path) == "parquet" or compression(path) is not None))
    )


class _Zstd(io.RawIOBase):
    """A ``.zst`` file as a raw stream of its frames; a frame cut off raises EOFError."""

    def __init__(self, path: Path) -> None:
        require("datasets", "zstandard", part="reading .zst files")
        import zstandard

        self._zstd = zstandard
        self._file = open(path, "rb")  # noqa: SIM115 (closed by close())
        self._dobj = zstandard.ZstdDecompressor().decompressobj()
        self._started = False  # the current frame has had input
        self._buf = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        chunk = self._file.read(CHUNK)
        if not chunk:
            self._done = True
            if self._started:
                raise EOFError("the compressed stream ends before its end marker")
            return
        self._started = True
        try:
            out = self._dobj.decompress(chunk)
            while self._dobj.eof:  # a frame ended: the rest of the chunk starts the next
                rest = self._dobj.unused_data
                self._dobj = self._zstd.ZstdDecompressor().decompressobj()
                self._started = bool(rest)
                if not rest:
                    break
                out += self._dobj.decompress(rest)
        except self._zstd.ZstdError as exc:
            raise EOFError(f"not zstandard data ({exc})") from None
        self._buf = out

    def readinto(self, target) -> int:
        while not self._buf and not self._done:
            self._fill()
        n = min(len(target), len(self._buf))
        target[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


def open_bytes(path: Path):
    """A binary stream of ``path``'s content, decompressed on the fly."""
    comp = compression(path)
    if comp == ".gz":
        return gzip.open(path, "rb")
    if comp == ".zst":
        return io.BufferedReader(_Zstd(path), CHUNK)
    return open(path, "rb")  # noqa: SIM115 (the caller closes it)


def cut_off(path: Path, exc: BaseException) -> ImportFormatError:
    """The error for a compressed file that ends early or is not what its suffix says."""
    return ImportFormatError(
        f"{path.name}: the {compression(path) or 'file'} data is cut off or damaged ({exc}); "
        "download or compress it again"
    )


_DAMAGED = (EOFError, gzip.BadGzipFile, zlib.error)


def _lines(path: Path) -> Iterator[tuple[str, Any]]:
    with open_bytes(path) as handle:
        n = 0
        try:
            for n, raw in enumerate(handle, start=1):  # noqa: B007 (n names the record)
                if not raw.strip():
                    continue
                yield f"line {n}", _loads(raw, path, f"line {n}", n == 1)
        except _DAMAGED as exc:
            raise cut_off(path, exc) from None


def _loads(raw: bytes, path: Path, where: str, first: bool) -> Any:
    if first and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return BadRecord(f"not JSON ({exc})")


class BadRecord:
    """A record that could not be parsed: the reader reports it (or skips it)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _json(path: Path) -> Iterator[tuple[str, Any]]:
    require("datasets", "ijson", part="reading a JSON list as a stream")
    import ijson

    with open_bytes(path) as handle:
        try:
            head = handle.peek(64)[:64] if hasattr(handle, "peek") else b""
            head = head.lstrip(b"\xef\xbb\xbf \t\r\n")
            if head.startswith(b"{"):
                for obj in ijson.items(handle, "", use_float=True):
                    yield "record 0", obj
                return
            if not head.startswith(b"["):
                raise ImportFormatError(
                    f"{path.name}: not a JSON list of records or one JSON object"
                )
            for i, obj in enumerate(ijson.items(handle, "item", use_float=True)):
                yield f"record {i}", obj
        except ijson.JSONError as exc:
            raise ImportFormatError(
                f"{path.name}: not valid JSON ({exc}); the file looks damaged or cut off"
            ) from None
        except _DAMAGED as exc:
            raise cut_off(path, exc) from None


def _plain(value: Any) -> Any:
    """Parquet values as JSON would give them (times as ISO text)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def parquet_files(path: Path) -> list[Path]:
    """The Parquet file, or the shards of a folder of them in name order."""
    if path.is_dir():
        files = sorted(p for p in path.glob("*.parquet") if p.is_file())
        if not files:
            raise ImportFormatError(f"{path.name}: the folder holds no .parquet files")
        return files
    return [path]


def _parquet(path: Path) -> Iterator[tuple[str, Any]]:
    require("datasets", "pyarrow", part="reading Parquet")
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = parquet_files(path)
    for file in files:
        prefix = f"{file.name} " if len(files) > 1 else ""
        try:
            reader = pq.ParquetFile(file, pre_buffer=False, buffer_size=CHUNK)
        except (pa.ArrowException, OSError) as exc:
            raise ImportFormatError(f"{file.name}: not a Parquet file ({exc})") from None
        row = 0
        try:
            for batch in reader.iter_batches(batch_size=BATCH_ROWS):
                for record in batch.to_pylist():
                    yield f"{prefix}row {row}", _plain(record)
                    row += 1
        except (pa.ArrowException, OSError) as exc:
            raise ImportFormatError(
                f"{file.name}: row {row}: the Parquet data is damaged ({exc})"
            ) from None


def records(path: Path) -> Iterator[tuple[str, Any]]:
    """``(where, record)`` of every record of ``path``, one at a time.

    A line that is not JSON gives a ``BadRecord`` as its record (the reader
    refuses it or, with ``skip_bad``, skips it).
    """
    if not path.exists():
        raise ImportFormatError(f"{path}: no such file or folder")
    what = kind(path)
    if what == "parquet":
        return _parquet(path)
    if what == "jsonl":
        return _lines(path)
    return _json(path)


def first_record(path: Path) -> Any:
    """The first record of ``path`` (None if it has none or cannot be read)."""
    try:
        for _where, record in records(path):
            return None if isinstance(record, BadRecord) else record
    except ImportFormatError:
        return None
    return None
