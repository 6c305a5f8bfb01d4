"""A history as pandas frames: events, transcripts, affinity timelines, rewind previews, chats.

Every frame is long form and typed: datetimes in UTC, categories for kinds,
nullable ``Int64`` for ids, pandas strings for text. Nothing here writes to
the database.
"""

from __future__ import annotations

from .event_table import EVENT_COLUMNS, RENAMED, events
from .lineage import CHAT_COLUMNS, branch_affinity, chats, compare_transcripts, tree_order
from .overview import HistorySummary, summary
from .rewind import RewindDiff, RewindPreview, rewind_diff, rewind_preview
from .timeline import AFFINITY_COLUMNS, ARROW, affinity, final_affinity, pair_label, parse_pairs
from .transcript import TURN_COLUMNS, transcripts, turns

__all__ = [
    "AFFINITY_COLUMNS",
    "CHAT_COLUMNS",
    "ARROW",
    "EVENT_COLUMNS",
    "RENAMED",
    "TURN_COLUMNS",
    "HistorySummary",
    "RewindDiff",
    "RewindPreview",
    "affinity",
    "branch_affinity",
    "chats",
    "compare_transcripts",
    "events",
    "final_affinity",
    "pair_label",
    "parse_pairs",
    "rewind_diff",
    "rewind_preview",
    "summary",
    "tree_order",
    "transcripts",
    "turns",
]
