"""``rpkit demo|info|events|preview|rewind|undo|fork|snapshots|restore|verify``: one history."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
import pandas as pd

from .. import frames
from ..demo import build_demo, dump_events
from ..display import counted, size_text
from ..errors import PruneError
from ..operations import (
    compute_rewind_preview,
    data_dir_of,
    execute_rewind,
    fork_chat,
    list_snapshots,
    open_db,
    prune_snapshots,
    read_snapshot_meta,
    record_size,
    resolve_snapshot,
    restore_snapshot,
    rewind_point,
    undo_rewind,
    verify,
)
from ..store import head_id
from ..store.sqlite import describe
from .common import DATA_DIR, DB, existing, friendly


@click.command()
@DB
@click.option("--events", default=400, show_default=True, help="Approximate number of events.")
@click.option("--seed", default=7, show_default=True, help="Random seed (same seed, same log).")
@click.option("--chats", default=3, show_default=True, help="Number of chats sharing the world.")
@click.option(
    "--own-bots",
    is_flag=True,
    help="Give each chat after the first companions of its own (no shared edges).",
)
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@click.option(
    "--dump",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the log as JSON lines to this file.",
)
@friendly
def demo(
    db: Path, events: int, seed: int, chats: int, own_bots: bool, force: bool, dump: Path | None
) -> None:
    """Create a deterministic demo history in DB."""
    build_demo(db, events=events, seed=seed, chats=chats, own_bots=own_bots, force=force)
    with open_db(db) as conn:
        count = head_id(conn)
        if dump is not None:
            dump_events(conn, dump)
    click.echo(f"wrote {counted(count, 'event')} to {db}")


@click.command()
@DB
@friendly
def info(db: Path) -> None:
    """Summarise a history: events, chats, projection."""
    with open_db(existing(db)) as conn:
        about, chats = frames.summary(conn), frames.chats(conn)
    click.echo(f"history      {db}")
    click.echo(
        f"events       {about.events} ({about.retired} retired), newest id {about.head_event_id}"
    )
    click.echo(f"projected at {about.projected_at}")
    click.echo(f"sqlite       {describe()}")
    tree = chats.set_index("chat_id", drop=False)
    for chat_id in frames.tree_order(chats):
        c = tree.loc[chat_id]
        where = "" if pd.isna(c.parent_chat_id) else (
            f"  (fork of chat {c.parent_chat_id} at turn {c.fork_position})"
        )  # fmt: skip
        indent = "  " * int(c.depth)
        click.echo(f"{indent}chat {chat_id:<7} {c.turns:>5} turns  {c.title}{where}")


@click.command()
@DB
@click.option("--chat", "chat_id", type=int, default=None, help="Only this chat.")
@click.option("--kind", default=None, help="Only this kind of event.")
@click.option("--all", "include_retired", is_flag=True, help="Include retired events.")
@click.option("--limit", default=50, show_default=True, help="Show the newest N (0: all).")
@friendly
def events(
    db: Path, chat_id: int | None, kind: str | None, include_retired: bool, limit: int
) -> None:
    """List events, newest last."""
    with open_db(existing(db)) as conn:
        frame = frames.events(
            conn, include_retired=include_retired, chat_id=chat_id, kind=kind, newest=limit or None
        )
    for row in frame.to_dict("records"):
        click.echo(_event_line(row))


def _event_line(row: dict) -> str:
    """One line per event: id, time, chat, kind, its text (or its fields), retirement."""
    original = {v: k for k, v in frames.RENAMED.items()}
    shown = [
        (original.get(c, c), v)
        for c, v in row.items()
        if c not in frames.EVENT_COLUMNS and not _missing(v)
    ]
    text = row.get("text")
    summary = text if isinstance(text, str) and text else ", ".join(f"{a}={b}" for a, b in shown)
    summary = " ".join(str(summary).split())  # one line per event
    sup = row["superseded_by"]
    mark = "" if _missing(sup) else f" [retired by {sup}]"
    chat = "-" if _missing(row["chat_id"]) else str(row["chat_id"])
    ts = row["ts"].strftime("%Y-%m-%dT%H:%M:%S")
    return f"{row['id']:>7}  {ts}  {chat:>4}  {str(row['kind']):<17} {summary[:70]}{mark}"


def _missing(value: object) -> bool:
    return value is None or (not isinstance(value, list) and bool(pd.isna(value)))


def _echo_preview(p: dict) -> None:
    scope = "" if p.get("chat_id") is None else f" of chat {p['chat_id']}"
    click.echo(
        f"rewind{scope} to after event {p['after_event_id']} (newest is {p['head_event_id']})"
    )
    click.echo(
        f"removes {counted(p['total_events'], 'event')} ({p['hidden_events']} already retired)"
    )
    for kind, n in p["by_kind"].items():
        click.echo(f"  {kind:<20} {n}")
    for chat, n in p["by_chat"].items():
        click.echo(f"  chat {'-' if chat is None else chat:<15} {n}")
    if p["restored_events"]:
        ids = ", ".join(str(e["id"]) for e in p["restored_events"])
        click.echo(f"brings back {counted(len(p['restored_events']), 'retired event')}: {ids}")


def _target(conn, after: int | None, turn: int | None) -> int:
    if (after is None) == (turn is None):
        raise click.UsageError("give AFTER_EVENT_ID or --turn, not both or neither")
    return rewind_point(conn, turn) if turn is not None else after


CHAT = click.option(
    "--chat", "chat_id", type=int, default=None, help="Rewind this chat only (default: all)."
)


@click.command()
@DB
@click.argument("after_event_id", type=int, required=False)
@click.option("--turn", type=int, default=None, help="'Rewind to here' on this turn instead.")
@CHAT
@friendly
def preview(db: Path, after_event_id: int | None, turn: int | None, chat_id: int | None) -> None:
    """Show what a rewind to AFTER_EVENT_ID would remove and bring back."""
    with open_db(existing(db)) as conn:
        target = _target(conn, after_event_id, turn)
        _echo_preview(compute_rewind_preview(conn, target, chat_id=chat_id))
        click.echo(f"the undo record takes {size_text(record_size(conn, target, chat_id))}")


@click.command(name="rewind")
@DB
@click.argument("after_event_id", type=int, required=False)
@click.option("--turn", type=int, default=None, help="'Rewind to here' on this turn instead.")
@CHAT
@DATA_DIR
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@friendly
def rewind_cmd(
    db: Path,
    after_event_id: int | None,
    turn: int | None,
    chat_id: int | None,
    data_dir: Path | None,
    yes: bool,
) -> None:
    """Delete the events after AFTER_EVENT_ID, of one chat or all (recorded first)."""
    with open_db(existing(db)) as conn:
        target = _target(conn, after_event_id, turn)
        seen = compute_rewind_preview(conn, target, chat_id=chat_id)
        size = record_size(conn, target, chat_id)
    _echo_preview(seen)
    click.echo(f"the undo record takes {size_text(size)}")
    if not yes:
        click.confirm("Rewind?", abort=True)
    snap = execute_rewind(
        db_path=db,
        data_dir=data_dir_of(db, data_dir),
        after_event_id=target,
        chat_id=chat_id,
        expected_preview=seen,
    )
    click.echo(f"rewound; undo record ({size_text(snap.stat().st_size)}): {snap}")
    click.echo(f"undo with: rpkit undo {db} {snap}")


@click.command()
@DB
@click.argument("snapshot_path", metavar="SNAPSHOT", type=click.Path(path_type=Path))
@DATA_DIR
@friendly
def undo(db: Path, snapshot_path: Path, data_dir: Path | None) -> None:
    """Put back what the rewind that took SNAPSHOT removed, keeping what came since."""
    undo_rewind(db_path=existing(db), data_dir=data_dir_of(db, data_dir), snapshot=snapshot_path)
    click.echo(f"put back what the rewind of {snapshot_path} removed")


@click.command()
@DB
@click.option("--turn", type=int, required=True, help="Fork at this turn (live or retired).")
@click.option("--title", default=None, help="The new chat's title.")
@friendly
def fork(db: Path, turn: int, title: str | None) -> None:
    """Fork a new chat from a turn: it reads as the turn's chat, up to that turn."""
    with open_db(existing(db)) as conn:
        chat = fork_chat(conn, turn, title=title)
        turns = conn.execute("SELECT turn_count FROM chat_state WHERE chat_id = ?", (chat,))
        click.echo(f"chat {chat}: forked at turn {turn}, {counted(turns.fetchone()[0], 'turn')}")


