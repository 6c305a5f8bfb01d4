"""Splitting a large export into shards, read in a stream, never whole.

* a folder of chat files (a format with ``chat_files``, SillyTavern's ``.jsonl``):
  the chat files of each folder, ``shard_size`` files a shard (hard links in a
  shard folder, copies where links fail); one such file is one shard;
* one big JSON document holding a list of conversations (ShareGPT, ChatGPT):
  streamed with ``ijson``, ``shard_size`` conversations a shard (a JSON list);
* a JSON-lines file of conversations (ShareGPT ``.jsonl``, OpenAI ``messages``,
  the research datasets): ``shard_size`` lines a shard;
* a Parquet file or a folder of Parquet shards (the research datasets):
  ``shard_size`` rows a shard, cut from record batches (``.parquet`` shards);
* any JSON one as ``.gz`` or ``.zst``: decompressed as a stream while it is cut.

Shards go to ``OUT/_shards/<source name>/``, each written under a temporary name and renamed.
``manifest.json`` lists them once the whole source is split, with the source's
size and time and each shard's size: a rerun on the same source reuses the shards
without reading it, unless the manifest or a shard is not there whole.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import ijson
import orjson

from ..importers import FORMATS, Format
from ..importers.containers import COMPRESSED, kind, open_bytes, parquet_files
from .dataset import check_name, temp_path
from .errors import CorpusPathError, SourceError, SourceFormatError
from .repeats import Repeats, deduplicates

SHARDS = "_shards"


@dataclass
class Shard:
    """One piece of the source: its history name, its file (or folder), how many records."""

    name: str
    path: str
    records: int


@dataclass
class Split:
    """The shards of a source and the records left out (with ``skip_bad``), with reasons."""

    shards: list[Shard] = field(default_factory=list)
    bad: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)
    duplicated: list[str] = field(default_factory=list)  # where: a repeat of an earlier record


def _base(source: Path) -> str:
    """A source's name without its suffixes (``lmsys.jsonl.gz`` → ``lmsys``)."""
    if not source.is_file():
        return source.name
    name = source.name
    if source.suffix.lower() in COMPRESSED:
        name = name[: -len(source.suffix)]
    return Path(name).stem


def _dest(out: Path, source: Path) -> Path:
    """The folder of one source's shards: ``OUT/_shards/<source name>/``."""
    dest = out / SHARDS / check_name(_base(source))
    dest.mkdir(parents=True, exist_ok=True)
    return dest


def _rel(path: Path, out: Path) -> str:
    return path.relative_to(out).as_posix()


def _publish(tmp: Path, final: Path) -> None:
    if final.is_dir():
        shutil.rmtree(final)
    os.replace(tmp, final)


def _fingerprint(source: Path, fmt: str, shard_size: int, skip_bad: bool) -> dict[str, Any]:
    st = source.stat()
    return {
        "source": str(source.resolve()),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "format": fmt,
        "shard_size": shard_size,
        "skip_bad": skip_bad,
    }


def _bad(split: Split, skip_bad: bool, where: str, reason: str) -> None:
    if not skip_bad:
        raise SourceFormatError(
            f"{where}: {reason}; fix or remove it, or pass skip_bad=True (--skip-bad) to skip it"
        )
    split.bad.append((where, reason))


def _chat_file_problem(path: Path, fmt: Format) -> str | None:
    """Why a file in a folder of ``fmt`` chats is not one of its chats (None: it is)."""
    if path.suffix.lower() != fmt.chat_files:
        return f"not a {fmt.title} {fmt.chat_files} chat file (a {path.suffix or 'file without suffix'})"
    with open(path, "rb") as f:
        first = f.readline().strip()
    if not first:
        return "empty file"
    try:
        obj = orjson.loads(first)
    except orjson.JSONDecodeError:
        try:  # a chat file that is one (indented) JSON document
            obj = orjson.loads(path.read_bytes()) if path.stat().st_size < 64_000_000 else None
        except orjson.JSONDecodeError:
            obj = None
        if obj is None:
            return f"its first line is not JSON: not a {fmt.title} chat"
    if not isinstance(obj, dict) or not fmt.looks(obj):
        return f"its first line is not a {fmt.title} header or message (another app's export?)"
    return None


