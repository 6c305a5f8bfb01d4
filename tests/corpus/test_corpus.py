"""A corpus against the per-history pandas frames, on a session LocalCluster.

Real Parquet files in temporary folders, real Dask workers on loopback: each
history reads back equal to its frames (dtypes included), the summary equals a
pandas loop over the SQLite files, and pyarrow alone reads the dataset.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import rpkit
from rpkit import frames
from rpkit.cli import main
from rpkit.corpus import export, history_frames, open_corpus
from rpkit.corpus.dataset import PART, TABLES, readable
from rpkit.dtypes import STRING

from .cluster import demo_histories, session_client


@pytest.fixture(scope="session")
def client(request):
    return session_client(request)


@pytest.fixture(scope="module")
def histories(tmp_path_factory) -> list[Path]:
    return demo_histories(tmp_path_factory.mktemp("histories"), 4)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory, histories, request) -> Path:
    out = tmp_path_factory.mktemp("corpus") / "corpus"
    report = export(histories, out, client=session_client(request))
    assert list(report.histories["history"]) == [p.stem for p in histories]
    return out


def test_each_history_reads_back_equal_to_its_frames(corpus_dir, histories, client):
    corpus = open_corpus(corpus_dir, client=client)
    assert corpus.histories == [p.stem for p in histories]
    for i, path in enumerate(histories):
        with rpkit.open_db(path) as conn:
            expected = history_frames(conn)
            assert expected["events"].equals(frames.events(conn, include_retired=True))
            pd.testing.assert_frame_equal(expected["chats"], frames.chats(conn))
        assert list(corpus.read("chats", path.stem).columns) == frames.CHAT_COLUMNS
        for table in TABLES:
            pd.testing.assert_frame_equal(corpus.read(table, path.stem), expected[table])
            part = corpus.frame(table).partitions[i].compute()
            assert (part["history"] == path.stem).all()
            assert part["history"].dtype == pd.CategoricalDtype(corpus.histories)
            pd.testing.assert_frame_equal(part[list(expected[table].columns)], expected[table])


def test_dask_frames_are_lazy_and_partitioned_per_history(corpus_dir, histories, client):
    corpus = open_corpus(corpus_dir, client=client)
    assert corpus.events.npartitions == len(histories)
    (n,) = corpus.compute(corpus.turns.shape[0])
    total = 0
    for path in histories:
        with rpkit.open_db(path) as conn:
            total += len(history_frames(conn)["turns"])
    assert n == total


def _pandas_summary(paths: list[Path]) -> pd.DataFrame:
    rows = []
    for path in paths:
        with rpkit.open_db(path) as conn:
            ev = frames.events(conn, include_retired=True)
            chats = rpkit.current_state(conn)["chats"]
            tu = pd.concat([frames.turns(conn, int(c)) for c in chats["id"]])
            final = frames.final_affinity(frames.affinity(conn))
        live = tu[~tu["retired"]]
        rows.append(
            {
                "history": path.stem,
                "chats": len(chats),
                "turns": len(live),
                "speakers": live["speaker"].nunique(),
                "events": int((~ev["hidden"]).sum()),
                "retired_events": int(ev["hidden"].sum()),
                "first": ev["ts"].min(),
                "last": ev["ts"].max(),
                "final_affinity": dict(
                    zip(final["pair"].astype(str), final["affinity"], strict=True)
                ),
            }
        )
    out = pd.DataFrame(rows)
    return out.astype({"history": STRING, **dict.fromkeys(out.columns[1:6], "int64")})


def test_summary_equals_a_pandas_loop_over_the_files(corpus_dir, histories, client):
    got = open_corpus(corpus_dir, client=client).summary()
    expected = _pandas_summary(histories)
    pd.testing.assert_frame_equal(got.drop(columns="final_affinity"), expected.iloc[:, :-1])
    for a, b in zip(got["final_affinity"], expected["final_affinity"], strict=True):
        assert a == pytest.approx(b)


def test_pyarrow_alone_reads_the_dataset(corpus_dir, histories):
    turns = ds.dataset(corpus_dir / "turns", format="parquet", partitioning="hive").to_table()
    assert sorted(set(turns.column("history").to_pylist())) == [p.stem for p in histories]
    # events: each history has the payload fields of its kinds; unify the schemas by name
    files = sorted((corpus_dir / "events").glob("history=*/*.parquet"))
    schema = pa.unify_schemas([ds.dataset(f).schema for f in files])
    events = ds.dataset(files, schema=schema, format="parquet").to_table()
    with rpkit.open_db(histories[0]) as conn:
        first = frames.events(conn, include_retired=True)
    assert events.num_rows >= len(first)
    texts = ds.dataset(files[0]).to_table(columns=["text"]).column("text").to_pylist()
    assert texts == [None if pd.isna(t) else t for t in first["text"]]


def test_analysis_matches_the_frames(corpus_dir, histories, client):
    corpus = open_corpus(corpus_dir, client=client)
    speakers = corpus.turns_per_speaker()
    live = []
    for path in histories:
        with rpkit.open_db(path) as conn:
            t = history_frames(conn)["turns"]
        live.append(t[~t["retired"]])
    expected = pd.concat(live)["speaker"].value_counts()
    assert dict(zip(speakers["speaker"], speakers["turns"], strict=True)) == expected.to_dict()
    assert speakers["share"].sum() == pytest.approx(1.0)

    revisions = corpus.revisions()
    retired = pd.concat([corpus.read("turns", p.stem) for p in histories], ignore_index=True).query(
        "retired"
    )
    counts = retired["replaced_how"].value_counts().to_dict()
    assert dict(zip(revisions["action"], revisions["turns"], strict=True)) == counts
    where = corpus.revision_positions(bins=4)
    placed = retired[retired["position"].notna()]["replaced_how"].value_counts().to_dict()
    assert where.groupby("action")["turns"].sum().to_dict() == placed

    with pytest.raises(rpkit.corpus.CorpusArgumentError, match="'turn'; 'chat' aligns"):
        corpus.trajectories(by="turn")
    traj = corpus.trajectories(by="history")
    finals = corpus.final_affinity()
    one = finals[finals["pair"] == "mira → you"]
    at_end = traj[traj["role"] == "bot → you"]
    assert at_end["series"].max() <= len(finals[finals["pair"].str.endswith("→ you")])
    assert np.isfinite(at_end["median"]).all() and len(one) == len(histories)


def test_plots_take_an_axes_and_return_it(corpus_dir, client):
    corpus = open_corpus(corpus_dir, client=client)
    fig, axes = plt.subplots(1, 3)
    assert corpus.plot_trajectories(ax=axes[0]) is axes[0]
    assert corpus.plot_turns_per_speaker(ax=axes[1]) is axes[1]
    assert corpus.plot_revisions(ax=axes[2]) is axes[2]
    assert len(axes[0].lines) >= 2 and len(axes[1].patches) > 0
    plt.close(fig)


def test_reexport_replaces_a_history_and_keeps_the_others(tmp_path, client):
    paths = demo_histories(tmp_path / "h", 2, events=60)
    out = tmp_path / "c"
    export(paths, out, client=client)
    before = open_corpus(out).read("events", "h002")
    with rpkit.open_db(paths[0]) as conn:
        rpkit.append(conn, "user_turn", {"text": "one more"}, chat_id=1)
    export(paths[:1], out, client=client)
    corpus = open_corpus(out)
    assert corpus.histories == ["h001", "h002"]
    assert corpus.read("events", "h001")["text"].iloc[-1] == "one more"
    pd.testing.assert_frame_equal(corpus.read("events", "h002"), before)
    assert not list((out / "_tmp").iterdir())


def test_a_durable_export_writes_the_same_partitions(tmp_path, histories, corpus_dir):
    out = tmp_path / "durable"
    result = CliRunner().invoke(
        main, ["corpus", "export", str(out), "--durable", *map(str, histories)]
    )
    assert result.exit_code == 0, result.output
    for table in TABLES:
        for path in histories:
            part = Path(f"{table}/history={path.stem}/{PART}")
            assert pq.read_table(out / part).equals(pq.read_table(corpus_dir / part))
            assert pq.read_schema(out / part).metadata == pq.read_schema(corpus_dir / part).metadata


def test_reexport_rewrites_a_partition_a_power_cut_cut_short(tmp_path, client):
    paths = demo_histories(tmp_path / "h", 2, events=60)
    out = tmp_path / "c"
    export(paths, out, client=client)
    before = open_corpus(out).read("turns", "h001")
    torn = out / "chats" / f"history=h001/{PART}"
    torn.write_bytes(torn.read_bytes()[: torn.stat().st_size // 2])  # what the disk kept
    (out / "events" / f"history=h001/{PART}").write_bytes(b"")
    assert not readable(out, "h001") and readable(out, "h002")
    export(paths[:1], out, client=client)
    assert readable(out, "h001")
    pd.testing.assert_frame_equal(open_corpus(out).read("turns", "h001"), before)


def test_local_scheduler_and_cli(tmp_path):
    paths = demo_histories(tmp_path / "h", 2, events=50)
    out = tmp_path / "c"
    result = CliRunner().invoke(main, ["corpus", "export", str(out), *map(str, paths)])
    assert result.exit_code == 0, result.output
    assert "2 histories" in result.output
    result = CliRunner().invoke(main, ["corpus", "summary", str(out)])
    assert result.exit_code == 0, result.output
    assert "h001" in result.output and "h002" in result.output
    result = CliRunner().invoke(main, ["corpus", "export", str(tmp_path / "x"), "nope.db"])
    assert result.exit_code == 1 and "nope.db does not exist" in result.output


@pytest.mark.parametrize("engine", ["local", "cluster"])
def test_progress_is_dasks_own_and_can_be_silenced(histories, tmp_path, request, capsys, engine):
    client = session_client(request) if engine == "cluster" else None
    try:
        rpkit.set_progress(True)
        export(histories, tmp_path / "shown", client=client)
        shown = capsys.readouterr().out
        rpkit.set_progress(False)
        export(histories, tmp_path / "silent", client=client)
        silent = capsys.readouterr().out
    finally:
        rpkit.set_progress(False)  # as the suite runs
    assert "100% Completed" in shown  # Dask's ProgressBar, or distributed.progress's text bar
    assert silent == ""
