"""A per-chat rewind refolds only what it touched; what kinds declare they read decides it."""

from __future__ import annotations

import warnings

import pytest

import rpkit
from rpkit.kinds import KINDS
from rpkit.projection import touched
from rpkit.store import PROJECTED
from rpkit.store.sqlite import sqlite3

from ..helpers import table_rows

CHAT_TABLES = {"chat_state": "chat_id", "memories": "chat_id", "scenes": "chat_id"}


def _rows(db, chat_id) -> dict:
    """Every row of the other chats in the tables keyed by chat (the world's may change)."""
    con = sqlite3.connect(db)
    try:
        return {
            t: con.execute(
                f"SELECT * FROM {t} WHERE {c} IS NOT ? ORDER BY 1", (chat_id,)
            ).fetchall()
            for t, c in CHAT_TABLES.items()
        }
    finally:
        con.close()


def _newest_of_largest_chat(db, k: int) -> tuple[int, int]:
    with rpkit.open_db(db) as conn:
        chat = conn.execute(
            "SELECT chat_id FROM event_log WHERE chat_id IS NOT NULL GROUP BY chat_id "
            "ORDER BY COUNT(*) DESC LIMIT 1"
        ).fetchone()[0]
        n = conn.execute(
            "SELECT id FROM event_log WHERE chat_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
            (chat, k),
        ).fetchone()[0]
    return chat, n


def test_a_chat_rewind_refolds_few_events_and_leaves_other_chats_byte_for_byte(
    tmp_path, monkeypatch
):
    db = tmp_path / "h.db"
    rpkit.demo.build_demo(db, events=1500, seed=3, chats=8)
    chat, n = _newest_of_largest_chat(db, 12)
    with rpkit.open_db(db) as conn:
        removed = rpkit.compute_rewind_preview(conn, n, chat_id=chat)["total_events"]
        tail = rpkit.store.head_id(conn) - n
        expected = rpkit.operations.state_after_chat_rewind(conn, n, chat)
    others = _rows(db, chat)
    folded = []
    real = touched.plan_touched

    def spy(*args):
        plan = real(*args)
        folded.append(len(plan.folded))
        return plan

    monkeypatch.setattr(rpkit.operations.chat_rewind, "plan_touched", spy)
    rpkit.execute_rewind(db_path=db, data_dir=tmp_path, after_event_id=n, chat_id=chat)
    assert folded and folded[0] < tail - removed  # far fewer than the events after the point
    assert _rows(db, chat) == others  # other chats' rows untouched
    with rpkit.open_db(db) as conn:
        assert rpkit.verify(conn).ok
        assert rpkit.diff_states(expected, rpkit.current_state(conn)).empty
        tables = table_rows(conn)
        rpkit.project(conn)
        assert table_rows(conn) == tables  # equals a rebuild


def echo_affinity(sink, ev):
    """Copies the current affinity of an edge into its own table: it reads ``edges``."""
    edge = sink.get("edges", (ev.payload["src"], ev.payload["dst"]))
    sink.put("echoes", {"id": ev.id, "affinity": None if edge is None else edge["affinity"]})
    rpkit.kinds.touch_chat(sink, ev)


@pytest.fixture
def echoes():
    rpkit.register_table("echoes", "id", "id INTEGER Int64\naffinity REAL float64")
    yield
    KINDS.pop("echo", None)
    PROJECTED.pop("echoes")


def _echo_history(db):
    """Two chats; chat 2's echo reads an edge that a chat-1 edge update, later removed, moved."""
    rpkit.demo.build_demo(db, events=60, seed=2, chats=2)
    with rpkit.open_db(db) as conn:
        rpkit.append(conn, "user_turn", {"text": "one"}, chat_id=1)
        point = rpkit.store.head_id(conn)
        edge = {"src": "you", "dst": "mira", "delta": 3.0}
        rpkit.append(conn, "edge_update", edge, chat_id=1)
        rpkit.append(conn, "echo", {"src": "you", "dst": "mira"}, chat_id=2)
    return point


