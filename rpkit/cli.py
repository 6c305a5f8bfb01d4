"""The ``rpkit`` command: each subcommand opens the history and calls one library function."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import click

from . import rewind, snapshot, store, timetravel
from .catalogue import KINDS
from .errors import RpkitError


def _friendly(fn):
    """Turn an RpkitError into a one-line message and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (RpkitError, FileExistsError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


def _data_dir(db: Path, data_dir: Path | None) -> Path:
    return data_dir if data_dir is not None else db.resolve().parent


DB = click.argument("db", type=click.Path(dir_okay=True, path_type=Path))
DATA_DIR = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder whose snapshots/ holds the snapshots (default: the history's folder).",
)


def _existing(db: Path) -> Path:
    if not db.exists():
        raise click.ClickException(f"{db} does not exist; create a demo with: rpkit demo {db}")
    return db


@click.group()
@click.version_option(package_name="rpkit")
def main() -> None:
    """Explore, rewind and verify event-sourced chat histories (one SQLite file each)."""


@main.command()
@DB
@click.option("--events", default=400, show_default=True, help="Approximate number of events.")
@click.option("--seed", default=7, show_default=True, help="Random seed (same seed, same log).")
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@click.option(
    "--dump",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the log as JSON lines to this file.",
)
@_friendly
def demo(db: Path, events: int, seed: int, force: bool, dump: Path | None) -> None:
    """Create a deterministic demo history in DB."""
    from .demo import build_demo, dump_events

    build_demo(db, events=events, seed=seed, force=force)
    with store.open_db(db) as conn:
        count = store.head_id(conn)
        if dump is not None:
            dump_events(conn, dump)
    click.echo(f"wrote {count} events to {db}")


@main.command()
@DB
@_friendly
def info(db: Path) -> None:
    """Summarise a history: events, chats, projection."""
    with store.open_db(_existing(db)) as conn:
        head = store.head_id(conn)
        total, hidden = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(hidden), 0) FROM event_log"
        ).fetchone()
        click.echo(f"history      {db}")
        click.echo(f"events       {total} ({hidden} retired), newest id {head}")
        click.echo(f"projected at {store.get_meta(conn, 'projected_at')}")
        for chat_id, title, turns in conn.execute(
            "SELECT c.id, c.title, s.turn_count FROM chats c JOIN chat_state s "
            "ON s.chat_id = c.id ORDER BY c.id"
        ):
            click.echo(f"chat {chat_id:<7} {turns:>5} turns  {title}")


@main.command()
@DB
@click.option("--chat", "chat_id", type=int, default=None, help="Only this chat.")
@click.option("--kind", default=None, help="Only this kind of event.")
@click.option("--all", "include_hidden", is_flag=True, help="Include retired events.")
@click.option("--limit", default=50, show_default=True, help="Show the newest N (0: all).")
@_friendly
def events(
    db: Path, chat_id: int | None, kind: str | None, include_hidden: bool, limit: int
) -> None:
    """List events, newest last."""
    where, args = ["1 = 1"], []
    if chat_id is not None:
        where.append("chat_id = ?")
        args.append(chat_id)
    if kind is not None:
        where.append("kind = ?")
        args.append(kind)
    if not include_hidden:
        where.append("hidden = 0")
    sql = (
        "SELECT id, ts, chat_id, kind, payload, superseded_by FROM event_log "
        f"WHERE {' AND '.join(where)} ORDER BY id DESC"
    )
    if limit:
        sql += f" LIMIT {int(limit)}"
    with store.open_db(_existing(db)) as conn:
        if (
            kind is not None
            and kind not in KINDS
            and not conn.execute(
                "SELECT 1 FROM event_log WHERE kind = ? LIMIT 1", (kind,)
            ).fetchone()
        ):
            raise click.ClickException(f"no event has kind {kind!r}; kinds are: {', '.join(KINDS)}")
        rows = conn.execute(sql, args).fetchall()
    for id_, ts, chat, k, payload, sup in reversed(rows):
        p = json.loads(payload)
        summary = p.get("text") or ", ".join(f"{a}={b}" for a, b in p.items())
        summary = " ".join(str(summary).split())  # one line per event
        mark = f" [retired by {sup}]" if sup else ""
        chat_s = "-" if chat is None else str(chat)
        click.echo(f"{id_:>7}  {ts[:19]}  {chat_s:>4}  {k:<17} {summary[:70]}{mark}")