def _place(shard: Path, file: Path, fmt: Format) -> Path:
    """Where ``file`` goes in ``shard``: inside the enclosing folders its format reads names from."""
    kept = (
        Path(os.path.abspath(file)).parent.parts[1:][-fmt.chat_folders :]
        if fmt.chat_folders
        else ()
    )
    folder = shard.joinpath(*kept)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / file.name


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def split_chat_files(
    source: Path, out: Path, fmt: Format, shard_size: int, skip_bad: bool
) -> Split:
    """The chat files of each folder under ``source``, ``shard_size`` files a shard."""
    files = sorted(p for p in source.rglob("*") if p.is_file() and not p.name.startswith("."))
    split = Split()
    groups: dict[Path, list[Path]] = {}
    for p in files:
        problem = _chat_file_problem(p, fmt)
        if problem is not None:
            _bad(split, skip_bad, str(p.relative_to(source)), problem)
        else:
            groups.setdefault(p.parent, []).append(p)
    if not groups:
        raise SourceError(f"{source} holds no {fmt.title} {fmt.chat_files} chat files")
    for folder, members in groups.items():
        rel = folder.relative_to(source).as_posix()
        stem = source.name if rel == "." else f"{source.name}_{rel.replace('/', '_')}"
        for i in range(0, len(members), shard_size):
            name = check_name(f"{stem}-{i // shard_size:05d}")
            tmp = temp_path(out, name, ".shard")
            tmp.mkdir()
            for p in members[i : i + shard_size]:
                _link(p, _place(tmp, p, fmt))
            final = _dest(out, source) / name
            _publish(tmp, final)
            split.shards.append(Shard(name, _rel(final, out), len(members[i : i + shard_size])))
    return split


def split_chat_file(source: Path, out: Path, fmt: Format) -> Split:
    """One chat file: one shard."""
    name = check_name(source.stem)
    tmp = temp_path(out, name, ".shard")
    tmp.mkdir()
    _link(source, _place(tmp, source, fmt))
    final = _dest(out, source) / name
    _publish(tmp, final)
    return Split([Shard(name, _rel(final, out), 1)])


def _write_json_shard(out: Path, source: Path, name: str, records: list[Any], split: Split) -> None:
    tmp = temp_path(out, name, ".json")
    tmp.write_bytes(orjson.dumps(records))
    final = _dest(out, source) / f"{name}.json"
    os.replace(tmp, final)
    split.shards.append(Shard(name, _rel(final, out), len(records)))


def _items(source: Path) -> Iterator[Any]:
    with open_bytes(source) as f:
        head = f.read(64).lstrip()
    with open_bytes(source) as f:
        if head.startswith(b"{"):  # one conversation, not a list
            yield from ijson.items(f, "", use_float=True)
        elif head.startswith(b"["):
            yield from ijson.items(f, "item", use_float=True)
        else:
            raise SourceFormatError(f"{source.name} is not a JSON list of conversations")


def split_json(source: Path, out: Path, shard_size: int, skip_bad: bool, repeats: Repeats) -> Split:
    """A JSON list of conversations, streamed, ``shard_size`` conversations a shard."""
    split, batch, n = Split(), [], 0
    try:
        for i, item in enumerate(_items(source)):
            if not isinstance(item, dict):
                _bad(split, skip_bad, f"{source.name} record {i}", "not a conversation object")
                continue
            if repeats.repeated(item):
                split.duplicated.append(f"{source.name} record {i}")
                continue
            batch.append(item)
            if len(batch) == shard_size:
                _write_json_shard(out, source, check_name(f"{_base(source)}-{n:05d}"), batch, split)
                batch, n = [], n + 1
    except ijson.JSONError as exc:
        raise SourceFormatError(f"{source.name} is not valid JSON ({exc})") from None
    except (EOFError, OSError) as exc:
        raise SourceFormatError(f"{source.name} is cut off or damaged ({exc})") from None
    if batch:
        _write_json_shard(out, source, check_name(f"{_base(source)}-{n:05d}"), batch, split)
    return split


