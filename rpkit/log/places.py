"""Where each turn stands in its chat's transcript: chains of replacements share a place."""

from __future__ import annotations

from collections.abc import Iterable


def transcript_places(
    rows: Iterable[tuple[int, str, int | None]],
) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
    """Each turn's chain end, each chain's original turn, and each live chain's position.

    ``rows`` are a chat's turns as (id, kind, superseded_by), ids ascending. A
    turn replaced by a turn of the same kind hands its place on; chains of
    edits end at one final turn, and the turns of a chain share one place (the
    original's id). A hidden turn, replaced by nothing, is a chain of its own.
    """
    rows = list(rows)
    kind_of = {r[0]: r[1] for r in rows}
    successor = {r[0]: r[2] for r in rows if r[2] is not None and kind_of.get(r[2]) == r[1]}

    def final(turn: int) -> int:
        while turn in successor:
            turn = successor[turn]
        return turn

    group = {r[0]: final(r[0]) for r in rows}
    first_of: dict[int, int] = {}
    for turn, end in group.items():  # ids ascend, so the first seen is the original
        first_of.setdefault(end, turn)
    live = {r[0] for r in rows if r[2] is None}
    live_ends = sorted((first_of[end], end) for end in first_of if end in live)
    position = {end: i for i, (_, end) in enumerate(live_ends, start=1)}
    return group, first_of, position
