"""The rpkit panels as a person sees them in a page (JupyterLab or the Voila app).

Locators follow ipywidgets 8's DOM: a Dropdown and a Select are ``<select>``
elements (an option's value is its label), a Checkbox is an ``<input>`` in a
label, a Button's text is its description, an HTML widget is
``.widget-html`` and an Image is ``img.widget-image``.
"""

from __future__ import annotations

import re
from typing import Any

from .harness import wait_for


def button(root: Any, text: str) -> Any:
    """The button whose text is ``text`` (its icon is a CSS glyph, not text)."""
    return root.locator("button", has_text=re.compile(rf"^\s*{re.escape(text)}\s*$")).first


def option_values(select: Any) -> list[str]:
    return select.evaluate("s => Array.from(s.options).map(o => o.value)")


def natural_size(img: Any) -> tuple[int, int]:
    return tuple(img.evaluate("e => [e.complete ? e.naturalWidth : 0, e.naturalHeight]"))


def loaded_size(what: str, img: Any) -> tuple[int, int]:
    """Wait until the picture ``img`` has loaded; its natural (width, height)."""
    return wait_for(what, lambda: natural_size(img)[0] and natural_size(img), 30)


class RewindPanelPage:
    """A ``RewindPanel`` rendered in ``root`` (the locator of its VBox)."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.chat = root.locator(".widget-dropdown select").first
        self.turns = root.locator(".widget-select select").first
        self.show_retired = root.locator(".widget-checkbox", has_text="show retired turns").locator(
            "input"
        )
        self.confirm = root.locator(".widget-checkbox", has_text="I have read the preview").locator(
            "input"
        )
        self.preview_button = button(root, "Preview")
        self.rewind_button = button(root, "Rewind")
        self.undo_button = button(root, "Undo last rewind")
        self.fork_button = button(root, "Fork from here")
        self.every_chat = button(root, "every chat")
        self.status_line = root.locator(":scope > .widget-html").first
        self.output = root.locator(".widget-output").first
        self.chart = root.locator("img.widget-image").first

    def status(self) -> str:
        return " ".join(self.status_line.inner_text().split())

    def wait_status(self, prefix: str, timeout: float = 60) -> str:
        return wait_for(
            f"the panel's status to start with {prefix!r} (it says {self.status()!r})",
            lambda: self.status() if self.status().startswith(prefix) else None,
            timeout,
        )

    def chat_options(self) -> list[str]:
        return option_values(self.chat)

    def pick_chat(self, chat_id: int) -> None:
        (value,) = [v for v in option_values(self.chat) if v.startswith(f"{chat_id}: ")]
        self.chat.select_option(value=value)

    def turn_options(self) -> list[str]:
        return option_values(self.turns)

    def pick_turn(self, position: int, *, retired: bool = False) -> str:
        """Select the turn at ``position`` (its retired alternative when ``retired``)."""

        def find() -> str | None:
            found = [
                v
                for v in self.turn_options()
                if v.strip().startswith(f"{position}. ") and ("[retired:" in v) == retired
            ]
            return found[0] if len(found) == 1 else None

        value = wait_for(f"one turn at position {position} (retired={retired})", find, 30)
        self.turns.select_option(value=value)
        return value


class AffinityExplorerPage:
    """An ``AffinityExplorer`` rendered in ``root``."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.pairs = root.locator(".widget-select-multiple select").first
        self.status_line = root.locator(":scope > .widget-html").first
        self.chart = root.locator("img.widget-image").first

    def x_button(self, name: str) -> Any:
        return self.root.locator(".widget-toggle-buttons button", has_text=name).first

    def status(self) -> str:
        return " ".join(self.status_line.inner_text().split())

    def wait_status(self, text: str, timeout: float = 60) -> str:
        return wait_for(
            f"the explorer's status to be {text!r} (it says {self.status()!r})",
            lambda: self.status() == text,
            timeout,
        )

    def picture(self) -> tuple[str, bytes]:
        """The chart's source URL and the pixels shown (a new chart has a new source)."""
        return self.chart.get_attribute("src") or "", self.chart.screenshot()
