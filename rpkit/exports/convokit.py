"""``convokit``: a ConvoKit corpus folder, in ConvoKit's documented format (ConvoKit not needed).

The folder holds ``utterances.jsonl`` (one utterance a line: ``id``,
``conversation_id``, ``speaker``, ``reply_to``, ``timestamp``, ``text``,
``meta``, ``vectors``), ``speakers.json`` and ``conversations.json`` (id ->
``{"meta", "vectors"}``), ``corpus.json`` (the corpus's meta) and
``index.json`` (each meta field's types, as ConvoKit writes them).

One conversation per root chat, its forks inside it. Its root utterance is the
root chat's ``chat_created`` event (text: the title, speaker: you), so a
conversation has exactly one root even when the first turn has alternatives (a
greeting with swipes): they are all replies to it. Every turn is an utterance,
retired ones included; it replies to the live turn before its place, so the
alternatives at one place are siblings. A fork's copied turns are utterances
too: its first replies to the root, as the turn it copies does, so the fork is
a branch of the same tree. Utterance ids are event ids (as strings).
"""

from __future__ import annotations

from os import PathLike
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ..frames import tree_order
from ..kinds import CHAT_CREATED, YOU
from ..store.sqlite import sqlite3
from .files import check_output, written
from .report import ExportReport
from .tree import Tree, read_tree, speaker_label

KIND = "convokit"
FILES = ("utterances.jsonl", "speakers.json", "conversations.json", "corpus.json", "index.json")


def _value(v: Any) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    return v.item() if isinstance(v, np.generic) else v


def _seconds(ts: pd.Timestamp) -> int | None:
    return None if pd.isna(ts) else int(ts.timestamp())


def utterances(tree: Tree) -> list[dict[str, Any]]:
    """Every utterance of the corpus: per root chat its root, then its chats' turns in tree order."""
    chats = tree.chats.set_index("chat_id", drop=False)
    slices = tree.chat_slices()
    t = tree.turns
    ids = t["event_id"].to_numpy(dtype=np.int64)
    position = t["position"].to_numpy(dtype=np.float64, na_value=np.nan)
    retired = t["retired"].to_numpy(dtype=bool)
    cols = {"kind": t["kind"].astype(object).to_numpy(), "replaced_how": tree.hows()}
    replaced_by = t["replaced_by"].astype(object).to_numpy()
    msgs = tree.messages()
    out: list[dict[str, Any]] = []
    for chat in tree_order(tree.chats):
        c = chats.loc[chat]
        root_chat = int(c["root_chat_id"])
        conversation = str(int(chats.loc[root_chat, "created_event_id"]))
        if chat == root_chat:
            out.append(
                {
                    "id": conversation,
                    "conversation_id": conversation,
                    "speaker": tree.name(YOU),
                    "reply_to": None,
                    "timestamp": _seconds(c["created_at"]),
                    "text": "" if pd.isna(c["title"]) else str(c["title"]),
                    "meta": _meta(
                        int(conversation), chat, CHAT_CREATED, None, False, None, None, None
                    ),
                    "vectors": [],
                }
            )
        part = slices.get(chat)
        if part is None:
            continue
        parent, last_live, group = conversation, conversation, None
        for i in range(part.start, part.stop):
            key = ("p", position[i]) if not np.isnan(position[i]) else ("h", ids[i])
            if key != group:  # a new place: its turns answer the live turn before it
                group, parent = key, last_live
            out.append(
                {
                    "id": str(ids[i]),
                    "conversation_id": conversation,
                    "speaker": speaker_label(msgs[i]),
                    "reply_to": parent,
                    "timestamp": _seconds(t["ts"].iat[i]),
                    "text": msgs[i]["content"],
                    "meta": _meta(
                        int(ids[i]),
                        chat,
                        str(cols["kind"][i]),
                        None if np.isnan(position[i]) else int(position[i]),
                        bool(retired[i]),
                        _value(replaced_by[i]),
                        cols["replaced_how"][i] or None,
                        tree.deltas.get(int(ids[i])),
                    ),
                    "vectors": [],
                }
            )
            if not retired[i]:
                last_live = str(ids[i])
    return out


def _meta(event_id, chat, kind, position, retired, replaced_by, how, delta) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "chat_id": int(chat),
        "kind": kind,
        "position": position,
        "retired": retired,
        "replaced_by": None if replaced_by is None else int(replaced_by),
        "replaced_how": how,
        "affinity_delta": None if delta is None else float(delta),
    }


def type_index(metas: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each meta field's types, as ConvoKit's index.json writes them (``"<class 'int'>"``)."""
    index: dict[str, list[str]] = {}
    for meta in metas:
        for k, v in meta.items():
            t = str(type(v))
            if t not in index.setdefault(k, []):
                index[k].append(t)
    return index


def corpus_files(tree: Tree) -> dict[str, Any]:
    """The five files' contents (``utterances.jsonl`` as a list of utterances)."""
    utts = utterances(tree)
    chats = tree.chats
    speakers = {}
    for speaker_id, name in tree.speakers.items():
        shown_id = name if speaker_id in tree.renamed else speaker_id  # ids often hold names
        meta = {"rpkit_id": shown_id, "persona": tree.personas.get(speaker_id)}
        speakers.setdefault(name, {"meta": meta, "vectors": []})
    used = {u["speaker"] for u in utts}
    speakers = {n: s for n, s in speakers.items() if n in used}
    for name in sorted(used - set(speakers)):
        speakers[name] = {"meta": {"rpkit_id": name, "persona": None}, "vectors": []}
    conversations = {}
    for r in chats[chats["parent_chat_id"].isna()].itertuples():
        members = chats[chats["root_chat_id"] == r.chat_id]["chat_id"].astype(int).tolist()
        conversations[str(int(r.created_event_id))] = {
            "meta": {
                "chat_id": int(r.chat_id),
                "title": None if pd.isna(r.title) else str(r.title),
                "chats": members,
                "model": tree.models.get(int(r.chat_id)),
            },
            "vectors": [],
        }
    corpus_meta = {"history": tree.history, "exported_by": "rpkit"}
    index = {
        "utterances-index": type_index([u["meta"] for u in utts]),
        "speakers-index": type_index([s["meta"] for s in speakers.values()]),
        "conversations-index": type_index([c["meta"] for c in conversations.values()]),
        "overall-index": type_index([corpus_meta]),
        "version": 1,
        "vectors": [],
    }
    return {
        "utterances.jsonl": utts,
        "speakers.json": speakers,
        "conversations.json": conversations,
        "corpus.json": corpus_meta,
        "index.json": index,
    }


def convokit(
    conn: sqlite3.Connection,
    out: str | PathLike[str],
    *,
    names: object = None,
    replace: bool = False,
    durable: bool = False,
) -> ExportReport:
    """Write the history as a ConvoKit corpus folder ``out`` (see the module's docstring)."""
    path, _ = check_output(out, KIND, None, replace=replace)
    files = corpus_files(read_tree(conn, names=names))
    with written(path, folder=True, durable=durable) as temp:
        with open(temp / "utterances.jsonl", "wb") as f:
            for u in files["utterances.jsonl"]:
                f.write(orjson.dumps(u) + b"\n")
        for name in FILES[1:]:
            (temp / name).write_bytes(orjson.dumps(files[name]))
    return ExportReport(KIND, path, len(files["utterances.jsonl"]), "utterance")
