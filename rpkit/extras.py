"""The parts of rpkit that need an extra, and the one check that says which to install.

The wheel's core (the store, the log, the projection, the operations, the frames
and the command line) needs pandas, numpy, click, tqdm and orjson only. The rest
comes with an extra: ``notebook`` (charts, panels, the app), ``corpus`` (Dask
corpora) and ``classify`` (VADER). A part that needs one calls ``require`` at its
top, so importing it without the extra raises ``MissingExtraError`` with the
``pip install`` line instead of a bare ``ModuleNotFoundError``:

>>> require("corpus", "dask", "pyarrow", part="rpkit.corpus")  # doctest: +SKIP
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING

from .errors import MissingExtraError

if TYPE_CHECKING:
    import click

__all__ = ["EXTRAS", "require", "stand_in_command"]

# What each extra brings that a part imports (top-level module names, not distributions).
EXTRAS = {
    "notebook": ("ipywidgets", "matplotlib", "IPython"),
    "corpus": ("dask", "distributed", "pyarrow", "ijson", "matplotlib"),
    "classify": ("vaderSentiment",),
    "datasets": ("pyarrow", "ijson", "zstandard"),
}


def _installed(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package that is missing or broken
        return False


def require(extra: str, *modules: str, part: str | None = None) -> None:
    """Raise ``MissingExtraError`` naming ``extra`` unless every module of ``modules`` is found.

    ``modules`` are top-level import names (default: what ``EXTRAS[extra]`` lists);
    they are looked up, not imported, so the check costs nothing when they are
    there. ``part`` names what needs them in the message (e.g. ``__name__``).
    """
    if not modules and extra not in EXTRAS:
        raise ValueError(
            f"unknown extra {extra!r}; name its modules or use one of {sorted(EXTRAS)}"
        )
    wanted = modules or EXTRAS[extra]
    missing = [m for m in wanted if not _installed(m)]
    if not missing:
        return
    who = part or "this part of rpkit"
    raise MissingExtraError(
        f"{who} needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
        f"not installed: pip install 'rpkit[{extra}]'",
        extra=extra,
        missing=missing,
    )


def stand_in_command(name: str, exc: MissingExtraError) -> click.Command:
    """A click command named ``name`` that only says what ``exc`` says (exit status 1).

    The command line puts it in place of a group whose extra is missing, so that
    ``rpkit --help`` lists it and running it names the ``pip install`` line.
    """
    import click

    def refuse(args: tuple[str, ...]) -> None:
        raise click.ClickException(str(exc))

    return click.Command(
        name,
        callback=refuse,
        params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
        help=f"Not installed: pip install 'rpkit[{exc.extra}]'.",
        context_settings={"ignore_unknown_options": True, "help_option_names": []},
    )
