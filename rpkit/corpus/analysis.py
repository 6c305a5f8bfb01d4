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

from pathlib import Path
from typing import Any, Protocol

import dask
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..dtypes import STRING
from ..kinds import YOU
from .dataset import PART, TABLES, partition_dir
from .errors import CorpusArgumentError
from .paths import FOLDER, need


class Corpus(Protocol):
    """What an analysis reads of a ``Corpus`` (``rpkit.corpus.reader``)."""

    out: Path
    histories: list[str]
    turns: Any
    affinity: Any

    def compute(self, *objs: Any) -> tuple[Any, ...]: ...


ROLES = ("bot → you", "you → bot", "bot → bot")
_TS = "datetime64[us, UTC]"
BATCH = 16  # histories per summary task


def _one_summary(out: Path, name: str) -> dict[str, Any]:
    """One history's summary row, read with pyarrow (only the columns it needs)."""

    def read(table: str, columns: list[str]) -> pa.Table:
        return pq.read_table(partition_dir(out, table, name) / PART, columns=columns)

    events = read("events", ["hidden", "ts"])
    hidden = pc.sum(events.column("hidden")).as_py() or 0
    span = pc.min_max(events.column("ts")).as_py() if events.num_rows else {}
    turns = read("turns", ["retired", "speaker"])
    live = turns.filter(pc.invert(turns.column("retired")))
    speakers = pc.count_distinct(live.column("speaker")).as_py() if live.num_rows else 0
    chats = pq.read_metadata(partition_dir(out, "chats", name) / PART).num_rows
    aff = read("affinity", ["pair", "affinity"])
    pairs = aff.column("pair").cast(pa.string()).to_pylist()
    final = dict(zip(pairs, aff.column("affinity").to_pylist(), strict=True))  # last wins
    return {
        "history": name,
        "chats": chats,
        "turns": live.num_rows,
        "speakers": speakers,
        "events": events.num_rows - hidden,
        "retired_events": hidden,
        "first": span.get("min"),
        "last": span.get("max"),
        "final_affinity": dict(sorted(final.items())),
    }


def _summaries(out: str, names: list[str]) -> list[dict[str, Any]]:
    for table in TABLES:
        need(Path(out) / table, "corpus table", FOLDER)
    return [_one_summary(Path(out), name) for name in names]


def batches(names: list[str], size: int = BATCH) -> list[list[str]]:
    """``names`` in runs of ``size``: one task each, so a task is worth its overhead."""
    return [names[i : i + size] for i in range(0, len(names), size)]


def final_affinity(corpus: Corpus) -> pd.DataFrame:
    """The final affinity of every pair of every history (long form)."""
    rows = summary(corpus)
    return pd.DataFrame(
        [
            (h, pair, value)
            for h, final in zip(rows["history"], rows["final_affinity"], strict=True)
            for pair, value in final.items()
        ],
        columns=["history", "pair", "affinity"],
    ).astype({"history": STRING, "pair": STRING, "affinity": "float64"})


def summary(corpus: Corpus) -> pd.DataFrame:
    """One row per history: chats, turns (live), speakers, events (live, retired), times.

    ``final_affinity`` holds a dict ``{pair: affinity}`` of the history's pairs
    (``final_affinity(corpus)`` has the same in long form). One Dask task per
    run of ``BATCH`` histories reads only the columns it needs, with pyarrow.
    """
    tasks = [dask.delayed(_summaries)(str(corpus.out), b) for b in batches(corpus.histories)]
    parts = corpus.compute(*tasks)
    columns = ["history", "chats", "turns", "speakers", "events", "retired_events"]
    rows = pd.DataFrame(
        [r for part in parts for r in part], columns=[*columns, "first", "last", "final_affinity"]
    )
    out = rows.astype({"history": STRING, **dict.fromkeys(columns[1:], "int64")})
    for col in ("first", "last"):
        out[col] = pd.to_datetime(out[col], utc=True).astype(_TS)
    return out


def _meta(**dtypes: Any) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=d) for c, d in dtypes.items()})


def pair_role(src: pd.Series, dst: pd.Series) -> np.ndarray:
    """``you → bot``, ``bot → you`` or ``bot → bot`` for each (src, dst)."""
    src, dst = src.astype(object).to_numpy(), dst.astype(object).to_numpy()
    return np.where(src == YOU, ROLES[1], np.where(dst == YOU, ROLES[0], ROLES[2]))


