"""The visibility rule (DESIGN §3) as SQL: the one place a query's condition is written.

Event ``e`` is *visible at N* when ``e.id <= N`` and it was not retired by
then (``superseded_by IS NULL OR superseded_by > N``). The *live* state is the
visibility at the newest id: the events nothing retired. Every query that asks
which events count (the projection, the frames, classify, the rewinds) builds
its condition from these fragments; ``tests/contracts/test_layering.py``
refuses a condition on ``superseded_by`` written anywhere else.

Each function takes an optional table alias (``"e"`` gives ``e.id``, ...). The
``?`` placeholders are bound in the order the docstring gives.
"""

from __future__ import annotations


def _col(alias: str, column: str) -> str:
    return f"{alias}.{column}" if alias else column


def visible_at(alias: str = "") -> str:
    """Visible at N: ``id <= ? AND (superseded_by IS NULL OR superseded_by > ?)``; bind N, N."""
    by = _col(alias, "superseded_by")
    return f"{_col(alias, 'id')} <= ? AND ({by} IS NULL OR {by} > ?)"


def live(alias: str = "") -> str:
    """Live (visible at the newest id): not retired by any event. Binds nothing."""
    return f"{_col(alias, 'superseded_by')} IS NULL"


def retired(alias: str = "") -> str:
    """Retired by some event (``hidden = 1`` by the table's CHECK). Binds nothing."""
    return f"{_col(alias, 'superseded_by')} IS NOT NULL"


def retired_after(alias: str = "") -> str:
    """Retired by an event after N, so visible at N when ``id <= N``; bind N."""
    return f"{_col(alias, 'superseded_by')} > ?"


def retired_between(alias: str = "") -> str:
    """Retired by an event in ``(A, B]``: hidden at B, visible at A; bind A, B."""
    by = _col(alias, "superseded_by")
    return f"{by} > ? AND {by} <= ?"
