"""Reading a corpus: lazy Dask frames, one partition per history, and its summary.

``open_corpus("corpus")`` lists the histories whose four partitions are
written. ``.events``, ``.turns``, ``.affinity`` and ``.chats`` are
``dask.dataframe`` frames built with ``dask.dataframe.from_map``: partition
``i`` reads history ``i``'s file (only the columns a computation asks for) and
adds the categorical ``history`` column. Columns are the union over the
histories (a payload field one history lacks is NA there); ``read(table,
name)`` gives one history's frame exactly as ``rpkit.frames`` built it.
"""

from __future__ import annotations

import html
from os import PathLike
from pathlib import Path
from typing import Any

import dask
import dask.dataframe as dd
import pandas as pd
import pyarrow.parquet as pq
from dask.dataframe.utils import clear_known_categories
from matplotlib.axes import Axes

from ..display import counted
from . import analysis, plots
from .dataset import (
    PART,
    TABLES,
    from_arrow,
    json_columns,
    list_histories,
    partition_dir,
    read_partition,
)
from .engine import compute
from .errors import NotACorpusError
from .paths import FOLDER, absolute, check_workers, need

PathArg = str | PathLike[str]


def union_meta(out: Path, table: str, names: list[str]) -> pd.DataFrame:
    """The empty frame of a table's columns over all histories (dtypes: first seen)."""
    dtypes: dict[str, Any] = {}
    seen: set[tuple] = set()
    for name in names:
        schema = pq.read_schema(partition_dir(out, table, name) / PART)
        key = (tuple(schema.names), tuple(map(str, schema.types)), tuple(json_columns(schema)))
        if key in seen:  # most histories share a schema: convert each kind once
            continue
        seen.add(key)
        for col, dtype in from_arrow(schema.empty_table()).dtypes.items():
            if col not in dtypes:
                dtypes[col] = dtype
            elif dtypes[col] != dtype and not (
                isinstance(dtype, pd.CategoricalDtype)
                and isinstance(dtypes[col], pd.CategoricalDtype)
            ):
                dtypes[col] = object
    meta = pd.DataFrame({c: pd.Series([], dtype=d) for c, d in dtypes.items()})
    meta = clear_known_categories(meta)
    meta["history"] = pd.Categorical([], categories=names)
    return meta


