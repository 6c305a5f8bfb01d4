"""Every error rpkit raises, so callers can catch one base class or a precise one.

Each message names the bad value and says what to do; the operation that raised
left the database as it was.
"""

from __future__ import annotations


class RpkitError(Exception):
    """Base of every error rpkit raises."""


class RpkitWarning(UserWarning):
    """Something works, but not as well as it could (e.g. a rebuild on its slow path)."""


# -- the store ---------------------------------------------------------------


class StoreError(RpkitError):
    """The file at the given path cannot be used as an rpkit history."""


class NotADatabaseError(StoreError):
    """The path is a directory, is missing its folder, or is not an SQLite file."""


class ForeignDatabaseError(StoreError):
    """An SQLite database written by another application."""


class SchemaVersionError(StoreError):
    """The history was written by a newer rpkit (or is otherwise incompatible)."""


class HistoryExistsError(StoreError, FileExistsError):
    """A new history was asked for at a path that already holds a file."""


class TableError(StoreError, ValueError):
    """An extension's projected table declared with a bad name, column or key."""


# -- events ------------------------------------------------------------------


class EventError(RpkitError, ValueError):
    """An event that cannot be appended."""


class UnknownKindError(EventError):
    """The kind is not in the catalogue and no extension registered it."""


class PayloadError(EventError):
    """A payload that does not match its kind; ``field`` names the culprit."""

    def __init__(self, message: str, *, kind: str, field: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.field = field


class UnknownReferenceError(EventError):
    """An event that refers to a chat, bot, container or event that does not exist."""


class TimestampError(EventError):
    """A timestamp that is not ISO-8601 with a time zone."""


# -- event ids and turns -----------------------------------------------------


class EventIdError(RpkitError, ValueError):
    """An event id that is not an int, is negative, or is past the newest event."""


class TurnError(RpkitError, ValueError):
    """An edit, regeneration, hide or rewind point that needs a live turn."""


class NotATurnError(TurnError):
    """The event exists but is not a turn (or not the right kind of turn)."""


class AlreadyRetiredError(TurnError):
    """The turn was already retired by a later edit, regeneration or hide."""


# -- snapshots and rewinds ---------------------------------------------------


class SnapshotError(RpkitError):
    """A snapshot that cannot be written, read or restored."""


class SnapshotDirError(SnapshotError):
    """The snapshot folder cannot be created or written to."""


class InvalidSnapshotError(SnapshotError):
    """A file that is not a complete rpkit snapshot of a compatible schema."""


class SnapshotVersionError(InvalidSnapshotError):
    """A snapshot or rewind record written by an rpkit of another schema version."""


class PruneError(SnapshotError, ValueError):
    """A prune whose keep, age or named snapshots are not usable."""


class StalePreviewError(RpkitError):
    """The history changed since the preview the rewind was confirmed against."""


class RewindPointError(EventIdError):
    """A per-chat rewind to a point before the chat was created."""


class UndoRewindError(SnapshotError):
    """A rewind that cannot be undone from the given snapshot."""


class NotARewindSnapshotError(UndoRewindError, InvalidSnapshotError):
    """The file is not a snapshot that a rewind took."""


class ForeignSnapshotError(UndoRewindError):
    """The snapshot was taken of another history."""


class HistoryMovedOnError(UndoRewindError):
    """The rewound chat (or, after a global rewind, the history) changed since the rewind."""


# -- chats -------------------------------------------------------------------


class ChatIdError(RpkitError, ValueError):
    """A chat id that is not an int, or names no chat of the history."""


class UnknownChatError(ChatIdError):
    """The chat id is an int but no chat of the history has it."""


class ForkError(RpkitError, ValueError):
    """A fork asked for with a bad argument (e.g. a title that is not a string)."""


class DemoError(RpkitError, ValueError):
    """A demo history asked for with a bad size or number of chats."""


# -- importers ---------------------------------------------------------------


class ImportFormatError(RpkitError, ValueError):
    """An export that does not have the shape its importer expects."""


# -- frames, charts and panels -----------------------------------------------


class FrameError(RpkitError, ValueError):
    """A frame, chart or panel asked for something the history does not have.

    An unknown chat or pair, an axis that does not exist, a timeline without the
    columns a chart needs.
    """


class ReadOnlyDatabaseError(StoreError):
    """The history (or the folder SQLite keeps its -wal and -shm files in) cannot be written."""


# -- installation ------------------------------------------------------------


class MissingExtraError(RpkitError, ImportError):
    """A part of rpkit imported without the extra it needs; the message says what to install.

    ``extra`` is the extra's name (``pip install 'rpkit[EXTRA]'``), ``missing`` the
    modules that were not found.
    """

    def __init__(self, message: str, *, extra: str, missing: list[str]):
        super().__init__(message, name=missing[0] if missing else None)
        self.extra = extra
        self.missing = list(missing)


__all__ = [
    "AlreadyRetiredError",
    "ChatIdError",
    "DemoError",
    "ForeignSnapshotError",
    "ForkError",
    "HistoryMovedOnError",
    "NotARewindSnapshotError",
    "RewindPointError",
    "UndoRewindError",
    "UnknownChatError",
    "EventError",
    "EventIdError",
    "ForeignDatabaseError",
    "FrameError",
    "HistoryExistsError",
    "ImportFormatError",
    "InvalidSnapshotError",
    "SnapshotVersionError",
    "PruneError",
    "MissingExtraError",
    "NotADatabaseError",
    "NotATurnError",
    "PayloadError",
    "ReadOnlyDatabaseError",
    "UnknownReferenceError",
    "RpkitError",
    "RpkitWarning",
    "SchemaVersionError",
    "SnapshotDirError",
    "SnapshotError",
    "StalePreviewError",
    "StoreError",
    "TableError",
    "TimestampError",
    "TurnError",
    "UnknownKindError",
]
