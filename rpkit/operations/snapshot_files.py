"""The snapshots folder: where a history's snapshots live, their names, and leftovers.

Whole-file copies (``snapshot.py``) and rewind records (``record.py``) are
written into ``data_dir/snapshots/`` under a temporary ``.NAME.PID.partial``
name and renamed into place; a writer killed mid-write leaves such a file,
which is never listed and which the next writer removes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike
from pathlib import Path

from ..durable import fsync_dir, fsync_file, make_dirs
from ..errors import SnapshotDirError, SnapshotError
from ..store.sqlite import sqlite3

SUFFIX = ".sqlite"


def data_dir_of(db_path: str | PathLike[str], data_dir: str | PathLike[str] | None = None) -> Path:
    """The folder whose ``snapshots/`` holds a history's snapshots: ``data_dir``, else its own."""
    return Path(data_dir) if data_dir is not None else Path(db_path).resolve().parent


def snapshot_dir(data_dir: str | PathLike[str]) -> Path:
    """The folder that holds a history's snapshots (created if missing, durably)."""
    folder = Path(data_dir) / "snapshots"
    try:
        make_dirs(folder)
    except OSError as exc:
        raise SnapshotDirError(
            f"cannot create the snapshot folder {folder} ({exc.strerror or exc}); "
            "pass a data_dir you can write to"
        ) from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SnapshotDirError(
            f"the snapshot folder {folder} is not writable; fix its permissions or pass "
            "another data_dir"
        )
    return folder


_PARTIAL = re.compile(r"^\..+\.(\d+)\.partial(-journal|-wal|-shm)?$")


def remove_dead_partials(folder: Path) -> None:
    """Delete temporary files left by snapshot writers that were killed mid-write.

    A ``.partial`` name carries its writer's pid; files of a live process (this one
    included) are left alone. They are never listed or restorable either way.
    """
    for path in folder.glob(".*.partial*"):
        match = _PARTIAL.match(path.name)
        pid = int(match.group(1)) if match else 0
        if not 1 < pid < 2**22 or pid == os.getpid():  # not a name take_snapshot writes
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except OSError:  # alive, owned by someone else
            continue


def unlink_partial(tmp: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)


class Publication:
    """A file being written under a temporary name, then put in place whole by ``publish``."""

    def __init__(self, folder: Path, stem: str) -> None:
        self.folder = folder
        self.stem = stem
        self.tmp = folder / f".{stem}.{os.getpid()}.partial"
        self.final: Path | None = None

    def publish(self, head: int) -> Path:
        """fsync the file, rename it to a free ``STEM-eHEAD.sqlite`` name, fsync the folders.

        Only a file that is whole on disk gets a listed name, and the name itself is on
        disk before this returns (the folder's, and the folder's own entry in its parent,
        which an earlier call may have just made).
        """
        fsync_file(self.tmp)
        final = self.folder / f"{self.stem}-e{head}{SUFFIX}"
        n = 1
        while final.exists():
            final = self.folder / f"{self.stem}-e{head}-{n}{SUFFIX}"
            n += 1
        os.replace(self.tmp, final)
        fsync_dir(self.folder)
        fsync_dir(self.folder.parent)
        self.final = final
        return final


@contextmanager
def publishing(folder: Path, stem: str, what: str) -> Iterator[Publication]:
    """Write ``what`` (e.g. "a snapshot") into ``folder``; on failure leave no trace of it.

    An ``OSError`` becomes a ``SnapshotDirError`` and an SQLite error a ``SnapshotError``,
    each saying that nothing was changed, after the temporary file is removed.
    """
    remove_dead_partials(folder)
    publication = Publication(folder, stem)
    try:
        yield publication
    except OSError as exc:
        unlink_partial(publication.tmp)
        raise SnapshotDirError(
            f"could not write {what} into {folder} ({exc.strerror or exc}); nothing was "
            "changed; free some space or pass another data_dir"
        ) from exc
    except sqlite3.Error as exc:
        unlink_partial(publication.tmp)
        raise SnapshotError(
            f"could not write {what} into {folder} ({exc}); nothing was changed; "
            "free some space or pass another data_dir"
        ) from exc
