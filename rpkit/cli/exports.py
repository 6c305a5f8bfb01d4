"""``rpkit export KIND DB OUT``: one export of one history (``rpkit.exports``)."""

from __future__ import annotations

import inspect
from pathlib import Path

import click

from ..exports import EXPORTS, export, export_named
from ..exports.errors import ExportArgumentError
from ..exports.tree import parse_names
from ..operations import open_db
from .common import DB, existing, export_options, friendly


@click.command(name="export")
@click.argument("kind", type=click.Choice(list(EXPORTS)), metavar="KIND")
@DB
@click.argument("out", type=click.Path(path_type=Path))
@export_options("messages, sharegpt: show hidden turns too.")
@click.option("--chat", "chat_id", type=int, default=None, help="transcript: the chat to write.")
@click.option("--durable", is_flag=True, help="Fsync the output, so that it survives a power cut.")
@friendly
def export_cmd(
    kind: str,
    db: Path,
    out: Path,
    replace: bool,
    paths: str | None,
    include_retired: bool | None,
    include_user_edits: bool | None,
    context: int | None,
    names: tuple[str, ...],
    chat_id: int | None,
    durable: bool,
) -> None:
    """Write the history DB as KIND into OUT.

    KIND is messages or preferences (.jsonl or .parquet), convokit (a folder),
    sharegpt (.json or .jsonl) or transcript (.md or .html, with --chat).
    """
    given = {
        "paths": paths,
        "include_retired": include_retired,
        "include_user_edits": include_user_edits,
        "context": context,
        "names": parse_names(names),
        "chat_id": chat_id,
    }
    options = {k: v for k, v in given.items() if v is not None}
    takes = inspect.signature(export_named(kind)).parameters
    for key in options:
        if key not in takes:
            flag = "--" + (
                "chat" if key == "chat_id" else "name" if key == "names" else key.replace("_", "-")
            )
            raise ExportArgumentError(f"the {kind} export takes no {flag}; see rpkit export --help")
    if "chat_id" in takes and "chat_id" not in options:
        raise ExportArgumentError(f"the {kind} export needs --chat ID (rpkit info lists the chats)")
    with open_db(existing(db)) as conn:
        report = export(kind, conn, out, replace=replace, durable=durable, **options)
    click.echo(str(report))