def _echo_preview(p: dict) -> None:
    click.echo(f"rewind to after event {p['after_event_id']} (newest is {p['head_event_id']})")
    click.echo(f"removes {p['total_events']} events ({p['hidden_events']} already retired)")
    for kind, n in p["by_kind"].items():
        click.echo(f"  {kind:<20} {n}")
    for chat, n in p["by_chat"].items():
        click.echo(f"  chat {'-' if chat is None else chat:<15} {n}")
    if p["restored_events"]:
        ids = ", ".join(str(e["id"]) for e in p["restored_events"])
        click.echo(f"brings back {len(p['restored_events'])} retired events: {ids}")


def _target(conn, after: int | None, turn: int | None) -> int:
    if (after is None) == (turn is None):
        raise click.UsageError("give AFTER_EVENT_ID or --turn, not both or neither")
    return rewind.rewind_point(conn, turn) if turn is not None else after


@main.command()
@DB
@click.argument("after_event_id", type=int, required=False)
@click.option("--turn", type=int, default=None, help="'Rewind to here' on this turn instead.")
@_friendly
def preview(db: Path, after_event_id: int | None, turn: int | None) -> None:
    """Show what a rewind to AFTER_EVENT_ID would remove and bring back."""
    with store.open_db(_existing(db)) as conn:
        _echo_preview(rewind.compute_rewind_preview(conn, _target(conn, after_event_id, turn)))


@main.command(name="rewind")
@DB
@click.argument("after_event_id", type=int, required=False)
@click.option("--turn", type=int, default=None, help="'Rewind to here' on this turn instead.")
@DATA_DIR
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_friendly
def rewind_cmd(
    db: Path, after_event_id: int | None, turn: int | None, data_dir: Path | None, yes: bool
) -> None:
    """Delete every event after AFTER_EVENT_ID (snapshotted first, undo with restore)."""
    with store.open_db(_existing(db)) as conn:
        target = _target(conn, after_event_id, turn)
        seen = rewind.compute_rewind_preview(conn, target)
    _echo_preview(seen)
    if not yes:
        click.confirm("Rewind?", abort=True)
    snap = rewind.execute_rewind(
        db_path=db, data_dir=_data_dir(db, data_dir), after_event_id=target, expected_preview=seen
    )
    click.echo(f"rewound; snapshot of the previous state: {snap}")
    click.echo(f"undo with: rpkit restore {db} {snap}")


@main.command()
@click.argument("db", type=click.Path(path_type=Path), required=False)
@DATA_DIR
@_friendly
def snapshots(db: Path | None, data_dir: Path | None) -> None:
    """List the snapshots of DB (or of --data-dir)."""
    if db is None and data_dir is None:
        raise click.UsageError("give DB or --data-dir")
    frame = snapshot.list_snapshots(_data_dir(db, data_dir) if db is not None else data_dir)
    if frame.empty:
        click.echo("no snapshots")
        return
    for row in frame.itertuples():
        click.echo(
            f"{row.taken_at:%Y-%m-%d %H:%M:%S}  {row.kind:<12} events {row.events:>7}  "
            f"newest {row.max_event_id:>7}  {row.path}"
        )


@main.command()
@DB
@click.argument("snapshot_path", metavar="SNAPSHOT", type=click.Path(path_type=Path))
@DATA_DIR
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_friendly
def restore(db: Path, snapshot_path: Path, data_dir: Path | None, yes: bool) -> None:
    """Replace DB's content with SNAPSHOT (the current state is snapshotted first)."""
    _existing(db)
    if not yes:
        # Check the snapshot before asking, so nobody confirms a restore that cannot run.
        found = snapshot_path
        if not found.exists() and not found.is_absolute():
            found = _data_dir(db, data_dir) / "snapshots" / snapshot_path
        meta = snapshot.read_snapshot_meta(found, check=True)
        click.echo(
            f"{found.name}: {meta['kind']} snapshot, {meta['events']} events, "
            f"newest {meta['max_event_id']}"
        )
        click.confirm(f"Replace the content of {db} with it?", abort=True)
    before = snapshot.restore_snapshot(
        db_path=_existing(db), data_dir=_data_dir(db, data_dir), snapshot=snapshot_path
    )
    click.echo(f"restored {snapshot_path}; the replaced state is in {before}")


@main.command(name="verify")
@DB
@_friendly
def verify_cmd(db: Path) -> None:
    """Rebuild the projection in a scratch database and compare it with the live tables."""
    with store.open_db(_existing(db)) as conn:
        report = timetravel.verify(conn)
    click.echo(repr(report))
    if not report.ok:
        raise SystemExit(1)


