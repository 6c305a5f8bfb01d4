"""The projection: the state tables as a pure function of the visible log.

``tables`` (each table's SQL), ``codec`` (rows as JSON), ``sink`` (where a fold
writes), ``undo`` (what each write replaced), ``fold`` (events through their
kinds' effects) and ``build`` (rebuild, roll back and fold forward).
"""

from __future__ import annotations

from .build import catch_up, move_to, project, rebuild, reproject_from, settle_projection
from .fold import apply_event, apply_rows, effects, fold
from .sink import MemorySink, SqlSink
from .undo import (
    UNDO_PRUNE_STEP,
    UNDO_TAIL,
    UNDO_TAIL_FRACTION,
    rollback_point,
    undo_entries,
    undo_floor_for,
)

__all__ = [
    "UNDO_PRUNE_STEP",
    "UNDO_TAIL",
    "UNDO_TAIL_FRACTION",
    "MemorySink",
    "SqlSink",
    "apply_event",
    "apply_rows",
    "catch_up",
    "effects",
    "fold",
    "move_to",
    "project",
    "rebuild",
    "reproject_from",
    "rollback_point",
    "settle_projection",
    "undo_entries",
    "undo_floor_for",
]
