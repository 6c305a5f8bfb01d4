"""A history's chats as a tree, read once through the frames for every export.

``read_tree(conn)`` holds what the exports need: every chat's transcript with
its retired alternatives (``frames.transcripts``), the chats' lineage
(``frames.chats``), who speaks (``frames.events`` of ``you_set`` and
``bot_created``), each chat's model where its import kept one, and the
affinity delta each turn caused. No export runs SQL of its own.

A turn becomes a message ``{role, content, name}``: ``role`` is ``user`` for
your turns, ``assistant`` for a bot's, ``system`` for an imported system
message; ``name`` is the speaker's name after the ``names`` mapping (None for a
system message, which no one in the chat said; ``speaker_label`` gives exports
that need one ``System``), which
``tree_of`` also applies to the texts, titles and personas
(``rpkit.exports.names``), once for every export. An import
keeps a system message as a hidden turn with ``role: system`` (it is no turn of
the chat), but the model read it, so every export shows it where it was, as
part of the conversation (``shown``); other hidden turns (hidden by you, or by
the app) are shown only with ``include_retired``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import frames
from ..kinds import BOT_CREATED, CHAT_CREATED, EDGE_UPDATE, KINDS, USER_TURN, YOU, YOU_SET
from ..store import atomic, db_path_of
from ..store.sqlite import sqlite3
from .errors import ExportNamesError
from .names import Renames, renames_of

USER, ASSISTANT, SYSTEM = "user", "assistant", "system"
SYSTEM_LABEL = "System"  # who says a system message, where an export needs a speaker
HIDE = "hide"
# How a retired turn was replaced, as a preference pair's source: every other
# revision word (an importer's swipe, sibling, retry, alternative) is a swipe.
EDIT, REGENERATE, SWIPE = "edit", "regenerate", "swipe"


def check_names(names: object) -> dict[str, str]:
    """``names`` as a dict of str to str (None: no mapping); refuse anything else by value."""
    if names is None:
        return {}
    if not isinstance(names, Mapping):
        raise ExportNamesError(
            f"names must map speaker names to exported names (a dict of str to str), "
            f"not a {type(names).__name__}"
        )
    for old, new in names.items():
        if not isinstance(old, str) or not isinstance(new, str) or not new.strip():
            raise ExportNamesError(
                f"names must map str to a non-empty str; {old!r} -> {new!r} is not: "
                "give e.g. {'Alice': 'user'}"
            )
    return dict(names)


def parse_names(pairs: tuple[str, ...]) -> dict[str, str] | None:
    """``--name OLD=NEW`` options as a mapping; refuse one without ``=``."""
    if not pairs:
        return None
    names = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old:
            raise ExportNamesError(f"--name takes OLD=NEW (e.g. --name Alice=user), not {pair!r}")
        names[old] = new
    return names


def source_of(how: object) -> str | None:
    """The preference source of a retired turn's ``replaced_how`` (None: not a pair)."""
    if not how or how is pd.NA or how == HIDE or how in KINDS:
        return None
    return how if how in (EDIT, REGENERATE) else SWIPE


