"""What the panels share: a status line, errors shown instead of raised, PNG charts."""

from __future__ import annotations

import functools
import html
import io
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import pandas as pd
from matplotlib.figure import Figure

from ..errors import RpkitError


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    return buf.getvalue()


def turn_label(row: Any) -> str:
    text = " ".join(str(row.text).split())
    if len(text) > 80:
        text = text[:77] + "..."
    place = "  -" if pd.isna(row.position) else f"{int(row.position):>3}"
    label = f"{place}. {row.speaker}: {text}"
    if row.retired:
        label += f"  [retired: {row.replaced_how} by event {int(row.replaced_by)}]"
    return label


class StatusMixin:
    """A status line with the latest message (``status``) and error (``last_error``)."""

    status: str
    last_error: Exception | None
    status_line: widgets.HTML

    def _set_status(self, message: str, *, error: bool = False) -> None:
        self.status = message
        color = "#b00020" if error else "#1b5e20"
        self.status_line.value = f'<span style="color:{color}">{html.escape(message)}</span>'


def guarded(action: str) -> Callable:
    """Run a button handler; show any error in the status line instead of raising."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def handler(self: Any, *args: Any, **kwargs: Any) -> None:
            try:
                fn(self, *args, **kwargs)
            except RpkitError as exc:
                self.last_error = exc
                self._set_status(f"{action} failed: {exc}", error=True)
            except Exception as exc:  # a panel must not raise into the kernel
                self.last_error = exc
                self._set_status(f"{action} failed ({type(exc).__name__}): {exc}", error=True)

        return handler

    return wrap