class PartitionReader:
    """Reads one history's partition of a table, shaped like the corpus frame (``from_map``)."""

    def __init__(self, out: str, table: str, meta: pd.DataFrame):
        self.out, self.table, self.meta = out, table, meta

    def __call__(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        wanted = list(self.meta.columns) if columns is None else list(columns)
        need(partition_dir(Path(self.out), self.table, name), "partition", FOLDER)
        part = read_partition(
            Path(self.out), self.table, name, [c for c in wanted if c != "history"]
        )
        n = len(part)
        cols = {}
        for col in wanted:
            if col == "history":
                cols[col] = pd.Categorical(
                    [name] * n, categories=self.meta["history"].cat.categories
                )
            elif col in part.columns:
                want = self.meta[col].dtype
                keep = part[col].dtype == want or isinstance(want, pd.CategoricalDtype)
                cols[col] = part[col] if keep else part[col].astype(want)
            else:
                cols[col] = self.meta[col].reindex(range(n))
        return pd.DataFrame(cols, index=part.index)


class Corpus:
    """A corpus of histories: lazy Dask frames per table, partitioned per history."""

    def __init__(self, out: Path, histories: list[str], client: Any = None):
        self.out = out
        self.histories = histories
        self.client = client
        self._frames: dict[str, dd.DataFrame] = {}

    def frame(self, table: str) -> dd.DataFrame:
        """The table as a lazy Dask frame, one partition per history."""
        if table not in TABLES:
            raise NotACorpusError(f"a corpus has no table {table!r}; use one of {list(TABLES)}")
        if table not in self._frames:
            meta = union_meta(self.out, table, self.histories)
            if not self.histories:
                self._frames[table] = dd.from_pandas(meta, npartitions=1)
            else:  # object columns stay objects (lists, dicts), not Arrow strings
                reader = PartitionReader(str(self.out), table, meta)
                with dask.config.set({"dataframe.convert-string": False}):
                    self._frames[table] = dd.from_map(
                        reader, self.histories, meta=meta, enforce_metadata=False
                    )
        return self._frames[table]

    @property
    def events(self) -> dd.DataFrame:
        """Every history's events (retired ones kept, ``hidden`` set), payload fields as columns."""
        return self.frame("events")

    @property
    def turns(self) -> dd.DataFrame:
        """Every chat's transcript (``rpkit.frames.turns``), retired turns flagged."""
        return self.frame("turns")

    @property
    def affinity(self) -> dd.DataFrame:
        """Every history's affinity timeline (``rpkit.frames.affinity``)."""
        return self.frame("affinity")

    @property
    def chats(self) -> dd.DataFrame:
        """One row per chat: title, creation, turn count, last speaker."""
        return self.frame("chats")

    def read(self, table: str, history: str) -> pd.DataFrame:
        """One history's table as a pandas frame, exactly as it was exported."""
        if history not in self.histories:
            raise NotACorpusError(
                f"the corpus {self.out} has no history {history!r}; it holds {len(self.histories)}"
                f" (see .histories)"
            )
        self.frame(table)
        return read_partition(self.out, table, history)

    def compute(self, *objs: Any) -> tuple[Any, ...]:
        """Compute Dask objects on this corpus's client, or on the local scheduler."""
        return compute(*objs, client=self.client)

    def summary(self) -> pd.DataFrame:
        """One row per history: chats, turns, events, speakers, first and last time, affinity."""
        return analysis.summary(self)

    def final_affinity(self) -> pd.DataFrame:
        """The final affinity of every pair of every history (long form)."""
        return analysis.final_affinity(self)

    def trajectories(
        self, *, by: str = "chat", quantiles: tuple[float, float] = (0.25, 0.75)
    ) -> pd.DataFrame:
        """Affinity aligned by turn position: median and band per pair role (see analysis)."""
        return analysis.trajectories(self, by=by, quantiles=quantiles)

    def turns_per_speaker(self) -> pd.DataFrame:
        """Live turns per speaker over the corpus."""
        return analysis.turns_per_speaker(self)

    def revisions(self) -> pd.DataFrame:
        """How often turns were edited, regenerated, swiped or hidden."""
        return analysis.revisions(self)

    def revision_positions(self, *, bins: int = 10) -> pd.DataFrame:
        """Where in a chat turns were replaced, per action and part of the chat."""
        return analysis.revision_positions(self, bins=bins)

    def plot_trajectories(self, *, ax: Axes | None = None, by: str = "chat", **kw: Any) -> Axes:
        """Chart ``trajectories(by=by)``; returns the Axes."""
        return plots.trajectories(self.trajectories(by=by), ax=ax, **kw)

    def plot_turns_per_speaker(self, *, ax: Axes | None = None, top: int = 12) -> Axes:
        """Chart ``turns_per_speaker()``; returns the Axes."""
        return plots.turns_per_speaker(self.turns_per_speaker(), ax=ax, top=top)

    def plot_revisions(self, *, ax: Axes | None = None, bins: int = 10) -> Axes:
        """Chart ``revision_positions(bins=bins)``; returns the Axes."""
        return plots.revision_positions(self.revision_positions(bins=bins), ax=ax)

    def __repr__(self) -> str:
        shown = ", ".join(self.histories[:5]) + (" ..." if len(self.histories) > 5 else "")
        histories = counted(len(self.histories), "history", "histories")
        return f"Corpus({self.out.name}/: {histories}: {shown})"

    def _repr_html_(self) -> str:
        return f"<p><b>{html.escape(repr(self))}</b></p>"


def open_corpus(out: PathArg, *, client: Any = None) -> Corpus:
    """Open the corpus in the folder ``out``; ``client`` runs its computations on a cluster,
    whose workers must see ``out`` at the same path (``WorkerPathError`` names one that does not).
    """
    out = absolute(out)
    if not out.is_dir() or not any((out / t).is_dir() for t in TABLES):
        raise NotACorpusError(
            f"{out} holds no corpus (no {', '.join(t + '/' for t in TABLES)} folders); "
            "make one with rpkit.corpus.export or rpkit.corpus.build"
        )
    check_workers(client, [(out / t, "corpus table", FOLDER) for t in TABLES if (out / t).is_dir()])
    return Corpus(out, list_histories(out), client)
