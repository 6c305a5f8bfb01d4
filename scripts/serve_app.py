"""Serve the rpkit app (``app/rpkit-app.ipynb``) with Voila on one history: ``make app``.

    .venv/bin/python scripts/serve_app.py [DB] [--data-dir DIR] [--port N] [--token T]

Without DB it serves a fresh copy of the demo history (``data/demo.db`` itself is
never changed) in a temporary folder. With DB it works on that file in place, and
rewinds snapshot into DIR/snapshots/ (by default the history's own folder). It
listens on 127.0.0.1 only, with a token (one is made up unless given).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "app" / "rpkit-app.ipynb"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", nargs="?", help="the history to serve (default: a copy of the demo)")
    parser.add_argument("--data-dir", help="where rewinds put snapshots (default: beside DB)")
    parser.add_argument("--port", type=int, default=8866)
    parser.add_argument("--token", default=None, help="the page's token (default: a new one)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    args = parser.parse_args(argv)

    if args.db:
        db = Path(args.db).resolve()
        if not db.is_file():
            print(f"{db} is not an existing history file (make one with: rpkit demo PATH)")
            return 2
    else:
        work = Path(tempfile.mkdtemp(prefix="rpkit-app-"))
        db = work / "demo.db"
        shutil.copyfile(ROOT / "data" / "demo.db", db)
        print(f"serving a copy of the demo history: {db}")
    data_dir = Path(args.data_dir).resolve() if args.data_dir else db.parent
    token = args.token or secrets.token_hex(16)

    env = dict(os.environ, RPKIT_APP_DB=str(db), RPKIT_APP_DATA_DIR=str(data_dir))
    cmd = [
        sys.executable,
        "-m",
        "voila",
        str(NOTEBOOK),
        "--Voila.ip=127.0.0.1",
        f"--port={args.port}",
        f"--token={token}",
        "--show_tracebacks=True",
    ]
    if args.no_browser:
        cmd.append("--no-browser")
    print(f"the app: http://127.0.0.1:{args.port}/?token={token}", flush=True)
    os.execve(sys.executable, cmd, env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
