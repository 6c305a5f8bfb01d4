"""The outcome of an import: what was written, skipped and tolerated."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..display import bullet_list, counted, key_value_table, paragraph

DUPLICATE = "duplicated record (same id, same content)"


@dataclass
class ImportReport:
    """Counts of one import, readable as text and as HTML in a notebook.

    ``turns`` counts every turn written, visible or not; ``retired`` those of
    them that were retired on import (unselected swipes, abandoned branches,
    hidden system messages); ``hidden`` the hidden ones among those.
    ``already_imported`` counts messages found from an earlier import of the same
    file (they are not written again). ``skipped`` maps a reason to how many
    records it skipped, ``bad_records`` lists each malformed record skipped
    with ``skip_bad=True``, and ``warnings`` the oddities that were tolerated.
    Dates without a time zone were taken as UTC.
    """

    format: str
    files: list[str]
    chats: int = 0
    chats_extended: int = 0
    turns: int = 0
    retired: int = 0
    hidden: int = 0
    bots: int = 0
    events: int = 0
    already_imported: int = 0
    records: int | None = None  # records a dataset file holds (None: an app export)
    first_event_id: int | None = None
    last_event_id: int | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    bad_records: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def visible(self) -> int:
        """Turns written that show in the transcript."""
        return self.turns - self.retired

    def _rows(self) -> list[tuple[str, str]]:
        files = self.files[0] if len(self.files) == 1 else f"{len(self.files)} files"
        ids = (
            f" (ids {self.first_event_id}-{self.last_event_id})"
            if self.first_event_id is not None
            else ""
        )
        chats = f"{self.chats} new"
        if self.chats_extended:
            chats += f", {self.chats_extended} existing extended"
        rows = [("source", f"{self.format}: {files}")]
        if self.records is not None:
            bad = len(self.bad_records)
            dup = self.skipped.get(DUPLICATE, 0)
            rows.append(
                (
                    "records",
                    f"{self.records} read, {bad} skipped as bad (--skip-bad), {dup} duplicated, "
                    f"{self.records - bad - dup} imported",
                )
            )
        return rows + [
            ("chats", chats),
            (
                "turns",
                f"{self.turns} new: {self.visible} visible, {self.retired} retired "
                f"({self.retired - self.hidden} alternatives, {self.hidden} hidden)",
            ),
            ("bots", f"{self.bots} new"),
            ("events", f"{self.events} written{ids}"),
            ("already imported", counted(self.already_imported, "message")),
            (
                "skipped",
                ", ".join(f"{reason}: {n}" for reason, n in self.skipped.items()) or "nothing",
            ),
        ]

    def __repr__(self) -> str:
        lines = ["ImportReport"]
        lines += [f"  {k:<17} {v}" for k, v in self._rows()]
        for title, items in (("bad records", self.bad_records), ("warnings", self.warnings)):
            if items:
                lines.append(f"  {title} ({len(items)}):")
                lines += [f"    - {item}" for item in items]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        parts = [key_value_table("ImportReport", self._rows())]
        for title, items in (("bad records", self.bad_records), ("warnings", self.warnings)):
            if items:
                parts.append(paragraph(f"{title} ({len(items)}):") + bullet_list(items))
        return "".join(parts)
