"""rpkit.frames: the exact columns and dtypes of the loaders, and their values against a
row-by-row reading of the log (a history with extra fields, nulls, varied key orders,
edits and more payloads of one kind than the loader decodes at a time)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import rpkit
from rpkit import frames
from rpkit.log import edit_turn, hide_turn
from rpkit.store import atomic

from ..helpers import DEMO_EVENTS, copy_demo

EVENT_DTYPES = {
    "id": "Int64",
    "ts": "datetime64[us, UTC]",
    "chat_id": "Int64",
    "kind": "category",
    "cause_id": "Int64",
    "hidden": "bool",
    "superseded_by": "Int64",
    "name": "string",
    "persona": "string",
    "bot_id": "string",
    "title": "string",
    "bot_ids": "object",
    "parent_chat_id": "Int64",
    "forked_from_event_id": "Int64",
    "text": "string",
    "revision": "string",
    "replaces": "Int64",
    "src": "string",
    "dst": "string",
    "delta": "float64",
    "reason": "string",
    "owner": "string",
    "salience": "float64",
    "container_id": "Int64",
    "container_kind": "string",
    "parent_id": "Int64",
    "entity": "string",
    "action": "string",
    "stage": "string",
    "error": "string",
    "target": "Int64",
}

AFFINITY_DTYPES = {
    "event_id": "Int64",
    "ts": "datetime64[us, UTC]",
    "chat_id": "Int64",
    "turn": "Int64",
    "place_id": "Int64",
    "cause_id": "Int64",
    "position": "Int64",
    "src": "string",
    "dst": "string",
    "pair": "category",
    "delta": "float64",
    "affinity": "float64",
    "updates": "Int64",
}


def _dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return {name: str(dtype) for name, dtype in frame.dtypes.items()}


def test_events_and_affinity_columns_and_dtypes_are_pinned(tmp_path):
    with rpkit.open_db(copy_demo(tmp_path)) as conn:
        ev = frames.events(conn, include_retired=True)
        live = frames.events(conn)
        tl = frames.affinity(conn)
    assert _dtypes(ev) == EVENT_DTYPES and list(ev.columns) == list(EVENT_DTYPES)
    assert list(live.columns) == list(EVENT_DTYPES)
    assert _dtypes(live) == EVENT_DTYPES
    assert _dtypes(tl) == AFFINITY_DTYPES and list(tl.columns) == frames.AFFINITY_COLUMNS
    # pandas' own string dtype with NA (not the NaN-based "str"), for text columns
    for col in ("text", "src", "container_kind"):
        assert ev[col].dtype == pd.StringDtype("python", na_value=pd.NA), col
        assert ev[col].isna().any() and ev[col].array[ev[col].isna().to_numpy()][0] is pd.NA
    assert ev["kind"].cat.categories.tolist() == list(rpkit.KINDS)
    assert ev["hidden"].tolist() == ev["superseded_by"].notna().tolist()
    dumped = [json.loads(line) for line in DEMO_EVENTS.read_text(encoding="utf-8").splitlines()]
    retired = sum(e["hidden"] for e in dumped)  # counted in the committed dump, not the db
    assert ev["hidden"].sum() == retired > 0 and not live["hidden"].any()
    assert live["superseded_by"].isna().all()
    assert (ev["ts"].diff().dropna() >= pd.Timedelta(0)).all()
    assert tl["pair"].cat.categories.tolist() == sorted(set(tl["pair"].astype(str)))


@pytest.fixture
def rich(conn):
    """More user turns than one decoding chunk, extra keys late, nulls, edits, hides."""
    n_turns = frames.event_table.CHUNK + 300
    with atomic(conn):
        rpkit.append(conn, "you_set", {"name": "Ada", "persona": None, "source": "st"})
        rpkit.append(conn, "bot_created", {"name": "Bo", "bot_id": "bo"})
        rpkit.append(conn, "bot_created", {"bot_id": "cy", "name": "Cy", "persona": "dry"})
        chat = rpkit.next_chat_id(conn)
        rpkit.append(conn, "chat_created", {"title": "t", "bot_ids": ["bo", "cy"]}, chat_id=chat)
        turns = []
        for i in range(n_turns):
            payload = {"text": f'line {i} \u2192 \U0001f600 "q"'}
            if i == n_turns - 5:  # an extra key only in the last chunk
                payload["lang"] = "en"
            turns.append(rpkit.append(conn, "user_turn", payload, chat_id=chat))
            if i % 1000 == 0:
                reply = (
                    {"text": f"reply {i}", "bot_id": "bo"}
                    if i % 2000
                    else {"bot_id": "cy", "text": "r"}
                )
                rpkit.append(conn, "assistant_turn", reply, chat_id=chat)
                edge = {"src": "bo", "dst": "you", "delta": 1 if i % 3000 else 0.25}
                if i % 4000 == 0:
                    edge["reason"] = "kind words"
                rpkit.append(conn, "edge_update", edge, chat_id=chat, cause_id=turns[-1])
    edit_turn(conn, turns[10], "edited")
    hide_turn(conn, turns[20])
    return conn


def _reference_check(ev: pd.DataFrame, rows: list[tuple]) -> None:
    """Every cell against the row and its payload read one by one with ``json``."""
    payload_cols = [c for c in ev.columns if c not in frames.EVENT_COLUMNS]
    records = ev.to_dict("records")
    assert len(records) == len(rows)
    for rec, (id_, ts, chat, kind, payload, cause, hidden, sup) in zip(records, rows, strict=True):
        assert rec["id"] == id_ and rec["kind"] == kind and rec["hidden"] == bool(hidden)
        assert rec["ts"] == pd.Timestamp(ts)
        for col, value in (("chat_id", chat), ("cause_id", cause), ("superseded_by", sup)):
            assert pd.isna(rec[col]) if value is None else rec[col] == value, (id_, col)
        p = json.loads(payload)
        named = {frames.RENAMED.get(k, k): v for k, v in p.items()}
        for col in payload_cols:
            value = named.get(col)
            if value is None:
                assert rec[col] is None or pd.isna(rec[col]), (id_, col)
            else:
                assert rec[col] == value, (id_, col)


def test_events_equal_a_row_by_row_reading(rich):
    ev = frames.events(rich, include_retired=True)
    rows = rich.execute(
        "SELECT id, ts, chat_id, kind, payload, cause_id, hidden, superseded_by "
        "FROM event_log ORDER BY id"
    ).fetchall()
    _reference_check(ev, rows)
    # catalogue fields of the kinds present in catalogue order, then the extras
    assert list(ev.columns) == [
        *frames.EVENT_COLUMNS,
        *["name", "persona", "bot_id", "title", "bot_ids", "parent_chat_id"],
        *["forked_from_event_id", "text", "revision", "replaces"],
        *["src", "dst", "delta", "reason", "target", "source", "lang"],
    ]
    assert str(ev["lang"].dtype) == "string" and ev["lang"].notna().sum() == 1
    assert str(ev["source"].dtype) == "string" and ev["source"].notna().sum() == 1
    assert ev["persona"].isna().sum() == len(ev) - 1  # the null persona is NA
    assert ev["delta"].dropna().tolist() == [
        0.25 if i % 3000 == 0 else 1.0 for i in range(0, frames.event_table.CHUNK + 300, 1000)
    ]
    edited = ev[ev["revision"].notna()]
    assert edited["revision"].tolist() == ["edit"] and str(ev["replaces"].dtype) == "Int64"
    live = frames.events(rich)
    _reference_check(live, [r for r in rows if r[7] is None])
    assert _dtypes(live) == _dtypes(ev)


def test_affinity_equals_a_dict_loop(rich):
    tl = frames.affinity(rich)
    rows = rich.execute(
        "SELECT id, chat_id, cause_id, payload FROM event_log "
        "WHERE kind = 'edge_update' AND hidden = 0 ORDER BY id"
    ).fetchall()
    running: dict[tuple[str, str], float] = {}
    counts: dict[tuple[str, str], int] = {}
    expected = []
    for id_, chat, cause, payload in rows:
        p = json.loads(payload)
        pair = (p["src"], p["dst"])
        running[pair] = running.get(pair, 0.0) + p["delta"]
        counts[pair] = counts.get(pair, 0) + 1
        expected.append((id_, chat, cause, *pair, float(p["delta"]), running[pair], counts[pair]))
    got = list(
        zip(
            *(tl[c].tolist() for c in ("event_id", "chat_id", "cause_id", "src", "dst")),
            tl["delta"].tolist(),
            tl["affinity"].tolist(),
            tl["updates"].tolist(),
            strict=True,
        )
    )
    assert got == expected
    assert _dtypes(tl) == AFFINITY_DTYPES
    # positions count the live transcript: the hidden turn's followers move up by one
    turns = frames.turns(rich, 1, include_retired=False)
    where = dict(zip(turns["event_id"].tolist(), turns["position"].tolist(), strict=True))
    assert tl["position"].tolist() == [where.get(c, pd.NA) for c in tl["cause_id"].tolist()]
    live = sorted(
        r[0]
        for r in rich.execute(
            "SELECT id FROM event_log WHERE hidden = 0 AND kind IN ('user_turn', 'assistant_turn')"
        )
    )
    assert np.array_equal(
        tl["turn"].to_numpy(np.int64),
        np.searchsorted(live, tl["event_id"].to_numpy(np.int64), "right"),
    )


def test_events_read_in_pieces_equal_events_read_at_once(rich, monkeypatch):
    """Rows are read and decoded a piece at a time: the frame is the same however they fall."""
    with atomic(rich):  # a kind not catalogued, an extra key that is another kind's field,
        # and a timestamp finer than the others (its piece parses to another unit)
        rich.executemany(
            "INSERT INTO event_log(ts, chat_id, kind, payload) VALUES (?, ?, ?, ?)",
            [
                ("2030-01-01T00:00:00.123456789Z", None, "x_note", '{"note": "n", "text": 1}'),
                ("2030-01-01T00:00:01.000000Z", 1, "user_turn", '{"text": "t", "delta": 2}'),
                ("2030-01-01T00:00:02.000000Z", None, "y_mark", '{"src": "s"}'),
            ],
        )
    whole = [frames.events(rich), frames.events(rich, include_retired=True)]
    assert str(whole[1]["ts"].dtype) == "datetime64[ns, UTC]"
    assert whole[1]["kind"].cat.categories.tolist()[-2:] == ["x_note", "y_mark"]
    for size in (1, 7, 4000):
        monkeypatch.setattr(frames.event_table, "FETCH", size)
        monkeypatch.setattr(frames.payloads, "CHUNK", 3)
        for read, expected in zip(
            [frames.events(rich), frames.events(rich, include_retired=True)], whole, strict=True
        ):
            pd.testing.assert_frame_equal(read, expected, check_exact=True)
            assert list(read.dtypes) == list(expected.dtypes)
