"""The traced child of the power-loss trials: runs one operation of ``operations.py``.

Started as ``python -m tests.system.powerloss._child NAME ROOT ARGS_JSON [FAULT]``
under the recorder's LD_PRELOAD. ``FAULT`` plants a fault for the trials that
show the checker fails: ``no-durable-commit`` (destructive commits at
``synchronous = NORMAL``) or ``no-snapshot-fsync`` (a snapshot's bytes are
never fsynced). The faults are planted here, in the child only.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main() -> None:
    os.environ["RPKIT_PROGRESS"] = "0"
    name, root, args = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
    fault = sys.argv[4] if len(sys.argv) > 4 else ""
    import rpkit.operations.snapshot_files
    import rpkit.store.transaction

    from .operations import BY_NAME
    from .recorder import mark

    if fault == "no-durable-commit":
        rpkit.store.transaction.DURABLE_LEVEL = "NORMAL"
    elif fault == "no-snapshot-fsync":
        rpkit.operations.snapshot_files.fsync_file = lambda path: None
    elif fault:
        raise SystemExit(f"unknown fault {fault!r}")
    BY_NAME[name].run(root, args, lambda: mark("returned"))


if __name__ == "__main__":
    main()
