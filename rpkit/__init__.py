"""rpkit: explore, rewind and chart event-sourced chat histories.

Importing ``rpkit`` registers the built-in projection handlers; everything in
``__all__`` is the public API (DESIGN §10).
"""

from __future__ import annotations

from ._progress import set_progress
from .catalogue import KINDS, TURN_KINDS, register_kind
from .classify import classify
from .edits import edit_turn, hide_turn, regenerate_turn
from .errors import *  # noqa: F403
from .errors import __all__ as _error_names
from .events import append, next_chat_id
from .projection import catch_up, project
from .registry import Event, handler
from .rewind import compute_rewind_preview, execute_rewind, rewind_point
from .snapshot import list_snapshots, restore_snapshot, take_snapshot
from .store import open_db
from .timetravel import VerifyReport, current_state, diff_states, state_at, verify

__version__ = "0.1.0"

__all__ = [
    "KINDS",
    "TURN_KINDS",
    "Event",
    "VerifyReport",
    "append",
    "catch_up",
    "classify",
    "compute_rewind_preview",
    "current_state",
    "diff_states",
    "edit_turn",
    "execute_rewind",
    "handler",
    "hide_turn",
    "list_snapshots",
    "next_chat_id",
    "open_db",
    "project",
    "regenerate_turn",
    "register_kind",
    "restore_snapshot",
    "rewind_point",
    "set_progress",
    "state_at",
    "take_snapshot",
    "verify",
    *_error_names,
]
