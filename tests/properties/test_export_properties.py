"""The exports over random chat trees (hypothesis): preference pairs, and re-import round trips.

Each tree is built through the library (turns, edits, regenerations, hides,
importer-style swipes that retire the alternatives offered beside the kept
reply, forks) while a plain model records every place: its live turn and the
alternatives it replaced, each with why. Then:

* every retired assistant alternative that a swipe, a regeneration or an edit
  replaced, at a place with a live turn, is in exactly one preference row, and
  nothing else is; ``chosen`` is the live turn there and ``prompt`` the live
  transcript before it;
* the ConvoKit folder has one root per conversation, every reply inside its
  conversation, and index types that match the values, also when the first
  turn has alternatives;
* a ``messages`` export re-imported with ``rpkit import jsonl`` gives the same
  live transcripts, and a ``sharegpt`` export re-imported with ``rpkit import
  sharegpt`` the same turns.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rpkit
from rpkit import exports, frames
from rpkit.cli import main
from rpkit.log import append_replacing

from ..unit.test_exports import check_convokit, read_convokit

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ROLE = {"user_turn": "user", "assistant_turn": "assistant"}
text = st.text(alphabet="abc xyz<>&'\"é\n", min_size=1, max_size=12).map(str.strip).filter(bool)
op = st.one_of(
    st.tuples(st.just("user"), text),
    st.tuples(st.just("bot"), text),
    st.tuples(st.just("swipe"), st.lists(text, min_size=1, max_size=3), text),
    st.tuples(st.just("regen"), st.integers(0, 40), text),
    st.tuples(st.just("edit"), st.integers(0, 40), text),
    st.tuples(st.just("hide"), st.integers(0, 40)),
)


class Place:
    def __init__(self, kind: str, live: int, text: str):
        self.kind, self.live, self.text = kind, live, text
        self.retired: list[tuple[int, str, str]] = []  # (event id, text, source)


def build(conn, ops: list[tuple]) -> list[Place]:
    """Chat 1 from ``ops``; the model's places in order."""
    rpkit.append(conn, "you_set", {"name": "Wren"})
    rpkit.append(conn, "bot_created", {"bot_id": "mira", "name": "Mira"})
    rpkit.append(conn, "chat_created", {"title": "t", "bot_ids": ["mira"]}, chat_id=1)
    places: list[Place] = []
    for o in ops:
        live = [p for p in places if p.live is not None]
        if o[0] == "user":
            places.append(
                Place("user_turn", rpkit.append(conn, "user_turn", {"text": o[1]}, chat_id=1), o[1])
            )
        elif o[0] == "bot":
            new = rpkit.append(conn, "assistant_turn", {"bot_id": "mira", "text": o[1]}, chat_id=1)
            places.append(Place("assistant_turn", new, o[1]))
        elif o[0] == "swipe":  # as an importer writes swipes: alternatives, then the kept one
            alts = [
                (rpkit.append(conn, "assistant_turn", {"bot_id": "mira", "text": t}, chat_id=1), t)
                for t in o[1]
            ]
            kept = {"bot_id": "mira", "text": o[2], "revision": "swipe"}
            new = append_replacing(
                conn, "assistant_turn", kept, replaces=[a for a, _ in alts], chat_id=1
            )
            place = Place("assistant_turn", new, o[2])
            place.retired = [(a, t, "swipe") for a, t in alts]
            places.append(place)
        elif live:
            p = live[o[1] % len(live)]
            if o[0] == "hide":
                rpkit.hide_turn(conn, p.live)
                p.live = None
            elif o[0] == "regen" and p.kind == "assistant_turn":
                new = rpkit.regenerate_turn(conn, p.live, o[2])
                p.retired.append((p.live, p.text, "regenerate"))
                p.live, p.text = new, o[2]
            elif o[0] == "edit":
                new = rpkit.edit_turn(conn, p.live, o[2])
                p.retired.append((p.live, p.text, "edit"))
                p.live, p.text = new, o[2]
    return places


