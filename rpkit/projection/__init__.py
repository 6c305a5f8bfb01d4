"""The projection: the state tables as a pure function of the visible log.

``tables`` (each table's SQL), ``codec`` (rows as JSON), ``sink`` (where a fold
writes), ``rollback`` (what each write replaced), ``fold`` (events through their
kinds' effects) and ``build`` (rebuild, roll back and fold forward).
"""

from __future__ import annotations

from .build import catch_up, move_to, project, rebuild, reproject_from, settle_projection
from .fold import apply_event, apply_rows, effects, fold
from .putback import PutBack, restore_putback, rollback_putback
from .rollback import (
    ROLLBACK_PRUNE_STEP,
    ROLLBACK_TAIL,
    ROLLBACK_TAIL_FRACTION,
    rollback_entries,
    rollback_floor_for,
    rollback_point,
)
from .sink import MemorySink, SqlSink
from .touched import Refold, apply_touched, can_refold_touched, plan_touched

__all__ = [
    "ROLLBACK_PRUNE_STEP",
    "ROLLBACK_TAIL",
    "ROLLBACK_TAIL_FRACTION",
    "MemorySink",
    "SqlSink",
    "apply_event",
    "apply_rows",
    "PutBack",
    "Refold",
    "apply_touched",
    "can_refold_touched",
    "plan_touched",
    "restore_putback",
    "rollback_putback",
    "catch_up",
    "effects",
    "fold",
    "move_to",
    "project",
    "rebuild",
    "reproject_from",
    "rollback_point",
    "settle_projection",
    "rollback_entries",
    "rollback_floor_for",
]
