"""The errors an export raises, all ``rpkit.RpkitError`` subclasses.

Each names the bad value and says what to do; nothing is written (no partial
file, no temporary file left behind) and the history is only read.
"""

from __future__ import annotations

from ..errors import RpkitError


class ExportError(RpkitError, ValueError):
    """Base of the export errors."""


class UnknownExportError(ExportError):
    """An export kind rpkit does not have (``rpkit export KIND``)."""


class ExportFormatError(ExportError):
    """An output whose suffix fits none of the export's formats (``.jsonl``, ``.parquet`` ...)."""


class ExportExistsError(ExportError, FileExistsError):
    """The output exists and ``replace`` was not given."""


class ExportPathError(ExportError):
    """An output whose folder is missing, or a file export aimed at a folder (or the reverse)."""


class ExportNamesError(ExportError, TypeError):
    """A ``names`` mapping that is not speaker name (str) to exported name (str)."""


class ExportArgumentError(ExportError):
    """Another option an export cannot use: ``paths`` not ``live``/``all``, a bad ``context``."""


__all__ = [
    "ExportArgumentError",
    "ExportError",
    "ExportExistsError",
    "ExportFormatError",
    "ExportNamesError",
    "ExportPathError",
    "UnknownExportError",
]
