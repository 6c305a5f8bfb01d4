"""``rpkit import [FORMAT] PATH DB`` and ``rpkit classify DB``: bringing chats in, deriving affinity."""

from __future__ import annotations

from pathlib import Path

import click

from ..classifiers import classify
from ..importers import FORMATS, Format, detect_format, import_file
from ..operations import open_db
from .common import DB, existing, friendly


class _ImportGroup(click.Group):
    """``rpkit import FORMAT PATH DB`` (a command per ``FORMATS`` entry), or ``PATH DB`` to detect.

    The format commands are made from the declarations when asked for, so a
    format registered with ``register_format`` is a command too.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*FORMATS, *super().list_commands(ctx)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in FORMATS:
            return _import_command(FORMATS[name])
        return super().get_command(ctx, name)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        positional = [a for a in args if not a.startswith("-")]
        if args and args[0] in FORMATS and len(positional) == 2 and Path(args[0]).exists():
            return "detect", self.commands["detect"], args  # a folder named like a format
        if args and args[0] not in self.list_commands(ctx) and not args[0].startswith("-"):
            if len(positional) >= 3:
                raise click.UsageError(
                    f"unknown export format {args[0]!r}; use one of: "
                    f"{', '.join(FORMATS)}, or leave it out to detect it"
                )
            return "detect", self.commands["detect"], args
        return super().resolve_command(ctx, args)


def _list_formats(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    for f in FORMATS.values():
        how = ", streamed" if f.streams else ""
        click.echo(f"{f.name:<12} {f.title}: {f.help}{how}")
        if f.example:
            click.echo(f"{'':<12} e.g. {f.example}")
    ctx.exit()


@click.group(name="import", cls=_ImportGroup, subcommand_metavar="[FORMAT] PATH DB")
@click.option(
    "--list-formats",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_list_formats,
    help="List the formats, each with one example record, and exit.",
)
def import_group() -> None:
    """Import another app's chat export into DB (created if missing).

    `rpkit import PATH DB` detects the format and says what it took the file for;
    `rpkit import FORMAT PATH DB` names it.
    """


SKIP_BAD = click.option(
    "--skip-bad",
    is_flag=True,
    help="Skip malformed records (listed in the report) instead of refusing.",
)


def _import_command(fmt: Format) -> click.Command:
    @click.command(name=fmt.name, help=f"Import {fmt.help} from PATH into DB.")
    @click.argument("path", type=click.Path(path_type=Path))
    @DB
    @SKIP_BAD
    @friendly
    def command(path: Path, db: Path, skip_bad: bool) -> None:
        click.echo(repr(import_file(db, fmt.name, path, skip_bad=skip_bad)))

    return command


@import_group.command(name="detect", hidden=True)
@click.argument("path", type=click.Path(path_type=Path))
@DB
@SKIP_BAD
@friendly
def import_detected(path: Path, db: Path, skip_bad: bool) -> None:
    """Import PATH into DB, detecting its format (`rpkit import PATH DB`)."""
    fmt = detect_format(path)
    click.echo(f"{path.name}: detected {fmt} ({FORMATS[fmt].help})")
    click.echo(repr(import_file(db, fmt, path, skip_bad=skip_bad)))


@click.command(name="classify")
@DB
@click.option("--retry-failed", is_flag=True, help="Ask again about turns whose classifier failed.")
@friendly
def classify_cmd(db: Path, retry_failed: bool) -> None:
    """Derive affinity (VADER, offline) for every visible turn of DB that has none yet."""
    with open_db(existing(db)) as conn:
        click.echo(repr(classify(conn, retry_failed=retry_failed)))