@pytest.mark.parametrize("reads", [None, ("edges",)])
def test_a_kind_that_reads_another_table_is_refolded(echoes, tmp_path, reads):
    rpkit.register_kind(
        "echo",
        "src:str dst:str",
        chat="required",
        effect=echo_affinity,
        reads=reads,
        writes=("echoes", "chat_state"),
    )
    db = tmp_path / "h.db"
    point = _echo_history(db)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rpkit.execute_rewind(db_path=db, data_dir=tmp_path, after_event_id=point, chat_id=1)
    said = [str(w.message) for w in caught if "declares no reads" in str(w.message)]
    assert bool(said) == (reads is None)
    with rpkit.open_db(db) as conn:
        assert rpkit.verify(conn).ok


def test_verify_finds_a_kind_that_reads_more_than_it_declares(echoes, tmp_path):
    """The planted fault: ``echo`` declares it reads nothing; the refold then skips it."""
    rpkit.register_kind(
        "echo",
        "src:str dst:str",
        chat="required",
        effect=echo_affinity,
        reads=(),
        writes=("echoes", "chat_state"),
    )
    db = tmp_path / "h.db"
    point = _echo_history(db)
    rpkit.execute_rewind(db_path=db, data_dir=tmp_path, after_event_id=point, chat_id=1)
    with rpkit.open_db(db) as conn:
        report = rpkit.verify(conn)
    assert not report.ok and "echoes" in set(report.differences["table"])


def test_every_builtin_kind_declares_what_it_reads_and_writes(demo_path):
    """The rollback log of the demo names only tables each kind declares it writes."""
    assert all(k.reads is not None and k.writes for k in KINDS.values() if k.builtin)
    con = sqlite3.connect(demo_path)
    written = con.execute(
        "SELECT DISTINCT e.kind, u.tbl FROM projection_undo u JOIN event_log e ON e.id = u.event_id"
    ).fetchall()
    con.close()
    assert written
    for kind, table in written:
        assert table in KINDS[kind].writes, (kind, table)


def mirror_edge(sink, ev):
    """Moves an edge and copies its new affinity into ``echoes``: that row comes from the edge."""
    p = ev.payload
    key = (p["src"], p["dst"])
    old = sink.get("edges", key)
    affinity = float((0.0 if old is None else old["affinity"]) + p["delta"])
    row = {"src": p["src"], "dst": p["dst"], "affinity": affinity, "last_event_id": ev.id}
    sink.put("edges", {**row, "updates": 1 if old is None else old["updates"] + 1})
    sink.put("echoes", {"id": ev.id, "affinity": affinity})
    rpkit.kinds.touch_chat(sink, ev)


