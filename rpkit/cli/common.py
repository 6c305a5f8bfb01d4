"""What the ``rpkit`` commands share: the DB argument, --data-dir, and errors as one line."""

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


def existing(db: Path) -> Path:
    """``db`` if it is an rpkit history; refuse anything else before opening it."""
    return require_history(db)
