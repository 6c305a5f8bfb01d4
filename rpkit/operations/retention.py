"""Retention: pruning old snapshots, after a preview, never the newest undo of a chat.

``prune_snapshots`` picks the snapshots beyond the newest ``keep`` (and, with
``older_than``, only those older than that), never the newest record of each
scope (each chat, and the whole history) unless it is named, plus any named
ones; without ``confirm`` it only says what would go. A pruned file is first
renamed to a temporary ``.partial`` name (never listed; removed by the next
writer if a crash strands it), the folder fsynced, then unlinked: a snapshot
is gone whole or still there whole, never half.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from os import PathLike
from pathlib import Path

import pandas as pd

from ..durable import fsync_dir
from ..errors import PruneError
from .record import RECORD
from .snapshot import list_snapshots
from .snapshot_files import data_dir_of


def _check_keep(keep: object) -> int | None:
    if keep is None:
        return None
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        raise PruneError(
            f"keep={keep!r} must be a whole number of snapshots to keep, 0 or more "
            "(e.g. keep=10); nothing was pruned"
        )
    return keep


def _check_age(older_than: object) -> timedelta | None:
    if older_than is None:
        return None
    if not isinstance(older_than, timedelta) or older_than < timedelta(0):
        raise PruneError(
            f"older_than={older_than!r} must be a timedelta of 0 or more "
            "(e.g. timedelta(days=30)); nothing was pruned"
        )
    return older_than


def _named(folder: Path, frame: pd.DataFrame, names: Sequence[str | PathLike[str]]) -> set[Path]:
    listed = {Path(p).resolve(): Path(p) for p in frame["path"]}
    out = set()
    for name in names:
        given = Path(name)
        path = (
            given if given.is_absolute() or given.parent != Path() else folder / given
        ).resolve()
        if path.parent != folder.resolve():
            raise PruneError(
                f"{name} is not in the snapshots folder {folder}; prune_snapshots removes only "
                "snapshots listed there (list_snapshots shows them); nothing was pruned"
            )
        if path not in listed:
            raise PruneError(
                f"{name} is not a snapshot listed in {folder}; nothing was pruned: pass a name "
                "list_snapshots shows"
            )
        out.add(listed[path])
    return out


def prune_snapshots(
    *,
    db_path: str | PathLike[str] | None = None,
    data_dir: str | PathLike[str] | None = None,
    keep: int | None = None,
    older_than: timedelta | None = None,
    snapshots: Sequence[str | PathLike[str]] = (),
    confirm: bool = False,
) -> pd.DataFrame:
    """Remove old snapshots of a history; return the rows (of ``list_snapshots``) that go.

    Goes: each snapshot beyond the newest ``keep`` that is also older than
    ``older_than`` (either may be left out), except the newest record of each
    scope, which goes only when named in ``snapshots``; and every snapshot
    named there (file names in the folder, or paths in it). Without
    ``confirm=True`` nothing is removed: the frame is the preview.
    """
    keep, age = _check_keep(keep), _check_age(older_than)
    if keep is None and age is None and not snapshots:
        raise PruneError(
            "prune_snapshots needs keep=, older_than= or snapshots= to say what goes; "
            "nothing was pruned"
        )
    if data_dir is None and db_path is None:
        raise PruneError(
            "prune_snapshots needs the history or its folder: pass db_path= or data_dir="
        )
    folder = data_dir_of(db_path or ".", data_dir) / "snapshots"
    frame = list_snapshots(folder.parent)
    named = _named(folder, frame, snapshots)
    goes = pd.Series(keep is not None or age is not None, index=frame.index)
    if keep is not None:
        goes &= frame.index < len(frame) - keep
    if age is not None:
        goes &= frame["taken_at"] < pd.Timestamp(datetime.now(UTC) - age)
    records = frame[frame["format"] == RECORD]
    newest = records.groupby(records["scope"].fillna(""), sort=False).tail(1).index
    goes[newest] = False
    goes |= frame["path"].isin(named)
    out = frame[goes].reset_index(drop=True)
    if confirm:
        for path in out["path"]:
            _remove_whole(Path(path))
    return out


def _remove_whole(path: Path) -> None:
    """Rename to a temporary name, fsync the folder, unlink: gone whole or there whole."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    os.replace(path, tmp)
    fsync_dir(path.parent)
    tmp.unlink()
    fsync_dir(path.parent)
