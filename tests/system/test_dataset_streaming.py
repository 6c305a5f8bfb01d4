"""Streamed imports of 1 GB dataset files: peak memory stays under 300 MB.

The files are generated (a WildChat-shaped record of ~10 KB repeated with a new
id), the import runs in a child process whose peak RSS is measured. The same
data as ``.gz`` and ``.zst`` give the same history.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

GB = 1 << 30
PEAK_MB = 300
# The child's own peak RSS in KB. On Linux it is VmHWM, the high-water mark of the
# child's own memory map. Its ru_maxrss (RUSAGE_SELF) is not: exec copies the peak of the
# map it replaces (the parent's, shared by vfork) into it, so a child of a test process
# that once held 400 MB reads 400 MB before it runs a line.
PEAK = """
import sys

def peak_kb():
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except OSError:
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak // 1024 if sys.platform == "darwin" else peak
"""
CHILD = (
    PEAK
    + """
from rpkit.importers import import_file
report = import_file(sys.argv[1], sys.argv[2], sys.argv[3])
print(report.records, report.chats, report.turns)
print(peak_kb())
"""
)


def record(i: int) -> dict:
    reply = ("The lighthouse keeper counts the waves. " * 120)[:5000]
    return {
        "conversation_hash": f"h{i:09d}",
        "model": "gpt-4",
        "timestamp": "2023-04-09T00:02:53+00:00",
        "conversation": [
            {
                "role": "user",
                "content": f"Tell me story {i}. " + "Please. " * 600,
                "language": "English",
            },
            {"role": "assistant", "content": reply, "language": "English", "toxic": False},
        ],
        "language": "English",
        "toxic": False,
        "redacted": False,
    }


def write_lines(path: Path, size: int) -> int:
    """A JSON-lines file of about ``size`` bytes; the number of records."""
    head, tail = json.dumps(record(0)).split("h000000000")
    n = 0
    with open(path, "wb", buffering=1 << 22) as f:
        written = 0
        while written < size:
            line = f"{head}h{n:09d}{tail}\n".encode()
            f.write(line)
            written += len(line)
            n += 1
    return n


def write_parquet(path: Path, size: int) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    batch = 2000
    base = pa.Table.from_pylist([record(i) for i in range(batch)])
    n = 0
    with pq.ParquetWriter(path, base.schema, compression="none") as w:
        while path.stat().st_size < size:  # each row group is on disk once written
            ids = pa.array([f"h{n + i:09d}" for i in range(batch)])
            w.write_table(base.set_column(0, "conversation_hash", ids), row_group_size=1000)
            n += batch
    return n


def peak_import(db: Path, fmt: str, path: Path) -> tuple[float, str]:
    """The import's peak RSS in MB, read by the child itself (``PEAK``; RUSAGE_CHILDREN
    would be the largest of every child the test process ever waited for), and its counts."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(db), fmt, str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    counts, peak_kb = out.stdout.strip().splitlines()[-2:]
    return int(peak_kb) / 1024, counts


def test_the_childs_peak_is_its_own_not_the_test_processs():
    held = bytearray(256 << 20)
    held[:: 1 << 12] = b"\x01" * len(range(0, len(held), 1 << 12))  # touch every page
    out = subprocess.run(
        [sys.executable, "-c", PEAK + "print(peak_kb())"], capture_output=True, text=True, check=True
    )  # fmt: skip
    del held
    assert int(out.stdout) < 64 << 10  # KB: a bare Python, not the 256 MB held here


@pytest.mark.parametrize("container", ["jsonl", "parquet"])
def test_a_1gb_file_imports_in_under_300mb(tmp_path, container):
    path = tmp_path / f"big.{container}"
    n = (write_lines if container == "jsonl" else write_parquet)(path, GB)
    assert path.stat().st_size >= GB * 0.9
    peak, out = peak_import(tmp_path / "h.db", "wildchat", path)
    assert out.split() == [str(n), str(n), str(2 * n)]
    assert peak < PEAK_MB, f"peak RSS {peak:.0f} MB"


def test_gz_and_zst_of_the_same_data_give_the_same_history(tmp_path):
    import zstandard

    plain = tmp_path / "data.jsonl"
    write_lines(plain, 20 << 20)
    data = plain.read_bytes()
    (tmp_path / "data.jsonl.gz").write_bytes(gzip.compress(data, compresslevel=1, mtime=0))
    (tmp_path / "data.jsonl.zst").write_bytes(zstandard.ZstdCompressor(level=1).compress(data))
    import rpkit
    from rpkit.importers import import_file

    logs = []
    for name in ("data.jsonl", "data.jsonl.gz", "data.jsonl.zst"):
        db = tmp_path / f"{name}.db"
        import_file(db, "wildchat", tmp_path / name)
        with rpkit.open_db(db) as conn:
            rows = conn.execute(
                "SELECT kind, json_remove(payload, '$.source.file') FROM event_log ORDER BY id"
            ).fetchall()
        logs.append(rows)
    assert logs[0] == logs[1] == logs[2] and len(logs[0]) > 1000