def _sample_part(df: pd.DataFrame, by: str) -> pd.DataFrame:
    """Each series' affinity at every x from 1 to its last update (a step function)."""
    x = "position" if by == "chat" else "turn"
    keys = ["history", "chat_id", "pair"] if by == "chat" else ["history", "pair"]
    df = df[df[x].notna() & (df[x] >= 1)]
    empty = pd.DataFrame({"role": [], x: [], "affinity": []}).astype(
        {"role": object, x: "int64", "affinity": "float64"}
    )
    if df.empty:
        return empty
    series = df.groupby(keys, observed=True, sort=False).ngroup().to_numpy()
    df = df.assign(series=series, at=df[x].astype("int64"))
    if by == "chat":  # what the pair gained within the chat: a running sum from 0
        df["affinity"] = df.groupby("series")["delta"].cumsum()
    last = df.groupby(["series", "at"], sort=True).agg(
        affinity=("affinity", "last"), src=("src", "first"), dst=("dst", "first")
    )
    ids = last.index.get_level_values("series").to_numpy()
    at = last.index.get_level_values("at").to_numpy()
    # Each series on the grid 1..its last x: known values placed, then carried forward.
    first = np.r_[True, ids[1:] != ids[:-1]]
    ends = np.r_[np.flatnonzero(first)[1:], len(ids)] - 1
    lengths = at[ends]
    offsets = np.r_[0, np.cumsum(lengths)[:-1]]
    owner = np.repeat(np.arange(len(lengths)), lengths)
    grid = np.arange(lengths.sum()) - offsets[owner] + 1
    values = np.full(len(grid), np.nan)
    values[offsets[np.cumsum(first) - 1] + at - 1] = last["affinity"].to_numpy()
    filled = pd.Series(values).groupby(owner).ffill().fillna(0.0).to_numpy()
    roles = pair_role(last["src"][first], last["dst"][first])
    return pd.DataFrame({"role": roles[owner], x: grid, "affinity": filled})


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
        raise CorpusArgumentError(
            f"by must be 'chat' or 'history', not {by!r}; 'chat' aligns by the turn's place "
            "in its chat, 'history' by the history's turn count"
        )
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
    return out.astype({"role": STRING}).reset_index(drop=True)


def _speakers_part(df: pd.DataFrame) -> pd.DataFrame:
    live = df[~df["retired"]]
    out = live.groupby(["history", "speaker"], observed=True).size().rename("turns")
    return out.reset_index().astype({"history": STRING, "speaker": STRING, "turns": "int64"})


def turns_per_speaker(corpus: Corpus) -> pd.DataFrame:
    """Live turns per speaker over the corpus: turns, histories they speak in, share of all."""
    part = corpus.turns[["history", "speaker", "retired"]].map_partitions(
        _speakers_part, meta=_meta(history=STRING, speaker=STRING, turns="int64")
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
    return out.astype({"role": STRING, "histories": "int64"}).reset_index(drop=True)


def _revisions_part(df: pd.DataFrame, bins: int) -> pd.DataFrame:
    """Retired turns by how they were replaced and where in the chat (a tenth of it, ...)."""
    keys = ["history", "chat_id"]
    live = df[~df["retired"]].groupby(keys, observed=True).size().rename("chat_turns")
    gone = df[df["retired"]].join(live, on=keys)
    where = (gone["position"].astype("float64") - 1) / gone["chat_turns"].astype("float64")
    at = np.floor(where.to_numpy() * bins).clip(0, bins - 1)
    out = pd.DataFrame(
        {
            "history": gone["history"].astype(STRING).to_numpy(),
            "action": gone["replaced_how"].fillna("retired").astype(STRING).to_numpy(),
            "bin": pd.array(np.where(np.isnan(at), -1, at).astype("int64")),
        }
    )
    counts = out.groupby(["history", "action", "bin"]).size().rename("turns").reset_index()
    totals = pd.DataFrame(
        {
            "history": live.reset_index()["history"].astype(STRING).to_numpy(),
            "action": "",
            "bin": -2,
            "turns": live.to_numpy(dtype="int64"),
        }
    )
    return pd.concat([counts, totals], ignore_index=True).astype(
        {"history": STRING, "action": STRING, "bin": "int64", "turns": "int64"}
    )


def _revision_rows(corpus: Corpus, bins: int) -> pd.DataFrame:
    cache = corpus.__dict__.setdefault("_revision_cache", {})
    if bins not in cache:
        cache[bins] = _compute_revision_rows(corpus, bins)
    return cache[bins]


def _compute_revision_rows(corpus: Corpus, bins: int) -> pd.DataFrame:
    meta = _meta(history=STRING, action=STRING, bin="int64", turns="int64")
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
    return out.drop(columns="bin").astype({"action": STRING, "turns": "int64"})
