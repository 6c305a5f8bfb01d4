"""Making written files survive a crash: fsync a file's bytes, or a folder's names.

A file's bytes persist once the file is fsynced; a name (a created, renamed or
removed file, a new folder) once the folder holding it is fsynced. So a new
file that must survive a power cut needs both, and a new folder needs its
parent fsynced too (``make_dirs``).
"""

from __future__ import annotations

import os
from os import PathLike
from pathlib import Path


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


def make_dirs(path: str | PathLike[str]) -> list[Path]:
    """``mkdir -p`` whose new folders survive a power cut; return the folders it made.

    The parent that holds each new folder's name is fsynced (also when another
    process made the folder at the same moment). Folders that existed already
    are left alone.
    """
    path = Path(path)
    missing = []
    for level in (path, *path.parents):
        if level.is_dir():
            break
        missing.append(level)
    made = []
    for level in reversed(missing):
        try:
            level.mkdir()
            made.append(level)
        except FileExistsError:  # another process made it at the same moment
            if not level.is_dir():
                raise
    for level in reversed(missing):  # synced by whoever made it: its name must persist
        fsync_dir(level.parent)
    return made
