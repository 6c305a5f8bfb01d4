"""Where an export writes: the output checked first, then written under a temporary name and renamed.

``check_output`` refuses, before anything is read or written, an output whose
suffix fits none of the export's formats, one that exists (unless
``replace``), and one whose folder is missing. ``written`` gives a temporary
path beside the output; only when the block succeeds is it renamed into place
(``os.replace``: a reader sees the old file or the new one, never half of
one). On an error the temporary file or folder is removed and the output is
as it was.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike
from pathlib import Path

from ..durable import fsync_dir, fsync_file
from .errors import ExportExistsError, ExportFormatError, ExportPathError

PathArg = str | PathLike[str]


def check_output(
    out: PathArg, kind: str, formats: dict[str, str] | None, *, replace: bool
) -> tuple[Path, str]:
    """The output path and its format (by suffix; ``formats=None``: a folder); refuse bad ones."""
    out = Path(out)
    if formats is None:
        fmt = "folder"
        if out.exists() and not out.is_dir():
            raise ExportPathError(f"{out} is a file; the {kind} export writes a folder: name one")
    else:
        fmt = formats.get(out.suffix.lower(), "")
        if not fmt:
            fits = ", ".join(formats)
            raise ExportFormatError(
                f"the {kind} export cannot write {out.name!r}: its suffix "
                f"{out.suffix or '(none)'!r} fits no format; end the name with one of {fits}"
            )
        if out.is_dir():
            raise ExportPathError(f"{out} is a folder; the {kind} export writes a file: name one")
    if out.exists() and not replace:
        raise ExportExistsError(
            f"{out} exists; pass replace=True (rpkit export --replace) to write over it, "
            "or name another output"
        )
    if not out.parent.is_dir():
        raise ExportPathError(f"the folder {out.parent} does not exist; create it first")
    return out, fmt


@contextmanager
def written(out: Path, *, folder: bool = False, durable: bool = False) -> Iterator[Path]:
    """A temporary path beside ``out``; renamed to ``out`` when the block ends without an error.

    ``durable`` fsyncs the file (every file of the folder) and the parent
    folder, so that the output also survives a power cut.
    """
    temp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.tmp")
    if folder:
        temp.mkdir()
    try:
        yield temp
        if durable:
            for f in temp.iterdir() if folder else [temp]:
                fsync_file(f)
        if folder and out.exists():  # a folder cannot be replaced in one rename: swap it
            aside = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.old")
            os.rename(out, aside)
            os.rename(temp, out)
            shutil.rmtree(aside)
        else:
            os.replace(temp, out)
        if durable:
            fsync_dir(out.parent)
    except BaseException:
        if temp.is_dir():
            shutil.rmtree(temp, ignore_errors=True)
        elif temp.exists():
            temp.unlink()
        raise
