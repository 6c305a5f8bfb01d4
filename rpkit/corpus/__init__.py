"""Corpora: many histories as one Parquet dataset, work run as Dask tasks (DESIGN §12).

>>> report = export(["a.db", "b.db"], "corpus")                    # doctest: +SKIP
>>> corpus = open_corpus("corpus")                                 # doctest: +SKIP
>>> corpus.summary()                                               # doctest: +SKIP
>>> build("sharegpt", "big.json", "corpus2", shard_size=1000)      # doctest: +SKIP

With no client the tasks run on Dask's local scheduler (processes); pass
``client=distributed.Client(...)`` to run the same calls on a cluster.
"""

from __future__ import annotations

from .build import BuildReport, build
from .errors import *  # noqa: F403
from .errors import __all__ as _error_names
from .export import ExportReport, export, history_frames
from .reader import Corpus, open_corpus

__all__ = [
    "BuildReport",
    "Corpus",
    "ExportReport",
    "build",
    "export",
    "history_frames",
    "open_corpus",
    *_error_names,
]
