"""Draw the README's affinity chart from the committed demo history.

    python scripts/readme_chart.py            # writes docs/affinity.png

The history is copied into a temporary folder first, so ``data/`` is only read.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from rpkit import frames, open_db, plots, rewind_point  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=ROOT / "data" / "demo.db")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "affinity.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "demo.db"
        shutil.copy(args.db, copy)
        with open_db(copy) as conn:
            timeline = frames.affinity(conn)
            edits = frames.events(conn, include_retired=True)
            point = rewind_point(conn, 280)
            turn_at_point = int(timeline.loc[timeline["event_id"] <= point, "turn"].max())
    edited = edits[edits["revision"].isin(["edit", "regenerate"])]
    first_edit = int(timeline.loc[timeline["event_id"] <= edited["id"].min(), "turn"].max())
    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    plots.affinity(
        timeline,
        ax=ax,
        x="turn",
        mark={"first edit": first_edit, "a rewind point": turn_at_point},
        title="Affinity between Wren (you) and three companions, demo history",
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110, metadata={"Software": None})
    plt.close(fig)
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
