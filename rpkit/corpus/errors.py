"""The errors a corpus raises, all ``rpkit.RpkitError`` subclasses.

Each names the path or history at fault and says what to do; the corpus on
disk is left as it was (nothing already exported is removed).
"""

from __future__ import annotations

from ..errors import ImportFormatError, RpkitError


class CorpusError(RpkitError):
    """Base of the corpus errors."""


class CorpusPathError(CorpusError, ValueError):
    """The output folder is a file, cannot be created or cannot be written to."""


class SourceError(CorpusError, ValueError):
    """A history or a build source that does not exist or cannot be read."""


class SourceFormatError(SourceError, ImportFormatError):
    """A source (or a file in a source folder) of another format than the one asked for."""


class HistoryNameError(CorpusError, ValueError):
    """Two histories with one name, or a name that cannot be a partition."""


class CorpusArgumentError(CorpusError, ValueError):
    """An argument a corpus call cannot use: a shard size that is not a positive int, an
    unknown alignment."""


class WorkerPathError(CorpusError):
    """A path that a worker cannot see: the histories and the corpus are not on storage that
    every worker mounts at the same path."""


class NotACorpusError(CorpusError):
    """A folder that holds no corpus (no ``events/``, ``turns/``, ``affinity/``, ``chats/``)."""


__all__ = [
    "CorpusArgumentError",
    "CorpusError",
    "CorpusPathError",
    "HistoryNameError",
    "NotACorpusError",
    "SourceError",
    "SourceFormatError",
    "WorkerPathError",
]