def expected_pairs(places: list[Place]) -> set[tuple]:
    out = set()
    for i, p in enumerate(places):
        if p.live is None or p.kind != "assistant_turn":
            continue
        prompt = tuple((ROLE[q.kind], q.text) for q in places[:i] if q.live is not None)
        for rid, rtext, source in p.retired:
            out.add((prompt, (p.live, p.text), (rid, rtext), source))
    return out


def pairs_of(path: Path) -> list[tuple]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [
        (
            tuple((m["role"], m["content"]) for m in r["prompt"]),
            (r["chosen_event_id"], r["chosen"][0]["content"]),
            (r["rejected_event_id"], r["rejected"][0]["content"]),
            r["source"],
        )
        for r in rows
    ]


@SETTINGS
@given(ops=st.lists(op, max_size=30))
def test_each_replaced_assistant_alternative_is_in_exactly_one_preference_row(ops):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "p.jsonl"
        with rpkit.open_db(Path(tmp) / "h.db") as conn:
            places = build(conn, ops)
            exports.preferences(conn, out)
        got = pairs_of(out)
        assert len(got) == len(set(got))  # exactly one row each
        assert set(got) == expected_pairs(places)


def live_transcripts(conn) -> list[list[tuple[str, str]]]:
    t = frames.transcripts(conn, include_retired=False)
    return [
        [(ROLE[k], x) for k, x in zip(g["kind"].astype(str), g["text"], strict=True)]
        for _, g in t.groupby("chat_id", sort=True)
    ]


@SETTINGS
@given(ops=st.lists(op, min_size=1, max_size=30), forks=st.lists(st.integers(0, 40), max_size=2))
def test_messages_and_sharegpt_exports_reimport_to_the_same_transcripts(ops, forks):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with rpkit.open_db(tmp / "h.db") as conn:
            build(conn, ops)
            turns = frames.turns(conn, 1)["event_id"].tolist()
            for f in forks if turns else []:
                fork = rpkit.fork_chat(conn, int(turns[f % len(turns)]))
                rpkit.append(conn, "user_turn", {"text": "in the fork"}, chat_id=fork)
            want = [t for t in live_transcripts(conn) if t]
            exports.messages(conn, tmp / "m.jsonl")
            exports.sharegpt(conn, tmp / "s.json")
            exports.convokit(conn, tmp / "ck")
        check_convokit(read_convokit(tmp / "ck"))
        if not want:  # nothing to re-import: an empty file is refused as no dataset
            return
        runner = CliRunner()
        for fmt, file in (("jsonl", "m.jsonl"), ("sharegpt", "s.json")):
            db = tmp / f"{fmt}.db"
            result = runner.invoke(main, ["import", fmt, str(tmp / file), str(db)])
            assert result.exit_code == 0, result.output
            with rpkit.open_db(db) as conn:
                assert live_transcripts(conn) == want, fmt


def test_the_pair_check_finds_planted_faults(tmp_path):
    """The model's pairs tell a right export from one that drops, doubles or mislabels a pair."""
    ops = [
        ("swipe", ["a", "b"], "c"),
        ("user", "u"),
        ("bot", "x"),
        ("regen", 2, "y"),
        ("edit", 2, "z"),
    ]
    out = tmp_path / "p.jsonl"
    with rpkit.open_db(tmp_path / "h.db") as conn:
        places = build(conn, ops)
        exports.preferences(conn, out)
    got, want = pairs_of(out), expected_pairs(places)
    assert set(got) == want and len(got) == 4
    dropped = got[:-1]
    doubled = [*got, got[0]]
    mislabelled = [(*g[:3], "regenerate" if g[3] == "edit" else g[3]) for g in got]
    wrong_prompt = [((), *g[1:]) for g in got]
    for fault in (dropped, mislabelled, wrong_prompt):
        assert set(fault) != want
    assert len(doubled) != len(set(doubled))
