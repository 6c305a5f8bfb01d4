"""Building a corpus from a large export, and the bad inputs it refuses.

A ShareGPT file split into shards gives the same turns as one ``rpkit import``;
a rerun builds only what is missing; the JSON-lines splitter streams lines.
Every bad input gets a specific ``RpkitError`` and leaves what was exported.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import rpkit
from rpkit import frames
from rpkit.corpus import (
    CorpusArgumentError,
    CorpusPathError,
    HistoryNameError,
    SourceError,
    SourceFormatError,
    build,
    export,
    open_corpus,
)
from rpkit.corpus.repeats import Repeats
from rpkit.corpus.shards import split_lines, split_source
from rpkit.importers import FORMATS, import_file

from ..helpers import ROOT
from ..system.test_faults import unwritable
from .cluster import demo_histories, session_client, write_sharegpt

EXPORTS = ROOT / "data" / "exports"
COLS = ["position", "kind", "speaker", "text", "retired", "replaced_how"]


@pytest.fixture(scope="session")
def client(request):
    return session_client(request)


def _conversations(turns: pd.DataFrame, chats: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each chat's transcript by title (ShareGPT: the conversation's id)."""
    titles = dict(zip(chats["chat_id"], chats["title"], strict=True))
    return {
        titles[c]: g[COLS].reset_index(drop=True)
        for c, g in turns.groupby("chat_id", observed=True)
    }


def test_sharded_sharegpt_gives_the_turns_of_one_import(tmp_path, client):
    source = write_sharegpt(tmp_path / "big.json", 23)
    single = tmp_path / "single.db"
    import_file(single, "sharegpt", source)
    with rpkit.open_db(single) as conn:
        chats = rpkit.current_state(conn)["chats"].rename(columns={"id": "chat_id"})
        whole = pd.concat([frames.turns(conn, int(c)) for c in chats["chat_id"]])
    expected = _conversations(whole, chats)

    report = build(source, tmp_path / "c", format="sharegpt", shard_size=5, client=client)
    assert (
        report.ok
        and report.count("done") == 5
        and list(report.shards["records"])
        == [
            5,
            5,
            5,
            5,
            3,
        ]
    )
    corpus = open_corpus(tmp_path / "c", client=client)
    got = {}
    for h in corpus.histories:
        got |= _conversations(corpus.read("turns", h), corpus.read("chats", h))
    assert sorted(got) == sorted(expected)
    for title, frame in expected.items():
        pd.testing.assert_frame_equal(got[title], frame)
    assert corpus.summary()["turns"].sum() == (~whole["retired"]).sum()
    assert len(corpus.read("affinity", corpus.histories[0])) > 0  # classified
    stages = report.shards[["import_s", "classify_s", "export_s"]]
    assert (stages > 0).all().all()  # every stage ran in every shard's task, and is timed

    again = build(source, tmp_path / "c", format="sharegpt", shard_size=5, client=client)
    assert again.count("skipped") == 5 and again.count("done") == 0
    assert again.shards[["import_s", "classify_s", "export_s"]].isna().all().all()
    assert "5 skipped" in repr(again)


def test_rerun_builds_only_what_is_missing(tmp_path, client):
    source = write_sharegpt(tmp_path / "big.json", 9)
    out = tmp_path / "c"
    build(source, out, format="sharegpt", shard_size=3, classify=False, client=client)
    gone = "big-00001"
    for table in ("turns", "chats"):  # as if the export of that shard was killed midway
        shutil.rmtree(out / table / f"history={gone}")
    (out / "_histories" / "big-00002.db").unlink()
    assert gone not in open_corpus(out).histories
    report = build(source, out, format="sharegpt", shard_size=3, classify=False, client=client)
    status = dict(zip(report.shards["shard"], report.shards["status"], strict=True))
    assert status == {"big-00000": "skipped", "big-00001": "done", "big-00002": "done"}
    timed = report.shards.set_index("shard")[["import_s", "classify_s", "export_s"]].notna()
    assert timed.to_dict("index") == {  # big-00001 kept its history: only exported again
        "big-00000": {"import_s": False, "classify_s": False, "export_s": False},
        "big-00001": {"import_s": False, "classify_s": False, "export_s": True},
        "big-00002": {"import_s": True, "classify_s": False, "export_s": True},
    }
    corpus = open_corpus(out)
    assert corpus.histories == ["big-00000", "big-00001", "big-00002"]
    assert corpus.summary()["chats"].tolist() == [3, 3, 3]