def split_lines(
    source: Path, out: Path, shard_size: int, skip_bad: bool, repeats: Repeats
) -> Split:
    """A JSON-lines file, one conversation a line, ``shard_size`` lines a shard."""
    split, n = Split(), 0
    tmp, f, count = None, None, 0

    def close() -> None:
        nonlocal tmp, f, count, n
        if f is not None:
            f.close()
            name = check_name(f"{_base(source)}-{n:05d}")
            final = _dest(out, source) / f"{name}.jsonl"
            os.replace(tmp, final)
            split.shards.append(Shard(name, _rel(final, out), count))
            tmp, f, count, n = None, None, 0, n + 1

    with open_bytes(source) as lines:
        for number, line in enumerate(_guarded(lines, source), start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                record = None
            if not isinstance(record, dict):
                _bad(split, skip_bad, f"{source.name} line {number}", "not a JSON object")
                continue
            if repeats.repeated(record):
                split.duplicated.append(f"{source.name} line {number}")
                continue
            if f is None:
                tmp = temp_path(out, f"{_base(source)}-{n:05d}", ".jsonl")
                f = open(tmp, "wb")  # noqa: SIM115 (closed by close())
            f.write(line if line.endswith(b"\n") else line + b"\n")
            count += 1
            if count == shard_size:
                close()
    close()
    return split


def _guarded(lines, source: Path) -> Iterator[bytes]:
    """The lines of a (decompressed) stream; a cut-off .gz or .zst is a SourceFormatError."""
    try:
        yield from lines
    except (EOFError, OSError) as exc:
        raise SourceFormatError(f"{source.name} is cut off or damaged ({exc})") from None


def split_parquet(source: Path, out: Path, shard_size: int, repeats: Repeats) -> Split:
    """A Parquet file (or folder of them), ``shard_size`` rows a shard, read a batch at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    split, n = Split(), 0
    files = parquet_files(source)
    for file in files:
        prefix, row = f"{file.name} " if len(files) > 1 else f"{source.name} ", 0
        try:
            reader = pq.ParquetFile(file, pre_buffer=False, buffer_size=1 << 20)
            batches = reader.iter_batches(batch_size=shard_size)
            for batch in batches:
                if repeats.active:
                    keep = [not repeats.repeated(r) for r in batch.to_pylist()]
                    split.duplicated += [
                        f"{prefix}row {row + i}" for i, k in enumerate(keep) if not k
                    ]
                    row += batch.num_rows
                    batch = batch.filter(pa.array(keep))
                    if batch.num_rows == 0:
                        continue
                name = check_name(f"{_base(source)}-{n:05d}")
                tmp = temp_path(out, name, ".parquet")
                pq.write_table(pa.Table.from_batches([batch]), tmp)
                final = _dest(out, source) / f"{name}.parquet"
                os.replace(tmp, final)
                split.shards.append(Shard(name, _rel(final, out), batch.num_rows))
                n += 1
        except (pa.ArrowException, OSError) as exc:
            raise SourceFormatError(f"{file.name} is not a readable Parquet file ({exc})") from None
    return split


def _bytes(path: Path) -> int:
    """A shard's size: its file's, or the sum of its folder's files."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir())
    return path.stat().st_size


def _saved_split(manifest: Path, out: Path, stamp: dict[str, Any]) -> Split | None:
    """The split an earlier run's manifest lists, if every shard is still there whole.

    None (split again) when there is no manifest, or it does not parse, or a
    shard is missing or not of the size listed: what a power cut can leave of
    files written without fsync. A manifest of another source is refused.
    """
    try:
        saved = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict):
        return None
    if saved.get("stamp") != stamp:
        was = saved.get("stamp") or {}
        raise CorpusPathError(
            f"{manifest.parent} holds the shards of {was.get('source')} ({was.get('format')}"
            f", shard_size {was.get('shard_size')}); that source changed, or this is another "
            "source of the same name or another shard size: build into a new folder"
        )
    for s in saved["shards"]:
        path = out / s["path"]
        if not path.exists() or s.get("bytes") not in (None, _bytes(path)):
            return None
    shards = [Shard(s["name"], s["path"], s["records"]) for s in saved["shards"]]
    return Split(shards, [tuple(b) for b in saved["bad"]], list(saved.get("duplicated", [])))


def split_source(source: Path, out: Path, format: str, shard_size: int, skip_bad: bool) -> Split:
    """Split ``source`` into shards under ``OUT/_shards`` (or reuse those of an earlier run)."""
    fmt = FORMATS[format]
    manifest = _dest(out, source) / "manifest.json"
    stamp = _fingerprint(source, fmt.name, shard_size, skip_bad)
    saved = _saved_split(manifest, out, stamp)
    if saved is not None:
        return saved
    repeats = Repeats(deduplicates(fmt.name))
    if kind(source) == "parquet" and (source.is_file() or any(source.glob("*.parquet"))):
        split = split_parquet(source, out, shard_size, repeats)
    elif source.is_dir():
        if not fmt.chat_files:
            by_files = [f.title for f in FORMATS.values() if f.chat_files and f.shards]
            raise SourceFormatError(
                f"{source} is a folder: only {' and '.join(by_files)} chats come as a folder; "
                f"pass the {fmt.name} export file"
            )
        split = split_chat_files(source, out, fmt, shard_size, skip_bad)
    elif fmt.chat_files:  # one chat file: one shard
        problem = _chat_file_problem(source, fmt)
        if problem is not None:
            raise SourceFormatError(f"{source.name}: {problem}")
        split = split_chat_file(source, out, fmt)
    elif kind(source) == "jsonl":
        split = split_lines(source, out, shard_size, skip_bad, repeats)
    else:
        split = split_json(source, out, shard_size, skip_bad, repeats)
    tmp = temp_path(out, "manifest", ".json")
    shards = [asdict(s) | {"bytes": _bytes(out / s.path)} for s in split.shards]
    body = {"stamp": stamp, "shards": shards, "bad": split.bad, "duplicated": split.duplicated}
    tmp.write_text(json.dumps(body, indent=1))
    os.replace(tmp, manifest)
    return split