@dataclass
class Tree:
    """A history's turns, chats and speakers, as the exports read them."""

    history: str
    turns: pd.DataFrame  # frames.transcripts (retired turns included), chat after chat
    chats: pd.DataFrame  # frames.chats
    speakers: dict[str, str]  # speaker id ("you", a bot id) -> exported name
    personas: dict[str, str | None] = field(default_factory=dict)
    models: dict[int, str] = field(default_factory=dict)  # chat id -> model
    deltas: dict[int, float] = field(default_factory=dict)  # turn id -> affinity delta caused
    roles: dict[int, str] = field(default_factory=dict)  # turn id -> role other than by kind
    renamed: frozenset[str] = frozenset()  # speaker ids whose name ``names`` mapped
    renames: Renames = field(default_factory=lambda: Renames({}))  # applied to the texts

    def hows(self) -> np.ndarray:
        """Each row's ``replaced_how`` as an object array, ``""`` for a live turn."""
        return self.turns["replaced_how"].fillna("").astype(object).to_numpy()

    def shown(self, include_retired: bool = False) -> np.ndarray:
        """Which rows of ``turns`` a conversation holds: live turns and system messages.

        With ``include_retired`` also every other hidden turn; never an alternative
        that was replaced.
        """
        retired = self.turns["retired"].to_numpy(dtype=bool)
        hidden = self.hows() == HIDE
        system = self.turns["event_id"].isin(list(self.roles)).to_numpy(dtype=bool)
        return ~retired | (hidden & (system | include_retired))

    def name(self, speaker: object) -> str:
        speaker = str(speaker)
        return self.speakers.get(speaker) or self.renames.words.get(speaker, speaker)

    def chat_slices(self) -> dict[int, slice]:
        """Each chat's rows of ``turns`` (they are contiguous, in reading order)."""
        chats = self.turns["chat_id"].to_numpy(dtype=np.int64)
        if not len(chats):
            return {}
        starts = np.flatnonzero(np.r_[True, chats[1:] != chats[:-1]])
        ends = np.r_[starts[1:], len(chats)]
        return {int(chats[s]): slice(int(s), int(e)) for s, e in zip(starts, ends, strict=True)}

    def messages(self) -> list[dict[str, Any]]:
        """One message per row of ``turns``: ``{role, content, name}``."""
        return list(self.messages_at(np.arange(len(self.turns))).values())

    def messages_at(self, rows: np.ndarray) -> dict[int, dict[str, Any]]:
        """The messages of some rows of ``turns`` only (by row), for exports that need few."""
        t = self.turns
        rows = np.asarray(rows, dtype=np.int64)
        kinds = t["kind"].astype(object).to_numpy()[rows]
        ids = t["event_id"].to_numpy(dtype=np.int64)[rows]
        speakers = t["speaker"].astype(object).to_numpy()[rows]
        names = {s: self.name(s) for s in pd.unique(speakers)}
        texts = t["text"].astype(object).to_numpy()[rows]
        texts = np.where(pd.isna(texts), "", texts)
        roles = self.roles
        by_kind = {USER_TURN: USER}
        out = {}
        for r, i, k, x, s in zip(rows.tolist(), ids.tolist(), kinds, texts, speakers, strict=True):
            role = roles.get(i) or by_kind.get(k, ASSISTANT)
            out[r] = {"role": role, "content": x, "name": None if role == SYSTEM else names[s]}
        return out


def speaker_label(message: dict[str, Any]) -> str:
    """Who says ``message``, for an export that needs a speaker: its name, or ``System``."""
    return message["name"] or SYSTEM_LABEL


def history_name(conn: sqlite3.Connection) -> str:
    """The history's name: its file's stem (``""`` for a database in memory)."""
    path = db_path_of(conn)
    return path.stem if path.name else ""


def speaker_names(
    people: pd.DataFrame, you: pd.DataFrame, names: dict[str, str]
) -> tuple[dict[str, str], dict[str, str | None], dict[str, set[str]], dict[str, str]]:
    """Speaker id -> exported name (the ``names`` mapping applied), each one's persona,
    every name the history gave each one (its aliases) and the one it shows now."""
    shown: dict[str, str] = {YOU: "You"}
    personas: dict[str, str | None] = {}
    aliases: dict[str, set[str]] = {YOU: {"You"}}
    if len(you):
        last = you.iloc[-1]
        shown[YOU] = str(last["name"])
        personas[YOU] = _text(last.get("persona"))
        aliases[YOU] = {str(n) for n in you["name"] if not pd.isna(n)}
    for row in people.itertuples():
        shown[str(row.bot_id)] = str(row.name)
        personas[str(row.bot_id)] = _text(getattr(row, "persona", None))
        aliases.setdefault(str(row.bot_id), set()).add(str(row.name))
    mapped = {s: names.get(n, names.get(s, n)) for s, n in shown.items()}
    return mapped, personas, aliases, shown