def test_rerun_exports_again_a_shard_a_power_cut_left_unreadable(tmp_path, client):
    source = write_sharegpt(tmp_path / "big.json", 6)
    out = tmp_path / "c"
    build(source, out, format="sharegpt", shard_size=3, classify=False, client=client)
    before = open_corpus(out).read("turns", "big-00000")
    (out / "turns" / "history=big-00000" / "part-0.parquet").write_bytes(b"")
    chats = out / "chats" / "history=big-00000" / "part-0.parquet"
    chats.write_bytes(chats.read_bytes()[: chats.stat().st_size // 2])  # its source unreadable
    report = build(source, out, format="sharegpt", shard_size=3, classify=False, client=client)
    status = dict(zip(report.shards["shard"], report.shards["status"], strict=True))
    assert status == {"big-00000": "done", "big-00001": "skipped"}
    took = report.shards.set_index("shard").loc["big-00000"]
    assert pd.isna(took["import_s"]) and took["export_s"] > 0  # its history kept: exported again
    pd.testing.assert_frame_equal(open_corpus(out).read("turns", "big-00000"), before)


def test_a_sillytavern_folder_builds_a_history_per_folder(tmp_path, client):
    source = EXPORTS / "sillytavern"
    report = build(source, tmp_path / "c", format="sillytavern", shard_size=50, client=client)
    assert report.ok and list(report.shards["shard"]) == [
        "sillytavern-00000",
        "sillytavern_group-00000",
    ]
    summary = open_corpus(tmp_path / "c").summary()
    assert summary["chats"].tolist() == [2, 1]  # the branch is a chat of its main chat's shard


def test_jsonl_splitter_streams_lines_into_shards(tmp_path):
    source = tmp_path / "data.jsonl"
    lines = [json.dumps({"messages": [{"role": "user", "content": f"hi {i}"}]}) for i in range(7)]
    source.write_text("\n".join(lines[:3]) + "\n\n" + "\n".join(lines[3:]))  # a blank line
    out = tmp_path / "c"
    (out / "_tmp").mkdir(parents=True)
    (out / "_shards").mkdir()
    split = split_lines(source, out, 3, False, Repeats(False))
    assert [(s.name, s.records) for s in split.shards] == [
        ("data-00000", 3),
        ("data-00001", 3),
        ("data-00002", 1),
    ]
    back = [line for s in split.shards for line in (out / s.path).read_text().splitlines()]
    assert back == lines

    source.write_text(lines[0] + "\nnot json\n[1, 2]\n" + lines[1] + "\n")
    with pytest.raises(SourceFormatError, match="data.jsonl line 2: not a JSON object"):
        split_lines(source, out, 3, False, Repeats(False))
    split = split_lines(source, out, 3, True, Repeats(False))
    assert split.bad == [
        ("data.jsonl line 2", "not a JSON object"),
        ("data.jsonl line 3", "not a JSON object"),
    ]
    assert [s.records for s in split.shards] == [2]


def test_manifest_reuses_shards_and_refuses_another_source(tmp_path):
    source = write_sharegpt(tmp_path / "big.json", 4)
    out = tmp_path / "c"
    (out / "_tmp").mkdir(parents=True)
    first = split_source(source, out, "sharegpt", 2, False)
    assert split_source(source, out, "sharegpt", 2, False).shards == first.shards
    with pytest.raises(CorpusPathError, match="build into a new folder"):
        split_source(source, out, "sharegpt", 3, False)


def test_a_manifest_or_shard_a_power_cut_cut_short_is_split_again(tmp_path):
    source = write_sharegpt(tmp_path / "big.json", 4)
    out = tmp_path / "c"
    (out / "_tmp").mkdir(parents=True)
    first = split_source(source, out, "sharegpt", 2, False)
    whole = {s.name: (out / s.path).read_bytes() for s in first.shards}
    manifest = out / "_shards" / "big" / "manifest.json"
    manifest.write_text(manifest.read_text()[:20])  # does not parse
    assert split_source(source, out, "sharegpt", 2, False).shards == first.shards
    shard = out / first.shards[1].path
    shard.write_bytes(shard.read_bytes()[:10])  # listed, but not of its size
    assert split_source(source, out, "sharegpt", 2, False).shards == first.shards
    assert {s.name: (out / s.path).read_bytes() for s in first.shards} == whole


# -- bad input -----------------------------------------------------------------------


@pytest.fixture
def exported(tmp_path, client) -> tuple[Path, pd.DataFrame]:
    """A corpus holding one history, and that history's events: what must not be lost."""
    (path,) = demo_histories(tmp_path / "h", 1, events=50)
    out = tmp_path / "c"
    export([path], out, client=client)
    return out, open_corpus(out).read("events", path.stem)


def _unchanged(out: Path, events: pd.DataFrame) -> None:
    corpus = open_corpus(out)
    assert corpus.histories == ["h001"]
    pd.testing.assert_frame_equal(corpus.read("events", "h001"), events)


def test_a_source_that_does_not_exist(exported, tmp_path):
    out, events = exported
    with pytest.raises(SourceError, match="does not exist"):
        build(tmp_path / "nope.json", out, format="sharegpt")
    with pytest.raises(SourceError, match="nope.db does not exist"):
        export([tmp_path / "nope.db"], out)
    _unchanged(out, events)


@pytest.mark.parametrize("size", [0, -3, True, 2.5, "10"])
def test_a_bad_shard_size(exported, tmp_path, size):
    out, events = exported
    source = write_sharegpt(tmp_path / "big.json", 3)
    with pytest.raises(
        CorpusArgumentError, match=f"shard_size must be a positive int, not {size!r}"
    ):
        build(source, out, format="sharegpt", shard_size=size)
    _unchanged(out, events)


def test_a_mixed_format_folder(tmp_path, client):
    folder = tmp_path / "chats"
    shutil.copytree(EXPORTS / "sillytavern", folder)
    shutil.copy(EXPORTS / "chatgpt" / "conversations.json", folder)
    (folder / "sharegpt.jsonl").write_text('{"conversations": []}\n')
    out = tmp_path / "c"
    with pytest.raises(SourceFormatError, match="conversations.json") as info:
        build(folder, out, format="sillytavern", client=client)
    assert isinstance(info.value, rpkit.ImportFormatError)
    assert not (out / "_histories").exists()
    report = build(folder, out, format="sillytavern", client=client, skip_bad=True)
    assert report.ok and report.count("done") == 2
    assert [where for where, _ in report.bad_records] == ["conversations.json", "sharegpt.jsonl"]
    assert "2 bad records skipped" in repr(report) and "sharegpt.jsonl" in repr(report)


def test_an_output_folder_that_is_a_file(tmp_path):
    (path,) = demo_histories(tmp_path / "h", 1, events=40)
    out = tmp_path / "file"
    out.write_text("not a folder")
    with pytest.raises(CorpusPathError, match="is a file"):
        export([path], out)
    with pytest.raises(CorpusPathError, match="is a file"):
        build(EXPORTS / "sharegpt" / "roleplay.json", out, format="sharegpt")
    assert out.read_text() == "not a folder"


def test_a_history_name_clash(exported, tmp_path, client):
    out, events = exported
    other = demo_histories(tmp_path / "other", 1, events=70)[0]
    twins = [other, demo_histories(tmp_path / "twin", 2, events=40)[0]]
    with pytest.raises(HistoryNameError, match="two histories are named 'h001'"):
        export(twins, out, client=client)
    with pytest.raises(HistoryNameError, match="already holds a history 'h001'"):
        export([other], out, client=client)
    _unchanged(out, events)
    with pytest.raises(HistoryNameError, match="cannot be a partition"):
        export([_renamed(other, "_hidden")], tmp_path / "x", client=client)


def _renamed(path: Path, stem: str) -> Path:
    new = path.with_name(stem + ".db")
    shutil.copyfile(path, new)
    return new


def test_an_unwritable_output_folder(exported):
    out, events = exported
    with unwritable(out), pytest.raises(CorpusPathError, match="cannot write"):
        export([next((out.parent / "h").glob("*.db"))], out)
    _unchanged(out, events)


def test_a_shard_that_fails_is_reported_and_the_others_are_built(tmp_path, client):
    records = json.loads(write_sharegpt(tmp_path / "s.json", 4).read_text())
    records[2:] = [{"id": "x", "messages": []}, {"id": "y", "messages": []}]  # no conversations
    source = tmp_path / "mixed.json"
    source.write_text(json.dumps(records))
    report = build(source, tmp_path / "c", format="sharegpt", shard_size=2, client=client)
    assert not report.ok and report.count("done") == 1 and report.count("failed") == 1
    failed = report.shards[report.shards["status"] == "failed"].iloc[0]
    assert failed["shard"] == "mixed-00001" and "ImportFormatError" in failed["reason"]
    assert "mixed-00001: failed (ImportFormatError" in repr(report)
    assert open_corpus(tmp_path / "c").histories == ["mixed-00000"]


def test_the_cli_builds_on_a_cluster_by_its_address(tmp_path, client):
    from click.testing import CliRunner

    from rpkit.cli import main

    source = write_sharegpt(tmp_path / "s.json", 5)
    address = client.scheduler.address
    args = ["corpus", "build", "sharegpt", str(source), str(tmp_path / "c"), "--shard-size", "2"]
    result = CliRunner().invoke(main, [*args, "--no-classify", "--durable", "--cluster", address])
    assert result.exit_code == 0, result.output
    assert "3 shards into c/: 3 done, 0 skipped, 0 failed" in result.output
    result = CliRunner().invoke(main, ["corpus", "build", "nope", str(source), str(tmp_path / "d")])
    assert result.exit_code == 1 and "unknown export format 'nope'" in result.output


@pytest.mark.skipif(
    "jsonl" not in FORMATS,
    reason="the JSON-lines importer (format 'jsonl') is not merged yet",
)
def test_a_jsonl_dataset_builds_like_one_import(tmp_path, client):
    source = tmp_path / "data.jsonl"
    lines = [
        {"messages": [{"role": "user", "content": f"I love it {i}"},
                      {"role": "assistant", "content": f"Thanks, that is kind {i}"}]}
        for i in range(5)
    ]  # fmt: skip
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    single = tmp_path / "single.db"
    import_file(single, "jsonl", source)
    with rpkit.open_db(single) as conn:
        chats = rpkit.current_state(conn)["chats"]
        turns = sum(len(frames.turns(conn, int(c))) for c in chats["id"])
    report = build(source, tmp_path / "c", format="jsonl", shard_size=2, client=client)
    assert report.ok and report.count("done") == 3
    summary = open_corpus(tmp_path / "c").summary()
    assert summary["chats"].sum() == len(chats) and summary["turns"].sum() == turns
