"""Making written files survive a crash: fsync a file's bytes, or a folder's names."""

from __future__ import annotations

import os
from os import PathLike


def fsync_file(path: str | PathLike[str]) -> None:
    """Flush a file's content to disk (before it is renamed into place)."""
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def fsync_dir(path: str | PathLike[str]) -> None:
    """Flush a folder's entries to disk (after a file in it was created or renamed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
