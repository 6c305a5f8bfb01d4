"""Offline affinity: deterministic, tied to its turn, idempotent, undone by rewinds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

import rpkit
from rpkit.classifiers import Classifier, ClassifyReport, Judgement, TurnInput, VaderClassifier
from rpkit.importers import import_chatgpt, import_sharegpt, import_sillytavern

from ..helpers import ROOT, sql_dump

EXPORTS = ROOT / "data" / "exports"


@pytest.fixture
def imported(tmp_path: Path, db_path: Path) -> Path:
    """A history with the three sample exports imported (and nothing derived yet)."""
    folder = tmp_path / "exports"
    shutil.copytree(EXPORTS, folder)
    with rpkit.open_db(db_path) as conn:
        import_sillytavern(conn, folder / "sillytavern")
        import_chatgpt(conn, folder / "chatgpt" / "conversations.json")
        import_sharegpt(conn, folder / "sharegpt" / "roleplay.json")
    return db_path


def derived(conn) -> list[tuple]:
    return conn.execute(
        "SELECT kind, cause_id, chat_id, payload, ts FROM event_log "
        "WHERE kind IN ('edge_update', 'memory_added', 'classifier_failed') ORDER BY id"
    ).fetchall()


def visible_turns(conn) -> list[tuple]:
    """The visible turns classify asks about: not the copies an imported branch shares."""
    return conn.execute(
        "SELECT id, kind, chat_id, payload, ts FROM event_log WHERE kind IN "
        "('user_turn', 'assistant_turn') AND superseded_by IS NULL "
        "AND json_extract(payload, '$.forked_from') IS NULL ORDER BY id"
    ).fetchall()


def edges(conn) -> dict[tuple[str, str], float]:
    return {(s, d): round(a, 6) for s, d, a in conn.execute("SELECT src, dst, affinity FROM edges")}


def test_every_visible_turn_gets_one_edge_update_caused_by_it(imported):
    with rpkit.open_db(imported) as conn:
        report = rpkit.classify(conn)
        turns = visible_turns(conn)
        updates = [r for r in derived(conn) if r[0] == "edge_update"]
        # the branch file shares 3 messages with its main chat: copies, not asked again
        assert report.turns == report.edge_updates == len(turns) == 36 - 3
        assert report.copied == 3
        assert (report.failures, report.skipped, report.already_done) == (0, 0, 0)
        assert sorted(u[1] for u in updates) == [t[0] for t in turns]
        by_turn = {t[0]: t for t in turns}
        for _, cause, chat, payload, ts in updates:
            turn = by_turn[cause]
            assert chat == turn[2] and ts == turn[4]  # the turn's chat and time
            p = json.loads(payload)
            speaker = json.loads(turn[3]).get("bot_id", "you")
            assert p["src"] == speaker and "you" in (p["src"], p["dst"])
            assert p["classifier"] == "vader" and p["reason"].startswith("vader compound")
        # Retired turns (swipes, branches, hidden system messages) get nothing.
        retired = {r[0] for r in conn.execute("SELECT id FROM event_log WHERE hidden = 1")}
        assert not retired & {u[1] for u in updates}
        assert rpkit.verify(conn).ok


def test_vader_scaling_is_the_compound_score():
    analyzer = SentimentIntensityAnalyzer()
    clf = VaderClassifier()
    for text in ["I love it! Thank you so much!", "You're a liar and a thief.", "The door."]:
        c = analyzer.polarity_scores(text)["compound"]
        turn = TurnInput(1, 1, "user_turn", "you", "mira", text, "Wren", "Mira")
        j = clf.classify(turn)
        assert j.delta == (0.0 if abs(c) < 0.05 else round(c, 3))
        assert (j.memory is not None) == (abs(c) >= 0.9)
    doubled = VaderClassifier(scale=2.0).classify(
        TurnInput(1, 1, "user_turn", "you", "mira", "I love it!", "Wren", "Mira")
    )
    assert doubled.delta == round(2 * analyzer.polarity_scores("I love it!")["compound"], 3)


def test_deterministic_across_histories(tmp_path, imported):
    other = tmp_path / "other.db"
    shutil.copyfile(imported, other)
    for suffix in ("-wal", "-shm"):
        if Path(f"{imported}{suffix}").exists():
            shutil.copyfile(f"{imported}{suffix}", f"{other}{suffix}")
    results = []
    for path in (imported, other):
        with rpkit.open_db(path) as conn:
            rpkit.classify(conn)
            results.append((derived(conn), edges(conn)))
    assert results[0] == results[1]
    assert results[0][1][("you", "sable")] == -0.586  # "Sable, that was cruel ..."
    assert results[0][1][("mira", "you")] == 1.623  # each shared message counted once


def test_rerunning_adds_nothing(imported):
    with rpkit.open_db(imported) as conn:
        rpkit.classify(conn)
        before = sql_dump(conn)
        again = rpkit.classify(conn)
        assert sql_dump(conn) == before
        assert (again.turns, again.already_done) == (0, 33)


def test_group_chat_addressees(imported):
    with rpkit.open_db(imported) as conn:
        rpkit.classify(conn)
        rows = conn.execute(
            "SELECT json_extract(t.payload, '$.text'), json_extract(e.payload, '$.dst') "
            "FROM event_log e JOIN event_log t ON t.id = e.cause_id "
            "WHERE e.kind = 'edge_update' AND t.kind = 'user_turn' AND t.chat_id = 3 ORDER BY t.id"
        ).fetchall()
    assert rows == [
        ("Thanks, Corvin. I feel safer with you here.", "sir-corvin"),  # the last bot to speak
        ("Sable, that was cruel and you know it. You sold us out last time.", "sable"),  # named
    ]


def test_rewinding_past_a_turn_removes_what_was_derived_from_it(imported, tmp_path):
    with rpkit.open_db(imported) as conn:
        rpkit.classify(conn)
        first = {r[1]: json.loads(r[3])["delta"] for r in derived(conn) if r[0] == "edge_update"}
        turn = conn.execute(
            "SELECT id FROM event_log WHERE kind = 'user_turn' AND superseded_by IS NULL "
            "AND chat_id = 3 ORDER BY id LIMIT 1"
        ).fetchone()[0]
    rpkit.execute_rewind(db_path=imported, data_dir=tmp_path, after_event_id=turn - 1)
    with rpkit.open_db(imported) as conn:
        assert conn.execute(
            "SELECT COUNT(*) FROM event_log WHERE cause_id >= ?", (turn,)
        ).fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM edges").fetchone() == (0,)
        # Classifying again derives the same values for the turns that are left.
        report = rpkit.classify(conn)
        again = {r[1]: json.loads(r[3])["delta"] for r in derived(conn) if r[0] == "edge_update"}
        assert again == {t: d for t, d in first.items() if t < turn}
        assert report.turns == len(again)
        assert rpkit.verify(conn).ok


def test_rewind_to_a_turn_ends_the_chat_there_and_classify_derives_the_same_again(
    imported, tmp_path
):
    """Classified after the import, a turn's derived events come after later turns.

    "Rewind to here" still ends the chat at the turn (it never keeps the next turn);
    classifying again derives exactly what was cut.
    """
    with rpkit.open_db(imported) as conn:
        rpkit.classify(conn)
        turn, _kind, chat, *_ = visible_turns(conn)[0]
        point = rpkit.rewind_point(conn, turn)
        kept = [r for r in derived(conn) if r[1] == turn]
    rpkit.execute_rewind(db_path=imported, data_dir=tmp_path, after_event_id=point)
    with rpkit.open_db(imported) as conn:
        assert [t[0] for t in visible_turns(conn) if t[2] == chat] == [turn]
        rpkit.classify(conn)
        assert [r[:4] for r in derived(conn) if r[1] == turn] == [r[:4] for r in kept]


def test_editing_a_turn_retires_its_affinity_and_the_edit_is_classified(imported):
    with rpkit.open_db(imported) as conn:
        rpkit.classify(conn)
        turn = conn.execute(
            "SELECT id FROM event_log WHERE kind = 'user_turn' AND superseded_by IS NULL "
            "AND json_extract(payload, '$.text') LIKE 'Sable, that was cruel%'"
        ).fetchone()[0]
        new = rpkit.edit_turn(conn, turn, "Sable, I forgive you. Thank you for coming back.")
        assert ("you", "sable") not in edges(conn)  # retired with its turn
        report = rpkit.classify(conn)
        assert report.turns == 1
        delta = json.loads(
            conn.execute(
                "SELECT payload FROM event_log WHERE kind = 'edge_update' AND cause_id = ?", (new,)
            ).fetchone()[0]
        )["delta"]
        assert delta > 0.5 and edges(conn)[("you", "sable")] == delta


class Moody:
    """A stand-in for an LLM classifier: fails on questions, remembers debts."""

    name = "moody"

    def classify(self, turn: TurnInput) -> Judgement:
        if turn.text.rstrip().endswith("?"):
            raise TimeoutError("the model did not answer in 30s")
        memory = f"{turn.speaker_name} mentioned a debt" if "debt" in turn.text else None
        return Judgement(delta=-1 if "liar" in turn.text else 0.5, memory=memory, salience=0.8)


def test_a_failing_classifier_is_recorded_and_the_run_goes_on(imported):
    with rpkit.open_db(imported) as conn:
        assert isinstance(Moody(), Classifier)
        report = rpkit.classify(conn, classifier=Moody())
        questions = [
            t[0] for t in visible_turns(conn) if json.loads(t[3])["text"].rstrip().endswith("?")
        ]
        assert report.failures == len(questions) == 4 and report.failed_turns == questions
        assert report.turns == 33 - 4
        failures = conn.execute(
            "SELECT turn_event_id, stage, error FROM classifier_failures ORDER BY turn_event_id"
        ).fetchall()
        assert failures == [
            (q, "affinity", "TimeoutError: the model did not answer in 30s") for q in questions
        ]
        memories = conn.execute("SELECT owner, text, salience FROM memories").fetchall()
        assert ("mira", "Wren mentioned a debt", 0.8) in memories
        assert rpkit.classify(conn, classifier=Moody()).turns == 0  # failures are not retried
        retry = rpkit.classify(conn, retry_failed=True)
        assert (retry.turns, retry.failures) == (4, 0)
        assert rpkit.verify(conn).ok


@pytest.mark.parametrize(
    ("judgement", "error"),
    [
        (Judgement(delta=float("nan")), "delta nan"),
        (Judgement(delta=0.1, memory="m", salience=float("inf")), "salience inf"),
        ("+1", "returned str, not a Judgement"),
    ],
)
def test_a_bad_judgement_is_a_failure(imported, judgement, error):
    class Bad:
        name = "bad"

        def classify(self, turn):
            return judgement

    with rpkit.open_db(imported) as conn:
        report = rpkit.classify(conn, classifier=Bad())
        assert report.failures == 33 and report.edge_updates == 0
        errors = {e for (e,) in conn.execute("SELECT error FROM classifier_failures")}
        assert len(errors) == 1 and error in errors.pop()
        assert conn.execute("SELECT COUNT(*) FROM memories").fetchone() == (0,)


def test_demo_turns_with_affinity_are_left_alone(demo_path):
    with rpkit.open_db(demo_path) as conn:
        without = conn.execute(
            "SELECT COUNT(*) FROM event_log t WHERE t.kind IN ('user_turn', 'assistant_turn') "
            "AND t.superseded_by IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM event_log d WHERE d.cause_id = t.id)"
        ).fetchone()[0]
        report = rpkit.classify(conn)
        assert report.turns == without and report.already_done > 0
        assert rpkit.verify(conn).ok


def test_report_shows_itself():
    report = ClassifyReport(classifier="vader", turns=3)
    assert "turns classified        3" in repr(report)
    assert "<table>" in report._repr_html_()
