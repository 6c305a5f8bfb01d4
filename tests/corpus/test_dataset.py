"""A partition file against pyarrow's own pandas conversion, and what it stores.

``to_arrow`` builds tables column by column and reuses pandas metadata per
shape of frame; these tests hold it to ``pa.Table.from_pandas`` of the same
frame (object columns as JSON text), data and metadata alike.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rpkit
from rpkit.corpus import history_frames
from rpkit.corpus.dataset import (
    TABLES,
    TMP,
    check_out,
    from_arrow,
    partition_dir,
    readable,
    to_arrow,
    write_parquet,
    write_partitions,
)
from rpkit.dtypes import STRING

from .cluster import demo_histories


def by_pyarrow(frame: pd.DataFrame) -> pa.Table:
    """What ``pa.Table.from_pandas`` makes of the frame with its object columns as JSON text."""
    encoded = {
        col: pd.Series(
            [None if v is None else orjson.dumps(v).decode() for v in frame[col]],
            dtype=STRING,
            index=frame.index,
        )
        for col, dtype in frame.dtypes.items()
        if pd.api.types.is_object_dtype(dtype)
    }
    return pa.Table.from_pandas(frame.assign(**encoded), preserve_index=False)


def assert_same_table(got: pa.Table, expected: pa.Table) -> None:
    assert got.schema.equals(expected.schema)
    assert got.equals(expected)
    pandas_meta = json.loads(got.schema.metadata[b"pandas"])
    assert pandas_meta == json.loads(expected.schema.metadata[b"pandas"])


@pytest.fixture(scope="module")
def demo_frames(tmp_path_factory) -> list[dict[str, pd.DataFrame]]:
    paths = demo_histories(tmp_path_factory.mktemp("histories"), 3)
    result = []
    for path in paths:
        with rpkit.open_db(path) as conn:
            result.append(history_frames(conn))
    return result


def test_each_table_converts_as_pyarrow_converts_it(demo_frames):
    for tables in demo_frames:
        for table in TABLES:
            frame = tables[table]
            assert_same_table(to_arrow(frame), by_pyarrow(frame))
            pd.testing.assert_frame_equal(from_arrow(to_arrow(frame)), frame)


def test_metadata_follows_each_frame_not_the_first_of_its_dtypes():
    # the same columns and dtypes, but categoricals of other sizes and order
    small = pd.DataFrame({"pair": pd.Categorical(["a→b"]), "n": pd.array([1], dtype="Int64")})
    big = pd.DataFrame(
        {"pair": pd.Categorical([f"p{i}" for i in range(300)], ordered=True), "n": range(300)}
    ).astype({"n": "Int64"})
    for frame in (small, big, small.head(0), big.iloc[::-1]):
        assert_same_table(to_arrow(frame), by_pyarrow(frame))
    meta = json.loads(to_arrow(big).schema.metadata[b"pandas"])["columns"][0]
    assert meta["metadata"] == {"num_categories": 300, "ordered": True}
    assert meta["numpy_type"] == "int16"


def test_object_columns_are_json_text_and_missing_values_stay_missing():
    frame = pd.DataFrame(
        {
            "bot_ids": pd.Series([["b1", "b2"], None, {"x": 1}], dtype=object),
            "none_yet": pd.Series([None, None, None], dtype=object),
            "text": pd.array(["hi", pd.NA, "ünïcode"], dtype=STRING),
            "id": pd.array([1, None, 3], dtype="Int64"),
            "ts": pd.to_datetime(["2026-01-01", None, "2026-01-03"], utc=True).as_unit("us"),
        }
    )
    table = to_arrow(frame, source="h.db")
    assert_same_table(table, by_pyarrow(frame))
    assert table.column("bot_ids").to_pylist() == ['["b1","b2"]', None, '{"x":1}']
    assert table.column("none_yet").type == pa.string()
    assert table.column("text").to_pylist() == ["hi", None, "ünïcode"]
    pd.testing.assert_frame_equal(from_arrow(table), frame)


def test_every_kind_of_column_converts_as_pyarrow_converts_it():
    # each array type _column has its own path for, with missing values where it has them
    frame = pd.DataFrame(
        {
            "int": pd.array([1, None, 3], dtype="Int64"),
            "flag": pd.array([True, None, False], dtype="boolean"),
            "real": pd.array([0.5, None, -1.0], dtype="Float64"),
            "float": [0.5, float("nan"), -1.0],
            "bool": [True, False, True],
            "count": pd.Series([1, 2, 3], dtype="int64"),
            "text": pd.array([pd.NA, "b", "c"], dtype=STRING),
            "arrow_text": pd.array(["a", None, "c"], dtype=pd.StringDtype("pyarrow")),
            "naive": pd.to_datetime(["2026-01-01", None, "2026-01-03"]),
            "kind": pd.Categorical(["x", None, "y"]),
        }
    )
    table = to_arrow(frame)
    assert_same_table(table, by_pyarrow(frame))
    assert table.column("float").null_count == 1  # NaN is missing, as from_pandas has it
    assert table.column("flag").to_pylist() == [True, None, False]


def test_statistics_are_kept_for_numbers_times_and_flags_not_for_text(demo_frames, tmp_path):
    path = tmp_path / "events.parquet"
    table = to_arrow(demo_frames[0]["events"])
    write_parquet(table, path)
    meta = pq.ParquetFile(path).metadata
    stats = {
        meta.schema.column(i).name: meta.row_group(0).column(i).is_stats_set
        for i in range(meta.num_columns)
    }
    text = {
        f.name for f in table.schema if pa.types.is_string(f.type) or pa.types.is_dictionary(f.type)
    }
    assert {"id", "ts", "chat_id", "hidden"} <= {c for c, kept in stats.items() if kept}
    assert {"text", "kind"} <= text
    assert not any(stats[c] for c in text)
    assert all(stats[c] for c in stats if c not in text)
    # pandas alone reads the dtypes back (text as pandas' own string dtype)
    back = pd.read_parquet(path)
    frame = demo_frames[0]["events"]
    for col, dtype in frame.dtypes.items():
        if isinstance(dtype, pd.StringDtype) or pd.api.types.is_object_dtype(dtype):
            assert isinstance(back[col].dtype, pd.StringDtype)
        else:
            assert back[col].dtype == dtype, col


@pytest.fixture
def fsyncs(monkeypatch) -> list[str]:
    """The paths the corpus code fsyncs, in order (the real fsyncs still run)."""
    import rpkit.corpus.builder as builder
    import rpkit.corpus.dataset as dataset

    calls: list[str] = []
    for module, name in ((dataset, "fsync_file"), (dataset, "fsync_dir"), (builder, "fsync_dir")):
        real = getattr(module, name)

        def spy(path, real=real, name=name):
            calls.append(f"{name[6:]} {path}")
            real(path)

        monkeypatch.setattr(module, name, spy)
    return calls


def test_partitions_are_fsynced_only_when_durable(demo_frames, tmp_path, fsyncs):
    out = check_out(tmp_path / "c")
    write_partitions(out, "h", demo_frames[0], source="h.db")
    assert fsyncs == [] and readable(out, "h")
    write_partitions(out, "h", demo_frames[1], source="h.db", durable=True)
    files = [Path(c[5:]) for c in fsyncs if c.startswith("file ")]
    assert len(files) == 4 and all(f.parent == out / TMP for f in files)  # before the renames
    parts = [f"dir {partition_dir(out, t, 'h')}" for t in TABLES]
    assert fsyncs[4:] == parts  # after them; the folders existed already
    fsyncs.clear()  # a first history in a new corpus: also the folders that hold new ones
    new = check_out(tmp_path / "d")
    write_partitions(new, "h", demo_frames[0], source="h.db", durable=True)
    made = {new, *(new / t for t in TABLES), *(partition_dir(new, t, "h") for t in TABLES)}
    assert {Path(c[4:]) for c in fsyncs if c.startswith("dir ")} == made


def test_export_and_build_pass_durable_to_their_tasks(tmp_path, fsyncs):
    from distributed import Client, LocalCluster

    from rpkit.corpus import build, export

    from .cluster import write_sharegpt

    paths = demo_histories(tmp_path / "h", 2, events=40)
    source = write_sharegpt(tmp_path / "s.json", 4)
    with (  # the tasks run in this process's threads, where the spy sees them
        LocalCluster(n_workers=1, processes=False, dashboard_address="127.0.0.1:0") as cluster,
        Client(cluster) as client,
    ):
        export(paths, tmp_path / "c", client=client)
        build(source, tmp_path / "b", format="sharegpt", shard_size=2, client=client)
        assert fsyncs == []
        export(paths, tmp_path / "c", client=client, durable=True)
        assert len([c for c in fsyncs if c.startswith("file ")]) == 4 * 2
        fsyncs.clear()
        build(source, tmp_path / "d", format="sharegpt", shard_size=2, client=client, durable=True)
    assert len([c for c in fsyncs if c.startswith("file ")]) == 4 * 2
    assert fsyncs.count(f"dir {tmp_path / 'd' / '_histories'}") == 2  # each history's rename
