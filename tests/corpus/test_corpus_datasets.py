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


def test_a_duplicated_record_in_another_shard_is_a_history_of_its_own(tmp_path, client):
    # each shard is its own history: PIPPA's repeated record (line 4) is deduplicated
    # within a shard only, so the corpus holds its turns twice
    report = build(DATASETS / "pippa.jsonl", tmp_path / "c", format="pippa", shard_size=2,
                   classify=False, client=client)  # fmt: skip
    texts = open_corpus(tmp_path / "c").turns.compute()["text"].tolist()
    assert len(report.shards) == 2 and texts.count("Come in, come in.") == 2


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
