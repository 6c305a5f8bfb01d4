"""Restoring a snapshot: a whole-file copy, or the state before a rewind record's rewind."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from .record_apply import put_back
from .snapshot import data_dir_of, read_snapshot_meta, resolve_snapshot, restore_copy


def restore_snapshot(
    *,
    db_path: str | PathLike[str],
    data_dir: str | PathLike[str] | None = None,
    snapshot: str | PathLike[str],
) -> Path:
    """Bring back the state ``snapshot`` describes, atomically; return what undoes it.

    ``data_dir`` (default: the history's folder) holds ``snapshots/``. A
    whole-file copy replaces the history's content; the current state is
    copied first and that copy is returned. A rewind record brings back the
    exact state before its rewind: events written since are taken away first,
    recorded in a new record (kind ``pre-restore``) which is returned, so
    restoring that one gives back the state before this restore. The snapshot
    is checked first (whole, of this history, of this schema version), and a
    refusal changes nothing.
    """
    data_dir = data_dir_of(db_path, data_dir)
    path = resolve_snapshot(data_dir, snapshot)
    if read_snapshot_meta(path)["format"] == "record":
        made = put_back(db_path=db_path, data_dir=data_dir, path=path, restore=True)
        assert made is not None
        return made
    return restore_copy(db_path=db_path, data_dir=data_dir, path=path)
