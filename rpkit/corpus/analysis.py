"""Corpus-level analysis computed by Dask: each history's partition is reduced where it is
read (``map_partitions``), and only the small per-history results are combined.

* ``summary``: one row per history (chats, turns, events, speakers, first and
  last time, final affinity per pair);
* ``trajectories``: affinity aligned by turn position across histories, the
  median and a quantile band per pair role (``bot → you``, ``you → bot``,
  ``bot → bot``);
* ``turns_per_speaker``; ``revisions`` and ``revision_positions``: how often
  people edit, regenerate, swipe or hide, and where in a chat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..classify import YOU

if TYPE_CHECKING:
    from .reader import Corpus

ROLES = ("bot → you", "you → bot", "bot → bot")
_TS = "datetime64[us, UTC]"


def _events_part(df: pd.DataFrame) -> pd.DataFrame:
    g = df.assign(live=~df["hidden"]).groupby("history", observed=True)
    out = pd.DataFrame(
        {
            "events": g["live"].sum().astype("int64"),
            "retired_events": g["hidden"].sum().astype("int64"),
            "first": g["ts"].min().astype(_TS),
            "last": g["ts"].max().astype(_TS),
        }
    )
    return out.reset_index().astype({"history": "string"})


def _turns_part(df: pd.DataFrame) -> pd.DataFrame:
    live = df[~df["retired"]]
    g = live.groupby("history", observed=True)
    out = pd.DataFrame(
        {"turns": g.size().astype("int64"), "speakers": g["speaker"].nunique().astype("int64")}
    )
    return out.reset_index().astype({"history": "string"})


def _chats_part(df: pd.DataFrame) -> pd.DataFrame:
    out = df.groupby("history", observed=True).size().astype("int64").rename("chats")
    return out.reset_index().astype({"history": "string"})


def _final_part(df: pd.DataFrame) -> pd.DataFrame:
    last = df.groupby(["history", "pair"], observed=True, sort=True).tail(1)
    return pd.DataFrame(
        {
            "history": last["history"].astype("string").to_numpy(),
            "pair": last["pair"].astype("string").to_numpy(),
            "affinity": last["affinity"].to_numpy(dtype=np.float64),
        }
    )


def _meta(**dtypes: Any) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=d) for c, d in dtypes.items()})


def final_affinity(corpus: Corpus) -> pd.DataFrame:
    """The final affinity of every pair of every history (long form)."""
    part = corpus.affinity[["history", "pair", "affinity"]].map_partitions(
        _final_part, meta=_meta(history="string", pair="string", affinity="float64")
    )
    (frame,) = corpus.compute(part)
    return frame.sort_values(["history", "pair"]).reset_index(drop=True)


def summary(corpus: Corpus) -> pd.DataFrame:
    """One row per history: chats, turns (live), speakers, events (live, retired), times.

    ``final_affinity`` holds a dict ``{pair: affinity}`` of the history's pairs
    (``final_affinity(corpus)`` has the same in long form).
    """
    events = corpus.events[["history", "hidden", "ts"]].map_partitions(
        _events_part,
        meta=_meta(history="string", events="int64", retired_events="int64", first=_TS, last=_TS),
    )
    turns = corpus.turns[["history", "retired", "speaker"]].map_partitions(
        _turns_part, meta=_meta(history="string", turns="int64", speakers="int64")
    )
    chats = corpus.chats[["history", "chat_id"]].map_partitions(
        _chats_part, meta=_meta(history="string", chats="int64")
    )
    final = corpus.affinity[["history", "pair", "affinity"]].map_partitions(
        _final_part, meta=_meta(history="string", pair="string", affinity="float64")
    )
    ev, tu, ch, fa = corpus.compute(events, turns, chats, final)
    rows = pd.DataFrame({"history": pd.array(corpus.histories, dtype="string")})
    for part in (ch, tu, ev):
        rows = rows.merge(part, on="history", how="left")
    counts = ["chats", "turns", "speakers", "events", "retired_events"]
    rows[counts] = rows[counts].fillna(0).astype("int64")
    pairs = {h: dict(zip(g["pair"], g["affinity"], strict=True)) for h, g in fa.groupby("history")}
    rows["final_affinity"] = pd.Series([pairs.get(h, {}) for h in rows["history"]], dtype=object)
    return rows[["history", *counts, "first", "last", "final_affinity"]]


def pair_role(src: pd.Series, dst: pd.Series) -> np.ndarray:
    """``you → bot``, ``bot → you`` or ``bot → bot`` for each (src, dst)."""
    src, dst = src.astype(object).to_numpy(), dst.astype(object).to_numpy()
    return np.where(src == YOU, ROLES[1], np.where(dst == YOU, ROLES[0], ROLES[2]))


def _sample_part(df: pd.DataFrame, by: str) -> pd.DataFrame:
    """Each series' affinity at every x from 1 to its last update (a step function)."""
    x = "position" if by == "chat" else "turn"
    keys = ["history", "chat_id", "pair"] if by == "chat" else ["history", "pair"]
    df = df[df[x].notna()]
    empty = pd.DataFrame({"role": [], x: [], "affinity": []}).astype(
        {"role": object, x: "int64", "affinity": "float64"}
    )
    if df.empty:
        return empty
    series = df.groupby(keys, observed=True, sort=False).ngroup()
    df = df.assign(role=pair_role(df["src"], df["dst"]), series=series)
    if by == "chat":  # what the pair gained within the chat: a running sum from 0
        df["affinity"] = df.groupby("series")["delta"].cumsum()
    pieces = []
    for (_, role), g in df.groupby(["series", "role"], sort=False):
        at = g.groupby(g[x].astype("int64"))["affinity"].last()
        grid = np.arange(1, int(at.index.max()) + 1)
        values = at.reindex(grid).ffill().fillna(0.0).to_numpy()
        pieces.append(pd.DataFrame({"role": role, x: grid, "affinity": values}))
    return pd.concat(pieces, ignore_index=True) if pieces else empty


