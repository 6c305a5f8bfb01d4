"""The ``rpkit`` command: each subcommand opens the history and calls one library function.

``history`` holds the commands on one history, ``imports`` those that bring
chats in, ``exports`` the one that takes them out,
``corpus`` the ``rpkit corpus`` group (with the ``[corpus]`` extra); ``common`` what
they share.
"""

from __future__ import annotations

import click

from ..errors import MissingExtraError
from ..extras import stand_in_command
from . import exports, history, imports


@click.group()
@click.version_option(package_name="rpkit")
def main() -> None:
    """Explore, rewind and verify event-sourced chat histories (one SQLite file each)."""


for _command in (
    history.demo,
    history.info,
    history.events,
    history.preview,
    history.rewind_cmd,
    history.undo,
    history.fork,
    history.snapshots,
    history.restore,
    history.verify_cmd,
    imports.import_group,
    imports.classify_cmd,
    exports.export_cmd,
):
    main.add_command(_command)

try:
    from .corpus import corpus_group
except MissingExtraError as exc:  # a wheel installed without [corpus]
    corpus_group = stand_in_command("corpus", exc)

main.add_command(corpus_group)


if __name__ == "__main__":  # pragma: no cover
    main()
