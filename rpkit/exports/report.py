"""What an export wrote: its kind, its output and how many rows (or utterances)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..display import counted


@dataclass(frozen=True)
class ExportReport:
    """``kind`` written to ``out``: ``rows`` rows (utterances for ConvoKit, turns for a transcript)."""

    kind: str
    out: Path
    rows: int
    unit: str = "row"

    def __str__(self) -> str:
        return f"wrote {counted(self.rows, self.unit)} of {self.kind} to {self.out}"
