"""Pausing Python's cyclic garbage collector while millions of small objects are made."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic collector for the block, then restore it as it was.

    Folds and frames make millions of dicts and tuples that form no cycles;
    with the collector on, its repeated passes over them cost more than the
    work itself.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
