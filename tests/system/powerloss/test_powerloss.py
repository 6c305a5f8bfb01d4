"""Power-loss trials: every disk state a power cut may leave during an operation is checked.

Each operation of ``operations.OPERATIONS`` runs once in a child process under the
recorder (``recorder.c``, an LD_PRELOAD shim compiled here with ``cc``); the
recording is checked by replaying it onto a copy of the starting files, which
must give the real result byte for byte. ``crashstates`` then builds the disk
states its persistence model allows, and ``trial.check_state`` checks each:
``open_db`` opens the history, ``integrity_check`` and ``verify`` are clean, the
log is exactly before or after (after, once the operation returned), every
listed snapshot is whole and the after-state never exists without its snapshot.
Planted faults show the checker fails when a promise breaks. ``pytest -s``
prints the counts RELIABILITY.md lists.
"""

from __future__ import annotations

import pytest

from . import recorder
from .operations import BY_NAME, OPERATIONS
from .trial import materialize, record, run_trials

pytestmark = pytest.mark.slow

SEED = 20261203
BETWEEN = 4  # sampled crash points in each stretch between two syncs or renames
VARIANTS = 8  # draws of which unsynced changes persist, per crash point (each also torn)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    cache: dict = {}

    def get(name: str):
        if name not in cache:
            cache[name] = record(BY_NAME[name], tmp_path_factory.mktemp(name))
        return cache[name]

    return get


@pytest.mark.parametrize("name", [op.name for op in OPERATIONS])
def test_the_recording_replays_to_the_real_result_byte_for_byte(recordings, tmp_path, name):
    rec = recordings(name)
    assert any(c.op == "S" for c in rec.calls)
    assert any(c.op in ("W", "U") for c in rec.calls)  # writes, or a prune's unlinks
    replayed = materialize(rec.start, tmp_path / "replay")
    recorder.replay(rec.calls, replayed)
    assert recorder.tree(replayed) == rec.end
    assert recorder.tree(replayed) != rec.start


@pytest.mark.parametrize("name", [op.name for op in OPERATIONS])
def test_no_power_cut_leaves_an_inconsistent_state(recordings, tmp_path, name):
    rec = recordings(name)
    tally = run_trials(rec, tmp_path, seed=SEED, between=BETWEEN, variants=VARIANTS)
    print(tally.line())
    assert tally.inconsistent == 0, "\n".join(tally.problems)
    assert tally.states >= 15
    assert tally.outcomes["after" if BY_NAME[name].history else "whole"] >= 1


def test_the_recorder_follows_child_processes(recordings):
    """A snapshot's files are copied by cp in a child process: its writes are recorded."""
    rec = recordings("rewind")
    pids = {c.pid for c in rec.calls if c.op == "W" and ".partial" in c.path}
    assert len(pids) >= 2


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("no-durable-commit", "the operation had returned, but the log is before"),
        ("no-snapshot-fsync", "snapshot"),
    ],
)
def test_the_checker_finds_a_planted_fault(tmp_path, fault, expected):
    """With a destructive commit at NORMAL, or a snapshot never fsynced, a rewind breaks its
    promises under some power cut, and the checker says which."""
    rec = record(BY_NAME["rewind"], tmp_path / "rec", fault)
    tally = run_trials(rec, tmp_path, seed=SEED, between=BETWEEN, variants=VARIANTS)
    print(f"{fault}: {tally.line()}")
    assert tally.inconsistent > 0
    assert any(expected in p for p in tally.problems), tally.problems
