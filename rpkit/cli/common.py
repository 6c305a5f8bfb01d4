"""What the ``rpkit`` commands share: the DB argument, --data-dir, export options, errors as one line."""

from __future__ import annotations

import functools
from pathlib import Path

import click

from ..errors import RpkitError
from ..store import require_history


def friendly(fn):
    """Turn an RpkitError into a one-line message and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RpkitError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


DB = click.argument("db", type=click.Path(dir_okay=True, path_type=Path))
DATA_DIR = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder whose snapshots/ holds the snapshots (default: the history's folder).",
)


def export_options(include_retired: str):
    """The options ``rpkit export`` and ``rpkit corpus export-training`` share, in one place.

    ``include_retired`` is the help of ``--include-retired`` (the exports it applies to).
    Options a user did not give are None, so a command passes on only those given.
    """
    options = (
        click.option("--replace", is_flag=True, help="Write over OUT if it exists."),
        click.option(
            "--paths",
            type=click.Choice(["live", "all"]),
            default=None,
            help="messages: the live transcripts (the default), or also each retired "
            "alternative's path.",
        ),
        click.option("--include-retired", is_flag=True, default=None, help=include_retired),
        click.option(
            "--include-user-edits",
            is_flag=True,
            default=None,
            help="preferences: pairs from edits of your own turns too.",
        ),
        click.option(
            "--context",
            type=int,
            default=None,
            help="preferences: keep the last N prompt messages.",
        ),
        click.option(
            "--name",
            "names",
            multiple=True,
            metavar="OLD=NEW",
            help="Export the speaker OLD as NEW (repeatable), e.g. --name Alice=user.",
        ),
    )

    def decorate(fn):
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


def existing(db: Path) -> Path:
    """``db`` if it is an rpkit history; refuse anything else before opening it."""
    return require_history(db)
