"""Child process of the atomic re-export test: reads one history's partitions in a loop.

Usage: ``python -m tests._corpus_reader_child OUT NAME SECONDS``. Reads the
``events`` table of history NAME with pyarrow alone (dataset discovery, as any
reader would) and, at the end, prints one JSON line: how many reads, and each
distinct (rows, distinct ids, files listed) it saw. It never writes.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds


def main() -> None:
    out, name, seconds = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    folder = out / "events" / f"history={name}"
    end = time.monotonic() + seconds
    print(json.dumps({"ready": True}), flush=True)
    reads, seen = 0, set()
    while time.monotonic() < end:
        data = ds.dataset(folder, format="parquet")
        ids = data.to_table(columns=["id"]).column("id").to_pylist()
        seen.add((len(ids), len(set(ids)), len(data.files)))
        reads += 1
    print(json.dumps({"reads": reads, "seen": sorted(seen)}), flush=True)


if __name__ == "__main__":
    main()
