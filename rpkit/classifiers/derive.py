"""``classify``: ask a classifier about every turn that has no derived event yet."""

from __future__ import annotations

from ..frames.affinity import AT_TURN
from ..kinds import CLASSIFIER_FAILED, EDGE_UPDATE, MEMORY_ADDED
from ..log import append_many
from ..progress import progress_bar
from ..store.sqlite import sqlite3
from .addressee import turns_to_ask
from .judgement import Classifier, TurnInput, check_judgement
from .report import ClassifyReport
from .vader import VaderClassifier

BATCH = 200


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
    todo = turns_to_ask(conn, report, retry_failed=retry_failed)
    with progress_bar(len(todo), f"classify ({name})", unit="turn") as bar:
        # Commit every BATCH turns: an interrupted run keeps what it derived (a re-run
        # goes on from there) without paying for a commit, or a write of the changed
        # rows, per turn.
        for start in range(0, len(todo), BATCH):
            derived: list[tuple] = []
            for turn, ts in todo[start : start + BATCH]:
                derived += derive(clf, name, turn, ts, report)
                if bar is not None:
                    bar.update(1)
            append_many(conn, derived)
    return report


def derive(
    clf: Classifier, name: str, turn: TurnInput, ts: str, report: ClassifyReport
) -> list[tuple]:
    """The events one turn's judgement derives, as ``append_many`` takes them."""
    where = (turn.chat_id, turn.event_id, ts)
    try:
        judgement = check_judgement(clf.classify(turn))
    except Exception as exc:  # any classifier failure is recorded, not raised
        failure = {
            "stage": "affinity",
            "error": f"{type(exc).__name__}: {exc}"[:500],
            "classifier": name,
        }
        report.failures += 1
        report.failed_turns.append(turn.event_id)
        return [(CLASSIFIER_FAILED, failure, *where)]
    payload = {
        "src": turn.speaker,
        "dst": turn.addressee,
        "delta": float(judgement.delta),
        "classifier": name,
        AT_TURN: turn.event_id,  # where frames and charts place it (the log may have moved on)
    }
    if judgement.reason:
        payload["reason"] = str(judgement.reason)
    events = [(EDGE_UPDATE, payload, *where)]
    report.edge_updates += 1
    if judgement.memory:
        mem = {"owner": turn.addressee, "text": str(judgement.memory), "classifier": name}
        if judgement.salience is not None:
            mem["salience"] = float(judgement.salience)
        events.append((MEMORY_ADDED, mem, *where))
        report.memories += 1
    report.turns += 1
    return events
