"""What a classifier is given (``TurnInput``) and what it answers (``Judgement``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class TurnInput:
    """What a classifier sees of one turn."""

    event_id: int
    chat_id: int
    kind: str  # one of TURN_KINDS
    speaker: str  # YOU or a bot id
    addressee: str
    text: str
    speaker_name: str
    addressee_name: str


@dataclass(frozen=True)
class Judgement:
    """A classifier's answer: an affinity change, and optionally a memory.

    ``delta`` is added to the affinity of speaker -> addressee; ``memory`` (if
    not None) is remembered by the addressee with ``salience``.
    """

    delta: float
    reason: str | None = None
    memory: str | None = None
    salience: float | None = None


@runtime_checkable
class Classifier(Protocol):
    """Anything with a ``name`` and ``classify(turn) -> Judgement`` can derive affinity."""

    name: str

    def classify(self, turn: TurnInput) -> Judgement: ...


def check_judgement(judgement: object) -> Judgement:
    if not isinstance(judgement, Judgement):
        raise TypeError(f"the classifier returned {type(judgement).__name__}, not a Judgement")
    d = judgement.delta
    if isinstance(d, bool) or not isinstance(d, int | float) or not math.isfinite(d):
        raise ValueError(f"the classifier returned delta {d!r}, not a finite number")
    s = judgement.salience
    if s is not None and (
        isinstance(s, bool) or not isinstance(s, int | float) or not math.isfinite(s)
    ):
        raise ValueError(f"the classifier returned salience {s!r}, not a finite number")
    return judgement