@pytest.mark.parametrize(("reads", "ok"), [(("edges",), True), (None, True), ((), False)])
def test_a_row_computed_from_another_row_it_writes_needs_that_table_in_reads(
    echoes, tmp_path, reads, ok
):
    """A refold recomputes only the dirty rows unless the effect read a dirty row of ``reads``.

    ``mirror`` writes the edge and, from it, an ``echoes`` row: declaring ``reads=()``
    (the planted fault) says that row comes from itself alone, so the refold keeps
    it, and verify finds it stale.
    """
    rpkit.register_kind(
        "mirror",
        "src:str dst:str delta:num",
        chat="required",
        effect=mirror_edge,
        reads=reads,
        writes=("edges", "echoes", "chat_state"),
    )
    db = tmp_path / "h.db"
    rpkit.demo.build_demo(db, events=60, seed=2, chats=2)
    with rpkit.open_db(db) as conn:
        point = rpkit.store.head_id(conn)
        rpkit.append(conn, "edge_update", {"src": "you", "dst": "mira", "delta": 3.0}, chat_id=1)
        rpkit.append(conn, "mirror", {"src": "you", "dst": "mira", "delta": 1.0}, chat_id=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rpkit.execute_rewind(db_path=db, data_dir=tmp_path, after_event_id=point, chat_id=1)
    with rpkit.open_db(db) as conn:
        report = rpkit.verify(conn)
    KINDS.pop("mirror", None)
    assert report.ok == ok
    if not ok:
        assert set(report.differences["table"]) == {"echoes"}


def scene_note(sink, ev):
    """Notes the chat's open scene: it reads its own chat's ``chat_state``, or, planted, chat 1's."""
    chat = 1 if ev.payload.get("of_chat_1") else ev.chat_id
    state = sink.get("chat_state", (chat,))
    scene = None if state is None else state["current_scene_id"]
    sink.put("notes", {"id": ev.id, "chat_id": ev.chat_id, "scene_id": scene})
    rpkit.kinds.touch_chat(sink, ev)


@pytest.fixture
def notes():
    rpkit.register_table(
        "notes", "id", "id INTEGER Int64\nchat_id INTEGER Int64\nscene_id INTEGER Int64"
    )
    rpkit.register_kind(
        "scene_note",
        "of_chat_1:int?",
        chat="required",
        effect=scene_note,
        reads=("chat_state",),
        reads_own_chat=True,
        writes=("notes", "chat_state"),
    )
    yield
    KINDS.pop("scene_note", None)
    PROJECTED.pop("notes")


def _notes_history(db, planted: bool) -> tuple[int, list[int]]:
    """Chat 1 opens a scene that a rewind of chat 1 removes; chat 2 notes its scene after it."""
    rpkit.demo.build_demo(db, events=60, seed=2, chats=2)
    with rpkit.open_db(db) as conn:
        point = rpkit.store.head_id(conn)
        rpkit.append(conn, "scene_started", {"container_id": 3, "title": "later"}, chat_id=1)
        payload = {"of_chat_1": 1} if planted else {}
        notes = [rpkit.append(conn, "scene_note", payload, chat_id=2) for _ in range(3)]
    return point, notes


def test_a_kind_that_reads_its_own_chat_is_not_refolded_in_other_chats(
    notes, tmp_path, monkeypatch
):
    db = tmp_path / "h.db"
    point, notes_of_chat_2 = _notes_history(db, planted=False)
    folded = []
    real = touched.plan_touched
    monkeypatch.setattr(
        rpkit.operations.chat_rewind,
        "plan_touched",
        lambda *a: folded.append(real(*a)) or folded[-1],
    )
    rpkit.execute_rewind(db_path=db, data_dir=tmp_path, after_event_id=point, chat_id=1)
    assert folded and not set(folded[0].folded) & set(notes_of_chat_2)
    with rpkit.open_db(db) as conn:
        assert rpkit.verify(conn).ok


def test_verify_finds_a_kind_that_reads_another_chat_while_declaring_its_own(notes, tmp_path):
    """The planted fault: chat 2's notes read chat 1's scene, which the rewind removes."""
    db = tmp_path / "h.db"
    point, _ = _notes_history(db, planted=True)
    rpkit.execute_rewind(db_path=db, data_dir=tmp_path, after_event_id=point, chat_id=1)
    with rpkit.open_db(db) as conn:
        report = rpkit.verify(conn)
    assert not report.ok and set(report.differences["table"]) == {"notes"}


@pytest.mark.parametrize(("chat", "reads"), [("optional", ("chat_state",)), ("required", ())])
def test_reads_own_chat_needs_a_chat_and_tables_it_reads(chat, reads):
    before = dict(KINDS)
    with pytest.raises(rpkit.EventError, match="reads_own_chat=True") as info:
        rpkit.register_kind("odd_note", chat=chat, reads=reads, reads_own_chat=True)
    assert repr(chat) in str(info.value) and repr(reads) in str(info.value)
    assert dict(KINDS) == before


def test_a_replaced_effect_that_reads_its_own_chat_needs_tables_it_reads():
    before = dict(KINDS)
    with pytest.raises(rpkit.EventError, match="reads_own_chat=True with chat='required'"):
        rpkit.handler("scene_ended", reads=(), reads_own_chat=True)(lambda sink, ev: None)
    assert dict(KINDS) == before