def _snapshot_line(row) -> str:
    removed = "" if pd.isna(row.removed) else f"removed {row.removed:>6}  "
    scope = "" if pd.isna(row.scope) else f"{row.scope:<8} "
    return (
        f"{row.taken_at:%Y-%m-%d %H:%M:%S}  {row.kind:<12} {row.format:<6} "
        f"{size_text(int(row.size)):>8}  {scope}{removed}newest {row.max_event_id:>7}  {row.path}"
    )


def _keep_count(_ctx, _param, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        keep = int(value)
    except ValueError:
        keep = None
    if keep is None or keep < 0:
        raise PruneError(
            f"--keep {value!r} must be a whole number of snapshots to keep, 0 or more "
            "(e.g. --keep 10); nothing was pruned"
        )
    return keep


@click.command()
@click.argument("db", type=click.Path(path_type=Path), required=False)
@DATA_DIR
@click.option("--prune", is_flag=True, help="Remove old snapshots (a preview unless --yes).")
@click.option("--keep", default=None, help="With --prune: keep the newest N snapshots.")
@click.option(
    "--older-than", type=float, default=None, help="With --prune: only those older than DAYS."
)
@click.option(
    "--name", "names", multiple=True, help="With --prune: also remove this snapshot (repeatable)."
)
@click.option("--yes", is_flag=True, help="With --prune: remove them, do not only preview.")
@friendly
def snapshots(
    db: Path | None,
    data_dir: Path | None,
    prune: bool,
    keep: str | None,
    older_than: float | None,
    names: tuple[str, ...],
    yes: bool,
) -> None:
    """List the snapshots of DB (or of --data-dir): kind, record or copy, size, scope.

    With --prune, remove those beyond the newest --keep N (and older than
    --older-than DAYS), never the newest record of a chat unless --name names
    it; without --yes it only shows what would go.
    """
    if db is None and data_dir is None:
        raise click.UsageError("give DB or --data-dir")
    folder = data_dir_of(db, data_dir) if db is not None else data_dir
    if prune:
        count = _keep_count(None, None, keep)
        if older_than is not None and older_than < 0:
            raise PruneError(
                f"--older-than {older_than} must be 0 days or more; nothing was pruned"
            )
        age = None if older_than is None else timedelta(days=older_than)
        gone = prune_snapshots(
            data_dir=folder, keep=count, older_than=age, snapshots=names, confirm=yes
        )
        for row in gone.itertuples():
            click.echo(_snapshot_line(row))
        total = size_text(int(gone["size"].sum()))
        said = f"{counted(len(gone), 'snapshot')}, {total}"
        click.echo(f"removed {said}" if yes else f"would remove {said} (pass --yes to remove them)")
        return
    if keep is not None or older_than is not None or names or yes:
        raise click.UsageError("--keep, --older-than, --name and --yes go with --prune")
    frame = list_snapshots(folder)
    if frame.empty:
        click.echo("no snapshots")
        return
    for row in frame.itertuples():
        click.echo(_snapshot_line(row))
    click.echo(f"{counted(len(frame), 'snapshot')}, {size_text(int(frame['size'].sum()))}")


@click.command()
@DB
@click.argument("snapshot_path", metavar="SNAPSHOT", type=click.Path(path_type=Path))
@DATA_DIR
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@friendly
def restore(db: Path, snapshot_path: Path, data_dir: Path | None, yes: bool) -> None:
    """Replace DB's content with SNAPSHOT (the current state is snapshotted first)."""
    existing(db)
    if not yes:
        # Check the snapshot before asking, so nobody confirms a restore that cannot run.
        found = resolve_snapshot(data_dir_of(db, data_dir), snapshot_path)
        meta = read_snapshot_meta(found, check=True)
        click.echo(
            f"{found.name}: {meta['kind']} snapshot, {counted(meta['events'], 'event')}, "
            f"newest {meta['max_event_id']}"
        )
        click.confirm(f"Replace the content of {db} with it?", abort=True)
    before = restore_snapshot(
        db_path=existing(db), data_dir=data_dir_of(db, data_dir), snapshot=snapshot_path
    )
    click.echo(f"restored {snapshot_path}; the replaced state is in {before}")


@click.command(name="verify")
@DB
@friendly
def verify_cmd(db: Path) -> None:
    """Rebuild the projection in a scratch database and compare it with the live tables."""
    with open_db(existing(db)) as conn:
        report = verify(conn)
    click.echo(repr(report))
    click.echo(f"checked with {report.sqlite}")
    if not report.ok:
        raise SystemExit(1)
