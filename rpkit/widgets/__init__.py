"""ipywidgets panels: rewind a chat with a preview first, fork from a turn, explore affinity.

The panels are thin: every button calls the same library function a notebook
cell would (``rewind_point``, ``compute_rewind_preview``, ``execute_rewind``,
``undo_rewind``, ``fork_chat``, the frames and plots), and keeps what it got on
attributes (``last_preview``, ``last_diff``, ``last_snapshot``, ``last_fork``,
``status``), so tests click the buttons and assert on DataFrames and state. An
error goes to the status line, never into the kernel; the library leaves the
database unchanged when it refuses.
"""

from __future__ import annotations

from ..extras import require

require("notebook", part=__name__)

from .affinity_explorer import AffinityExplorer  # noqa: E402
from .rewind_panel import RewindPanel  # noqa: E402

__all__ = ["AffinityExplorer", "RewindPanel"]