# -- importing exports and deriving affinity (issue 4) ---------------------


@main.group(name="import")
def import_group() -> None:
    """Import another app's chat export into DB (created if missing)."""


def _import_command(fmt: str, what: str):
    @import_group.command(name=fmt, help=f"Import {what} from PATH into DB.")
    @click.argument("path", type=click.Path(path_type=Path))
    @DB
    @click.option(
        "--skip-bad",
        is_flag=True,
        help="Skip malformed records (listed in the report) instead of refusing.",
    )
    @_friendly
    def command(path: Path, db: Path, skip_bad: bool) -> None:
        from .importers import import_file

        click.echo(repr(import_file(db, fmt, path, skip_bad=skip_bad)))

    return command


_import_command("sillytavern", "a SillyTavern chat (.jsonl) or a folder of them")
_import_command("chatgpt", "a ChatGPT conversations.json (or one conversation)")
_import_command("sharegpt", "a ShareGPT dataset (.json or .jsonl)")


@main.command(name="classify")
@DB
@click.option("--retry-failed", is_flag=True, help="Ask again about turns whose classifier failed.")
@_friendly
def classify_cmd(db: Path, retry_failed: bool) -> None:
    """Derive affinity (VADER, offline) for every visible turn of DB that has none yet."""
    from .classify import classify

    with store.open_db(_existing(db)) as conn:
        click.echo(repr(classify(conn, retry_failed=retry_failed)))


# -- corpus (rpkit.corpus): a self-contained group, calling the library only ---------------


def _corpus_call(address: str | None, fn, *args, **kwargs):
    """``fn(*args, client=..., **kwargs)`` on the cluster at ``address`` (None: locally)."""
    from .errors import RpkitError as _Error

    client = None
    try:
        if address is not None:
            from distributed import Client

            client = Client(address)
        return fn(*args, client=client, **kwargs)
    except _Error as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if client is not None:
            client.close()


_CLUSTER = click.option(
    "--cluster",
    "address",
    default=None,
    metavar="ADDRESS",
    help="Run on this Dask scheduler (tcp://host:8786) instead of the local one.",
)


@main.group(name="corpus")
def corpus_group() -> None:
    """Many histories as one Parquet dataset, with the work run by Dask."""


@corpus_group.command(name="export")
@click.argument("out", type=click.Path(path_type=Path))
@click.argument(
    "dbs", metavar="DB [DB ...]", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@click.option(
    "--replace", is_flag=True, help="Replace a history of the same name from another file."
)
@_CLUSTER
def corpus_export(out: Path, dbs: tuple[Path, ...], replace: bool, address: str | None) -> None:
    """Export the histories DB ... into the corpus folder OUT (one partition each)."""
    from .corpus import export

    click.echo(repr(_corpus_call(address, export, dbs, out, replace=replace)))


@corpus_group.command(name="build")
@click.argument("fmt", metavar="FORMAT")
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--shard-size", default=1000, show_default=True, help="Records per shard.")
@click.option("--no-classify", is_flag=True, help="Do not derive affinity (VADER) per shard.")
@click.option("--skip-bad", is_flag=True, help="Skip malformed records and files (listed).")
@_CLUSTER
def corpus_build(
    fmt: str,
    source: Path,
    out: Path,
    shard_size: int,
    no_classify: bool,
    skip_bad: bool,
    address: str | None,
) -> None:
    """Split the export SOURCE (of FORMAT) into shards and build the corpus OUT from them."""
    from .corpus import build

    report = _corpus_call(
        address,
        build,
        source,
        out,
        format=fmt,
        shard_size=shard_size,
        classify=not no_classify,
        skip_bad=skip_bad,
    )
    click.echo(repr(report))
    if not report.ok:
        raise SystemExit(1)


@corpus_group.command(name="summary")
@click.argument("out", type=click.Path(path_type=Path))
@_CLUSTER
def corpus_summary(out: Path, address: str | None) -> None:
    """Print one row per history of the corpus OUT."""
    from .corpus import open_corpus

    def summary(out: Path, client):
        return open_corpus(out, client=client).summary().drop(columns="final_affinity")

    frame = _corpus_call(address, summary, out)
    click.echo(frame.to_string(index=False) if len(frame) else "the corpus holds no history")


if __name__ == "__main__":  # pragma: no cover
    main()
