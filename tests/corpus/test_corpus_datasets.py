"""Corpus builds of the research datasets: shards cut from Parquet batches and (compressed) lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rpkit
from rpkit.corpus import build, open_corpus
from rpkit.importers import import_file

from ..helpers import ROOT
from .cluster import session_client

DATASETS = ROOT / "tests" / "fixtures" / "datasets"


@pytest.fixture(scope="session")
def client(request):
    return session_client(request)


def _texts(db: Path) -> list[str]:
    with rpkit.open_db(db) as conn:
        return sorted(
            json.loads(p)["text"]
            for (p,) in conn.execute(
                "SELECT payload FROM event_log WHERE kind IN ('user_turn', 'assistant_turn')"
            )
        )


@pytest.mark.parametrize(
    ("fmt", "name", "shards"),
    [
        ("wildchat", "wildchat-extra-column.parquet", 2),  # two row groups, 2 rows a shard
        ("arena", "arena-parquet", 2),  # a folder of two Parquet files (2 rows, 1 row)
        ("lmsys", "lmsys.jsonl.zst", 1),
        ("arena", "arena.json", 2),
    ],
)
def test_a_sharded_build_gives_the_turns_of_one_import(tmp_path, client, fmt, name, shards):
    source = DATASETS / name
    single = tmp_path / "single.db"
    import_file(single, fmt, source)
    report = build(
        source, tmp_path / "corpus", format=fmt, shard_size=2, classify=False, client=client
    )
    assert report.count("failed") == 0
    assert len(report.shards) == shards
    corpus = open_corpus(tmp_path / "corpus")
    turns = corpus.turns.compute()
    assert sorted(turns["text"].tolist()) == _texts(single)


def test_a_record_repeated_in_another_shard_is_left_out_and_reported(tmp_path, client):
    # PIPPA's line 4 repeats line 1: one import skips it (duplicated), and so does a build
    # whose shards would part them (lines 1-2, then 3-4): the repeat is no second history
    single = tmp_path / "single.db"
    skipped = import_file(single, "pippa", DATASETS / "pippa.jsonl").skipped
    assert skipped["duplicated record (same id, same content)"] == 1
    report = build(DATASETS / "pippa.jsonl", tmp_path / "c", format="pippa", shard_size=2,
                   classify=False, client=client)  # fmt: skip
    assert report.duplicated == ["pippa.jsonl line 4"]
    assert "1 duplicated record (a repeat of an earlier one) left out: pippa.jsonl line 4" in repr(
        report
    )
    assert report.shards["records"].tolist() == [2, 1]
    texts = open_corpus(tmp_path / "c").turns.compute()["text"].tolist()
    assert texts.count("Come in, come in.") == 1
    assert sorted(texts) == _texts(single)
    again = build(DATASETS / "pippa.jsonl", tmp_path / "c", format="pippa", shard_size=2,
                  classify=False, client=client)  # fmt: skip
    assert again.count("skipped") == 2 and again.duplicated == ["pippa.jsonl line 4"]


def test_a_parquet_row_repeated_in_another_shard_is_left_out(tmp_path, client):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = pq.read_table(DATASETS / "wildchat-extra-column.parquet").to_pylist()
    source = tmp_path / "twice.parquet"
    pq.write_table(pa.Table.from_pylist(rows + rows[:1]), source)  # the first row again, last
    single = tmp_path / "single.db"
    import_file(single, "wildchat", source)
    report = build(source, tmp_path / "c", format="wildchat", shard_size=len(rows),
                   classify=False, client=client)  # fmt: skip
    assert report.duplicated == [f"twice.parquet row {len(rows)}"]
    assert len(report.shards) == 1  # the second shard held only the repeat
    turns = open_corpus(tmp_path / "c").turns.compute()
    assert sorted(turns["text"].tolist()) == _texts(single)


@pytest.mark.parametrize("folder", ["logs", "logs/chat", "logs/chat/Shopkeeper"])
def test_a_textgen_build_names_the_character_by_its_folder(tmp_path, client, folder):
    # the name is in logs/chat/<character>/, not in the log: a shard keeps the two folders
    report = build(DATASETS / folder, tmp_path / "c", format="textgen", shard_size=2,
                   classify=False, client=client)  # fmt: skip
    assert report.count("failed") == 0
    corpus = open_corpus(tmp_path / "c")
    assert corpus.chats.compute()["title"].tolist() == ["Shopkeeper: 20250105-14-30-00"]
    turns = corpus.turns.compute()
    assert set(turns.loc[turns["kind"] == "assistant_turn", "speaker"]) == {"shopkeeper"}  # its id
