"""A history as pandas frames: events, transcripts, affinity timelines, rewind previews, chats.

Every frame is long form and typed: datetimes in UTC, categories for kinds,
nullable ``Int64`` for ids, pandas strings for text. Nothing here writes to
the database.
"""

from __future__ import annotations

from .affinity import AFFINITY_COLUMNS, ARROW, affinity, final_affinity, pair_label, parse_pairs
from .chats import CHAT_COLUMNS, chats, compare_affinity, compare_transcripts, tree_order
from .event_table import EVENT_COLUMNS, RENAMED, events
from .overview import HistorySummary, summary
from .rewind import RewindDiff, RewindPreview, rewind_diff, rewind_preview
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
    "compare_affinity",
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
