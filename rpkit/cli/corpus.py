"""``rpkit corpus ...``: export, build and summarise corpora; each command calls the library.

``--cluster ADDRESS`` runs the work on that Dask scheduler; without it, on Dask's
local scheduler. ``rpkit.cli`` adds this group to the ``rpkit`` command.
"""

from __future__ import annotations

from pathlib import Path

import click

from .. import corpus as _corpus  # noqa: F401  (without the [corpus] extra: MissingExtraError)
from .common import export_options


def _corpus_call(address: str | None, fn, *args, **kwargs):
    """``fn(*args, client=..., **kwargs)`` on the cluster at ``address`` (None: locally)."""
    from ..errors import RpkitError as _Error

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

_DURABLE = click.option(
    "--durable", is_flag=True, help="Fsync each partition, so that it survives a power cut."
)


@click.group(name="corpus")
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
@_DURABLE
@_CLUSTER
def corpus_export(
    out: Path, dbs: tuple[Path, ...], replace: bool, durable: bool, address: str | None
) -> None:
    """Export the histories DB ... into the corpus folder OUT (one partition each)."""
    from ..corpus import export

    click.echo(repr(_corpus_call(address, export, dbs, out, replace=replace, durable=durable)))


@corpus_group.command(name="build")
@click.argument("fmt", metavar="FORMAT")
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--shard-size", default=1000, show_default=True, help="Records per shard.")
@click.option("--no-classify", is_flag=True, help="Do not derive affinity (VADER) per shard.")
@click.option("--skip-bad", is_flag=True, help="Skip malformed records and files (listed).")
@_DURABLE
@_CLUSTER
def corpus_build(
    fmt: str,
    source: Path,
    out: Path,
    shard_size: int,
    no_classify: bool,
    skip_bad: bool,
    durable: bool,
    address: str | None,
) -> None:
    """Split the export SOURCE (of FORMAT) into shards and build the corpus OUT from them."""
    from ..corpus import build

    report = _corpus_call(
        address,
        build,
        source,
        out,
        format=fmt,
        shard_size=shard_size,
        classify=not no_classify,
        skip_bad=skip_bad,
        durable=durable,
    )
    click.echo(repr(report))
    if not report.ok:
        raise SystemExit(1)


@corpus_group.command(name="summary")
@click.argument("out", type=click.Path(path_type=Path))
@_CLUSTER
def corpus_summary(out: Path, address: str | None) -> None:
    """Print one row per history of the corpus OUT."""
    from ..corpus import open_corpus

    def summary(out: Path, client):
        return open_corpus(out, client=client).summary().drop(columns="final_affinity")

    frame = _corpus_call(address, summary, out)
    click.echo(frame.to_string(index=False) if len(frame) else "the corpus holds no history")


@corpus_group.command(name="export-training")
@click.argument("kind", type=click.Choice(["messages", "preferences"]), metavar="KIND")
@click.argument("corpus", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@export_options("messages: show hidden turns too.")
@_CLUSTER
def corpus_export_training(
    kind: str,
    corpus: Path,
    out: Path,
    replace: bool,
    paths: str | None,
    include_retired: bool | None,
    include_user_edits: bool | None,
    context: int | None,
    names: tuple[str, ...],
    address: str | None,
) -> None:
    """Write the corpus CORPUS's KIND rows (messages or preferences) as a Parquet dataset OUT."""
    from ..corpus.training import export_training
    from ..errors import RpkitError
    from ..exports.tree import parse_names

    try:
        mapping = parse_names(names)
    except RpkitError as exc:
        raise click.ClickException(str(exc)) from exc
    report = _corpus_call(
        address,
        export_training,
        corpus,
        out,
        kind,
        paths=paths or "live",
        include_retired=bool(include_retired),
        include_user_edits=bool(include_user_edits),
        context=context,
        names=mapping,
        replace=replace,
    )
    click.echo(repr(report))
