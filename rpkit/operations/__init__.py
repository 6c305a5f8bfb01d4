"""Operations on a whole history: open, snapshot, rewind, time travel, verify."""

from __future__ import annotations

from .chat_rewind import removed_ids, state_after_chat_rewind
from .fork import fork_chat, fork_rows
from .opening import open_db
from .record import record_size
from .restore import restore_snapshot
from .retention import prune_snapshots
from .rewind import compute_rewind_preview, execute_rewind, rewind_point, rewind_points
from .snapshot import (
    data_dir_of,
    list_snapshots,
    read_snapshot_meta,
    resolve_snapshot,
    snapshot_dir,
    take_snapshot,
)
from .timetravel import current_state, diff_states, plain_value, sink_frames, state_at, table_frame
from .undo_rewind import undo_rewind
from .verify import VerifyReport, verify

__all__ = [
    "VerifyReport",
    "compute_rewind_preview",
    "current_state",
    "data_dir_of",
    "diff_states",
    "execute_rewind",
    "fork_chat",
    "fork_rows",
    "list_snapshots",
    "open_db",
    "plain_value",
    "prune_snapshots",
    "read_snapshot_meta",
    "record_size",
    "removed_ids",
    "resolve_snapshot",
    "restore_snapshot",
    "rewind_point",
    "rewind_points",
    "sink_frames",
    "snapshot_dir",
    "state_after_chat_rewind",
    "state_at",
    "table_frame",
    "take_snapshot",
    "undo_rewind",
    "verify",
]