def _text(value: object) -> str | None:
    return None if value is None or value is pd.NA or pd.isna(value) else str(value)


def read_tree(
    conn: sqlite3.Connection,
    *,
    names: object = None,
    history: str | None = None,
    deltas: bool = True,
    roles: bool = True,
    lineage: bool = True,
) -> Tree:
    """Read a history as a ``Tree``, in one read transaction (see the module's docstring).

    ``deltas``, ``roles`` and ``lineage`` say whether to read the affinity
    deltas, the roles of hidden system messages and ``frames.chats`` (without
    it ``chats`` is empty): an export reads only what it writes.
    """
    names = check_names(names)
    with atomic(conn, write=False):
        turns = frames.transcripts(conn)
        hidden = roles and bool((turns["replaced_how"] == HIDE).any())
        tables = {
            "turns": turns,
            "chats": frames.chats(conn) if lineage else pd.DataFrame(columns=frames.CHAT_COLUMNS),
            "bots": frames.events(conn, kind=BOT_CREATED),
            "you": frames.events(conn, kind=YOU_SET),
            "created": frames.events(conn, kind=CHAT_CREATED),
            "edges": frames.events(conn, kind=EDGE_UPDATE, include_retired=True)
            if deltas
            else None,
            "users": frames.events(conn, kind=USER_TURN, include_retired=True) if hidden else None,
        }
        history = history_name(conn) if history is None else history
    return tree_of(history, names=names, **tables)


# The events columns a tree reads (a corpus's ``events`` partition is read for only these).
EVENT_COLUMNS = [
    "id",
    "chat_id",
    "kind",
    "cause_id",
    "bot_id",
    "name",
    "persona",
    "model",
    "delta",
    "role",
]


def tree_of_events(
    history: str,
    turns: pd.DataFrame,
    chats: pd.DataFrame,
    events: pd.DataFrame,
    *,
    names: object = None,
) -> Tree:
    """A ``Tree`` from a history's ``turns``, ``chats`` and ``events`` frames (a corpus's partitions)."""
    kind = events["kind"].astype(object)
    return tree_of(
        history,
        names=check_names(names),
        turns=turns,
        chats=chats,
        bots=events[kind == BOT_CREATED],
        you=events[kind == YOU_SET],
        created=events[kind == CHAT_CREATED],
        edges=events[kind == EDGE_UPDATE],
        users=events[kind == USER_TURN],
    )


def tree_of(
    history: str,
    *,
    names: dict[str, str],
    turns: pd.DataFrame,
    chats: pd.DataFrame,
    bots: pd.DataFrame,
    you: pd.DataFrame,
    created: pd.DataFrame,
    edges: pd.DataFrame | None,
    users: pd.DataFrame | None,
) -> Tree:
    """A ``Tree`` from the frames ``read_tree`` reads (each ``frames.events`` of one kind)."""
    speakers, personas, aliases, shown = speaker_names(bots, you, names)
    renames = renames_of(names, aliases, speakers)
    if renames.pattern is not None:  # one rewrite for every export (rpkit.exports.names)
        turns = turns.assign(text=renames.column(turns["text"]))
        if len(chats):
            chats = chats.assign(title=renames.column(chats["title"]))
        personas = {s: renames.text(p) for s, p in personas.items()}
    renamed = frozenset(s for s, n in speakers.items() if n != shown[s])
    tree = Tree(history, turns, chats, speakers, personas, renamed=renamed, renames=renames)
    if "model" in created.columns:
        tree.models = {
            int(c): str(m) for c, m in zip(created["chat_id"], created["model"], strict=True)
            if not pd.isna(m)
        }  # fmt: skip
    if edges is not None and len(edges):
        summed = edges.groupby("cause_id")["delta"].sum()
        tree.deltas = dict(zip(summed.index.astype(int), summed.astype(float), strict=True))
    if users is not None and "role" in users.columns:
        system = users[users["role"] == SYSTEM]
        tree.roles = dict.fromkeys(system["id"].astype(int).tolist(), SYSTEM)
    return tree
