"""``export_training`` over a corpus on the session LocalCluster: the same rows as one history's export.

Real histories exported into a real corpus, real Dask workers on loopback:
each history's partition of the training dataset holds exactly the rows
``rpkit.exports`` makes of its SQLite file, ``datasets`` reads the folder
offline as one dataset, and bad input leaves the output as it was.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import rpkit
from rpkit import exports
from rpkit.cli import main
from rpkit.corpus import export, export_training
from rpkit.corpus.dataset import PART, partition_dir
from rpkit.exports.messages import COLUMNS as MESSAGE_COLUMNS
from rpkit.exports.preferences import COLUMNS as PREFERENCE_COLUMNS
from rpkit.exports.rows import to_arrow_table

from ..unit.test_exports import make_tree
from .cluster import demo_histories, session_client


@pytest.fixture(scope="module")
def histories(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("training-histories")
    return [*demo_histories(folder, 3, events=200), make_tree(folder / "tree.db")]


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory, histories, request) -> Path:
    out = tmp_path_factory.mktemp("training-corpus") / "corpus"
    export(histories, out, client=session_client(request))
    return out


def single(path: Path, kind: str, **options):
    with rpkit.open_db(path) as conn:
        tree = exports.read_tree(conn, names=options.pop("names", None))
    if kind == "messages":
        return to_arrow_table(exports.message_rows(tree, **options), MESSAGE_COLUMNS)
    return to_arrow_table(exports.preference_rows(tree, **options), PREFERENCE_COLUMNS)


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("messages", {}),
        ("messages", {"paths": "all", "names": {"Wren": "user"}}),
        ("preferences", {}),
        ("preferences", {"include_user_edits": True, "context": 2}),
    ],
)
def test_each_partition_holds_the_rows_of_its_history(
    corpus_dir, histories, tmp_path, request, kind, options
):
    out = tmp_path / "training"
    report = export_training(
        corpus_dir, out, kind, client=session_client(request), batch=2, **options
    )
    assert list(report.histories["history"]) == sorted(p.stem for p in histories)
    for path in histories:
        got = pq.read_table(partition_dir(out, "", path.stem) / PART)
        want = single(path, kind, **options)
        assert got.schema == want.schema
        assert got.to_pylist() == want.to_pylist()
    counts = dict(zip(report.histories["history"], report.histories["rows"], strict=True))
    assert (
        counts["tree"]
        == {"messages": 2 if not options else 7, "preferences": 4 if not options else 5}[kind]
    )
    assert [p.name for p in tmp_path.iterdir()] == ["training"]  # no temporary folder left


def test_datasets_reads_the_folder_offline(corpus_dir, tmp_path, request, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets

    out = tmp_path / "pairs"
    report = export_training(corpus_dir, out, "preferences", client=session_client(request))
    data = datasets.load_dataset(
        "parquet", data_dir=str(out), split="train", cache_dir=str(tmp_path / "cache")
    )
    assert data.num_rows == int(report.histories["rows"].sum())
    assert sorted(set(data["history"])) == sorted(
        report.histories[report.histories["rows"] > 0]["history"]
    )
    assert set(data["source"]) <= {"swipe", "regenerate", "edit"}


def test_command_on_the_cluster_and_bad_input(corpus_dir, tmp_path, request):
    client = session_client(request)
    out = tmp_path / "m"
    runner = CliRunner()
    args = ["corpus", "export-training", "messages", str(corpus_dir), str(out)]
    result = runner.invoke(main, [*args, "--cluster", client.scheduler.address])
    assert result.exit_code == 0, result.output
    assert "TrainingReport(" in result.output and "from 4 histories" in result.output
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    again = runner.invoke(main, [*args, "--cluster", client.scheduler.address])
    assert again.exit_code == 1 and "--replace" in again.output
    bad = runner.invoke(main, [*args, "--name", "Wren"])
    assert bad.exit_code == 1 and "OLD=NEW" in bad.output
    with pytest.raises(exports.UnknownExportError):
        export_training(corpus_dir, out, "alpaca", client=client)
    with pytest.raises(exports.ExportArgumentError):
        export_training(corpus_dir, out, "messages", client=client, paths="some", replace=True)
    assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
