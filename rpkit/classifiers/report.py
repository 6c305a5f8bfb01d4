"""What a ``classify`` run appended, as a report that shows itself in a notebook."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..display import key_value_table


@dataclass
class ClassifyReport:
    """What a ``classify`` run appended."""

    classifier: str
    turns: int = 0
    edge_updates: int = 0
    memories: int = 0
    failures: int = 0
    skipped: int = 0
    already_done: int = 0
    copied: int = 0
    failed_turns: list[int] = field(default_factory=list)

    def _rows(self) -> list[tuple[str, str]]:
        copies = [("copies made by a fork", str(self.copied))] if self.copied else []
        return [
            ("classifier", self.classifier),
            ("turns classified", str(self.turns)),
            ("edge updates", str(self.edge_updates)),
            ("memories", str(self.memories)),
            ("failures", str(self.failures)),
            ("skipped (no addressee)", str(self.skipped)),
            ("already classified", str(self.already_done)),
            *copies,
        ]

    def __repr__(self) -> str:
        lines = ["ClassifyReport", *(f"  {k:<23} {v}" for k, v in self._rows())]
        if self.failed_turns:
            shown = ", ".join(map(str, self.failed_turns[:20]))
            lines.append(
                f"  failed turns: {shown}" + (" ..." if len(self.failed_turns) > 20 else "")
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return key_value_table("ClassifyReport", self._rows())
