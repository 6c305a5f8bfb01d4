"""rpkit: explore, rewind and chart event-sourced chat histories.

Importing ``rpkit`` declares the built-in kinds with their effects; everything
in ``__all__`` is the public API (DESIGN §10). The layers, bottom up: ``store``
(the file), ``kinds`` (the catalogue), ``projection``, ``log`` (append, edits),
``operations`` (snapshot, rewind, time travel, verify), ``frames`` and
``plots`` (analysis), and the front ends ``widgets``, ``cli``, ``importers``.
"""

from __future__ import annotations

from .classifiers import classify
from .errors import *  # noqa: F403
from .errors import __all__ as _error_names
from .kinds import KINDS, TURN_KINDS, Event, Ref, handler, register_kind
from .log import append, append_many, edit_turn, hide_turn, next_chat_id, regenerate_turn
from .operations import (
    VerifyReport,
    compute_rewind_preview,
    current_state,
    diff_states,
    execute_rewind,
    fork_chat,
    list_snapshots,
    open_db,
    prune_snapshots,
    record_size,
    restore_snapshot,
    rewind_point,
    state_at,
    take_snapshot,
    undo_rewind,
    verify,
)
from .progress import set_progress
from .projection import catch_up, project
from .store import register_table

__version__ = "0.1.0"

__all__ = [
    "KINDS",
    "TURN_KINDS",
    "Event",
    "Ref",
    "VerifyReport",
    "append",
    "append_many",
    "catch_up",
    "classify",
    "compute_rewind_preview",
    "current_state",
    "diff_states",
    "edit_turn",
    "execute_rewind",
    "fork_chat",
    "handler",
    "hide_turn",
    "list_snapshots",
    "next_chat_id",
    "open_db",
    "project",
    "regenerate_turn",
    "register_kind",
    "register_table",
    "prune_snapshots",
    "record_size",
    "restore_snapshot",
    "rewind_point",
    "set_progress",
    "state_at",
    "take_snapshot",
    "undo_rewind",
    "verify",
    *_error_names,
]
