"""What counts as an id, and the check of an event id against a history."""

from __future__ import annotations

import numbers

from ..errors import EventIdError
from .meta import head_id
from .sqlite import sqlite3


def is_id(value: object) -> bool:
    """True for an integer id: a Python or numpy integer (read from a frame), never a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def plain_id(value: object) -> object:
    """An integer id as a Python int (numpy ones too); anything else as it is."""
    return int(value) if is_id(value) else value


def check_event_id(conn: sqlite3.Connection, value: object, *, what: str = "event id") -> int:
    """Return ``value`` if it is an id between 0 and the newest event id, else raise."""
    if not is_id(value):
        raise EventIdError(
            f"{what} must be an int, not {type(value).__name__} {value!r}; "
            "pass an event id such as those in events(conn)['id']"
        )
    value = int(value)
    head = head_id(conn)
    if value < 0:
        raise EventIdError(
            f"{what} {value} is negative; event ids start at 1 (0 means 'before all')"
        )
    if value > head:
        raise EventIdError(
            f"{what} {value} is past the newest event ({head}); pick an id from 0 to {head}"
        )
    return value
