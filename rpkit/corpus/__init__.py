"""Corpora: many histories as one Parquet dataset, work run as Dask tasks (DESIGN §12).

>>> report = export(["a.db", "b.db"], "corpus")                    # doctest: +SKIP
>>> corpus = open_corpus("corpus")                                 # doctest: +SKIP
>>> corpus.summary()                                               # doctest: +SKIP
>>> export_training("corpus", "pairs", "preferences")               # doctest: +SKIP
>>> build("big.json", "corpus2", format="sharegpt", shard_size=1000)  # doctest: +SKIP

With no client the tasks run on Dask's local scheduler (processes); pass
``client=distributed.Client(...)`` to run the same calls on a cluster.
"""

# ruff: noqa: F405 (the names in __all__ are bound on first use)
from __future__ import annotations

from importlib import import_module
from typing import Any

from ..extras import require
from .errors import *  # noqa: F403
from .errors import __all__ as _error_names

require("corpus", part=__name__)  # looks Dask up without importing it

# Loaded on first use, so that ``rpkit --help`` does not import Dask.
_LAZY = {
    "BuildReport": "builder",
    "build": "builder",
    "Corpus": "reader",
    "open_corpus": "reader",
    "ExportReport": "exporter",
    "export": "exporter",
    "history_frames": "exporter",
    "TrainingReport": "training",
    "export_training": "training",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "BuildReport",
    "Corpus",
    "ExportReport",
    "build",
    "TrainingReport",
    "export",
    "export_training",
    "history_frames",
    "open_corpus",
    *_error_names,
]