def trajectories(
    corpus: Corpus, *, by: str = "chat", quantiles: tuple[float, float] = (0.25, 0.75)
) -> pd.DataFrame:
    """Affinity aligned by turn position across histories: median and band per pair role.

    ``by="chat"``: one series per chat and pair, x = the position of the turn in
    its chat, y = the affinity the pair gained in that chat so far;
    ``by="history"``: one series per history and pair, x = the history's turn
    count, y = the running affinity. Each series runs from 1 to its last update.
    Columns: ``role``, the x column, ``series`` (how many are at x), ``low``,
    ``median``, ``high``.
    """
    if by not in ("chat", "history"):
        raise ValueError(f"by must be 'chat' or 'history', not {by!r}")
    x = "position" if by == "chat" else "turn"
    cols = ["history", "chat_id", "pair", "src", "dst", "delta", "affinity", x]
    meta = _meta(role=object, **{x: "int64"}, affinity="float64")
    part = corpus.affinity[cols].map_partitions(_sample_part, by, meta=meta)
    (samples,) = corpus.compute(part)
    lo, hi = quantiles
    g = samples.groupby(["role", x], sort=True)["affinity"]
    out = pd.DataFrame(
        {
            "series": g.size().astype("int64"),
            "low": g.quantile(lo),
            "median": g.median(),
            "high": g.quantile(hi),
        }
    ).reset_index()
    order = {r: i for i, r in enumerate(ROLES)}
    out = out.sort_values(["role", x], key=lambda s: s.map(order) if s.name == "role" else s)
    return out.astype({"role": "string"}).reset_index(drop=True)


def _speakers_part(df: pd.DataFrame) -> pd.DataFrame:
    live = df[~df["retired"]]
    out = live.groupby(["history", "speaker"], observed=True).size().rename("turns")
    return out.reset_index().astype({"history": "string", "speaker": "string", "turns": "int64"})


