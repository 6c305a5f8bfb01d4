"""The store: one SQLite file per history, its schema, transactions and meta values."""

from __future__ import annotations

from .file import BUSY_TIMEOUT_S, connect, require_history
from .ids import check_event_id, is_id, plain_id
from .meta import db_path_of, get_meta, head_id, log_count, set_meta
from .schema import PROJECTED, SCHEMA_VERSION, Table, register_table
from .transaction import atomic
from .visibility import live, retired, retired_after, retired_between, visible_at

__all__ = [
    "BUSY_TIMEOUT_S",
    "PROJECTED",
    "SCHEMA_VERSION",
    "Table",
    "atomic",
    "check_event_id",
    "connect",
    "db_path_of",
    "get_meta",
    "head_id",
    "is_id",
    "live",
    "log_count",
    "plain_id",
    "register_table",
    "require_history",
    "retired",
    "retired_after",
    "retired_between",
    "set_meta",
    "visible_at",
]
