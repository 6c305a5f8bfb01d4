"""Deriving affinity (and memories) from turns that have none, offline by default.

Imported histories have turns but no ``edge_update`` events: nothing says how
the characters feel about each other. ``classify(conn)`` asks a classifier
about every visible turn that has no derived event yet and appends what it
says, with ``cause_id`` set to the turn, so an edit, regeneration or rewind of
the turn takes its affinity with it. A classifier that raises becomes a
``classifier_failed`` event for that turn and the run goes on. A fork's copy of
a turn (its payload names the original in ``forked_from``) is skipped: the
world already holds what the original caused.

Who a turn addresses (the ``dst`` of its ``edge_update``):

* a bot's turn addresses ``"you"``;
* your turn in a chat with one bot addresses that bot;
* your turn in a group chat addresses the one bot of the chat it names (by
  bot name, as a whole word), else the bot that spoke last before it, else the
  chat's first bot. A chat without bots gives your turns no addressee: they are
  counted as skipped.

The built-in classifier, ``VaderClassifier``, is VADER (a sentiment lexicon
and rules made for chat and social-media text, shipped with ``vaderSentiment``,
no network): the turn's compound score ``c`` in [-1, 1] becomes
``delta = round(scale * c, 3)`` (``scale`` 1.0), and 0 when ``|c| < 0.05``
(VADER's own neutral band). A turn with ``|c| >= 0.9`` also leaves a memory with
the addressee (salience ``|c|``). Same text, same numbers, every time.

Plug in your own (an LLM, a fine-tuned model) with any object that has a
``name`` and a ``classify(turn) -> Judgement`` method (``Classifier``).

The module itself is callable: ``rpkit.classify(conn)`` is
``rpkit.classify.classify(conn)``, and ``rpkit.classify.VaderClassifier`` is
the classifier.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .display import key_value_table
from .kinds import COPIED_FROM
from .log import append_many
from .progress import progress_bar

YOU = "you"
BATCH = 200


@dataclass(frozen=True)
class TurnInput:
    """What a classifier sees of one turn."""

    event_id: int
    chat_id: int
    kind: str  # "user_turn" or "assistant_turn"
    speaker: str  # "you" or a bot id
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


class VaderClassifier:
    """VADER sentiment -> affinity delta; deterministic and offline (see the module doc)."""

    name = "vader"

    def __init__(
        self, *, scale: float = 1.0, neutral: float = 0.05, memory_threshold: float = 0.9
    ) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.scale = scale
        self.neutral = neutral
        self.memory_threshold = memory_threshold
        self._analyzer = SentimentIntensityAnalyzer()

    def classify(self, turn: TurnInput) -> Judgement:
        c = self._analyzer.polarity_scores(turn.text)["compound"]
        delta = 0.0 if abs(c) < self.neutral else round(self.scale * c, 3)
        memory = salience = None
        if abs(c) >= self.memory_threshold:
            said = " ".join(turn.text.split())
            said = said if len(said) <= 120 else said[:117] + "..."
            memory = f"{turn.speaker_name} said: {said}"
            salience = round(abs(c), 3)
        return Judgement(
            delta=delta, reason=f"vader compound {c:+.3f}", memory=memory, salience=salience
        )


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


def _group_addressee(text: str, bots: list[str], names: dict[str, str], last: str | None) -> str:
    named = [
        b
        for b in bots
        if names.get(b) and re.search(rf"(?<!\w){re.escape(names[b])}(?!\w)", text, re.I)
    ]
    if len(named) == 1:
        return named[0]
    return last if last is not None else bots[0]


def _check(judgement: object) -> Judgement:
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


def _turns_to_ask(
    conn: sqlite3.Connection, report: ClassifyReport, *, retry_failed: bool
) -> list[tuple[TurnInput, str]]:
    """The visible turns with no derived event yet, with whom each addresses."""
    names = dict(conn.execute("SELECT id, name FROM bots"))
    you = conn.execute("SELECT name FROM you_entity WHERE id = 1").fetchone()
    names[YOU] = you[0] if you else "You"
    cast = {
        chat_id: json.loads(payload).get("bot_ids", [])
        for chat_id, payload in conn.execute(
            "SELECT chat_id, payload FROM event_log WHERE kind = 'chat_created' "
            "AND superseded_by IS NULL"
        )
    }
    done_kinds = "" if retry_failed else " OR d.kind = 'classifier_failed'"
    rows = conn.execute(
        f"""
        SELECT t.id, t.ts, t.chat_id, t.kind, t.payload,
               EXISTS (SELECT 1 FROM event_log d WHERE d.cause_id = t.id
                       AND (d.kind != 'classifier_failed'{done_kinds}))
        FROM event_log t
        WHERE t.kind IN ('user_turn', 'assistant_turn') AND t.superseded_by IS NULL
        ORDER BY t.id
        """
    ).fetchall()
    last_bot: dict[int, str] = {}
    todo = []
    for event_id, ts, chat_id, kind, payload, done in rows:
        p = json.loads(payload)
        bots = cast.get(chat_id, [])
        if kind == "assistant_turn":
            speaker, addressee = p["bot_id"], YOU
            last_bot[chat_id] = speaker
        elif not bots:
            speaker, addressee = YOU, None
        elif len(bots) == 1:
            speaker, addressee = YOU, bots[0]
        else:
            speaker = YOU
            addressee = _group_addressee(p["text"], bots, names, last_bot.get(chat_id))
        if COPIED_FROM in p:  # a fork's copy: its original's derived events stand for it
            report.copied += 1
        elif done:
            report.already_done += 1
        elif addressee is None:
            report.skipped += 1
        else:
            turn = TurnInput(
                event_id,
                chat_id,
                kind,
                speaker,
                addressee,
                p["text"],
                names.get(speaker, speaker),
                names.get(addressee, addressee),
            )
            todo.append((turn, ts))
    return todo


def classify(
    conn: sqlite3.Connection,
    *,
    classifier: Classifier | None = None,
    retry_failed: bool = False,
) -> ClassifyReport:
    """Append affinity (and memories) derived from every visible turn that has none yet.

    Each turn's events are written in one transaction with ``cause_id`` = the
    turn and the turn's own time; running again adds nothing. A turn whose
    classifier raised gets a ``classifier_failed`` event and is not asked again
    unless ``retry_failed``. Returns a ``ClassifyReport``.
    """
    clf = classifier if classifier is not None else VaderClassifier()
    name = str(getattr(clf, "name", type(clf).__name__))
    report = ClassifyReport(classifier=name)
    todo = _turns_to_ask(conn, report, retry_failed=retry_failed)
    with progress_bar(len(todo), f"classify ({name})", unit="turn") as bar:
        # Commit every BATCH turns: an interrupted run keeps what it derived (a re-run
        # goes on from there) without paying for a commit, or a write of the changed
        # rows, per turn.
        for start in range(0, len(todo), BATCH):
            derived: list[tuple] = []
            for turn, ts in todo[start : start + BATCH]:
                derived += _derive(clf, name, turn, ts, report)
                if bar is not None:
                    bar.update(1)
            append_many(conn, derived)
    return report


def _derive(
    clf: Classifier, name: str, turn: TurnInput, ts: str, report: ClassifyReport
) -> list[tuple]:
    """The events one turn's judgement derives, as ``append_many`` takes them."""
    where = (turn.chat_id, turn.event_id, ts)
    try:
        judgement = _check(clf.classify(turn))
    except Exception as exc:  # any classifier failure is recorded, not raised
        failure = {
            "stage": "affinity",
            "error": f"{type(exc).__name__}: {exc}"[:500],
            "classifier": name,
        }
        report.failures += 1
        report.failed_turns.append(turn.event_id)
        return [("classifier_failed", failure, *where)]
    payload = {
        "src": turn.speaker,
        "dst": turn.addressee,
        "delta": float(judgement.delta),
        "classifier": name,
    }
    if judgement.reason:
        payload["reason"] = str(judgement.reason)
    events = [("edge_update", payload, *where)]
    report.edge_updates += 1
    if judgement.memory:
        mem = {"owner": turn.addressee, "text": str(judgement.memory), "classifier": name}
        if judgement.salience is not None:
            mem["salience"] = float(judgement.salience)
        events.append(("memory_added", mem, *where))
        report.memories += 1
    report.turns += 1
    return events


class _CallableModule(types.ModuleType):
    """This module, callable as its ``classify`` function (``rpkit.classify(conn)``)."""

    def __call__(self, *args: Any, **kwargs: Any) -> ClassifyReport:
        return classify(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