def turns_per_speaker(corpus: Corpus) -> pd.DataFrame:
    """Live turns per speaker over the corpus: turns, histories they speak in, share of all."""
    part = corpus.turns[["history", "speaker", "retired"]].map_partitions(
        _speakers_part, meta=_meta(history="string", speaker="string", turns="int64")
    )
    (rows,) = corpus.compute(part)
    g = rows.groupby("speaker")
    out = pd.DataFrame(
        {"turns": g["turns"].sum().astype("int64"), "histories": g["history"].nunique()}
    ).reset_index()
    out.insert(1, "role", np.where(out["speaker"] == YOU, "you", "bot"))
    total = out["turns"].sum()
    out["share"] = out["turns"] / total if total else 0.0
    out = out.sort_values(["turns", "speaker"], ascending=[False, True])
    return out.astype({"role": "string", "histories": "int64"}).reset_index(drop=True)


def _revisions_part(df: pd.DataFrame, bins: int) -> pd.DataFrame:
    """Retired turns by how they were replaced and where in the chat (a tenth of it, ...)."""
    keys = ["history", "chat_id"]
    live = df[~df["retired"]].groupby(keys, observed=True).size().rename("chat_turns")
    gone = df[df["retired"]].join(live, on=keys)
    where = (gone["position"].astype("float64") - 1) / gone["chat_turns"].astype("float64")
    at = np.floor(where.to_numpy() * bins).clip(0, bins - 1)
    out = pd.DataFrame(
        {
            "history": gone["history"].astype("string").to_numpy(),
            "action": gone["replaced_how"].fillna("retired").astype("string").to_numpy(),
            "bin": pd.array(np.where(np.isnan(at), -1, at).astype("int64")),
        }
    )
    counts = out.groupby(["history", "action", "bin"]).size().rename("turns").reset_index()
    totals = pd.DataFrame(
        {
            "history": live.reset_index()["history"].astype("string").to_numpy(),
            "action": "",
            "bin": -2,
            "turns": live.to_numpy(dtype="int64"),
        }
    )
    return pd.concat([counts, totals], ignore_index=True).astype(
        {"history": "string", "action": "string", "bin": "int64", "turns": "int64"}
    )


def _revision_rows(corpus: Corpus, bins: int) -> pd.DataFrame:
    meta = _meta(history="string", action="string", bin="int64", turns="int64")
    cols = ["history", "chat_id", "position", "retired", "replaced_how"]
    (rows,) = corpus.compute(corpus.turns[cols].map_partitions(_revisions_part, bins, meta=meta))
    return rows


def revisions(corpus: Corpus) -> pd.DataFrame:
    """How often turns were replaced: per action (``edit``, ``regenerate``, ``swipe``, ...).

    ``turns``: retired turns of that action; ``per_100_turns``: against the
    live turns of the corpus; ``histories``: how many have at least one.
    """
    rows = _revision_rows(corpus, 10)
    live = int(rows.loc[rows["bin"] == -2, "turns"].sum())
    gone = rows[rows["bin"] != -2]
    g = gone.groupby("action")
    out = pd.DataFrame(
        {"turns": g["turns"].sum().astype("int64"), "histories": g["history"].nunique()}
    ).reset_index()
    out["per_100_turns"] = out["turns"] * 100.0 / live if live else np.nan
    out = out.sort_values(["turns", "action"], ascending=[False, True])
    return out.astype({"histories": "int64"}).reset_index(drop=True)


def revision_positions(corpus: Corpus, *, bins: int = 10) -> pd.DataFrame:
    """Where in a chat turns were replaced: retired turns per action and part of the chat.

    ``start``/``end``: the part of the chat (0.0-0.1 is its first tenth, by the
    turn's position over the chat's live turns); a hidden turn, which has no
    position, is left out.
    """
    rows = _revision_rows(corpus, bins)
    placed = rows[rows["bin"] >= 0]
    out = placed.groupby(["action", "bin"])["turns"].sum().astype("int64").reset_index()
    grid = pd.MultiIndex.from_product(
        [sorted(out["action"].unique()), range(bins)], names=["action", "bin"]
    )
    out = out.set_index(["action", "bin"]).reindex(grid, fill_value=0).reset_index()
    out.insert(1, "start", out["bin"] / bins)
    out.insert(2, "end", (out["bin"] + 1) / bins)
    return out.drop(columns="bin").astype({"action": "string", "turns": "int64"})
