"""Progress bars for long work: shown on large inputs, silenced on request.

``rpkit.set_progress(False)`` (or the environment variable ``RPKIT_PROGRESS=0``)
turns every bar off; ``set_progress(True)`` shows them even for small inputs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm.auto import tqdm

SHOW_FROM = 50_000  # items; below this a bar would only flicker
_setting: bool | None = None


def set_progress(enabled: bool | None) -> None:
    """Force progress bars on (True), off (False), or back to automatic (None)."""
    global _setting
    _setting = enabled


def showing(total: int) -> bool:
    """Whether work of ``total`` items shows a bar (rpkit's, or Dask's for corpus tasks)."""
    if _setting is not None:
        return _setting
    if os.environ.get("RPKIT_PROGRESS", "").strip().lower() in {"0", "false", "no", "off"}:
        return False
    return total >= SHOW_FROM


@contextmanager
def progress_bar(total: int, desc: str, unit: str = "event") -> Iterator[tqdm | None]:
    """A ``tqdm.auto`` bar for ``total`` items, or None when bars are off."""
    if not showing(total):
        yield None
        return
    bar = tqdm(total=total, desc=desc, unit=unit, leave=False)
    try:
        yield bar
    finally:
        bar.close()
