"""``names=``: what every export writes instead of a speaker's name, in every field.

``names`` maps speaker names as the history shows them (``"Wren"``) or speaker
ids (``"you"``, a bot's id) to the names to export (``{"Wren": "user"}``).
``read_tree`` applies it once, so every export kind (and ``rpkit corpus
export-training``) honours it in the same fields:

* a speaker's exported name: ``messages``' and ``preferences``' ``name``,
  ConvoKit's ``speaker`` and ``speakers.json`` keys, the transcripts' speaker
  labels;
* the texts: every turn's text, the chat titles and the personas. Each name the
  history ever gave a renamed speaker (an earlier persona name too), and each
  other key of the mapping that is not a speaker id, is replaced as a whole word:
  not inside a longer word (``"Wren's"`` becomes ``"user's"``, ``"Wrenna"``
  stays), with its case as written, all at once (``{"A": "B", "B": "A"}`` swaps);
* ConvoKit's ``rpkit_id`` of a renamed speaker is its exported name (a bot's id is
  often its name in lower case).

A speaker id given as a key is not replaced in texts unless it is also a name
(``{"you": "user"}`` renames you, not the word "you"). Not rewritten: the
history's name (its file's stem) and model names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd


class Renames:
    """The whole-word replacements of a ``names`` mapping in texts (``words``: old -> new)."""

    def __init__(self, words: Mapping[str, str]) -> None:
        self.words = {old: new for old, new in words.items() if old.strip() and old != new}
        if self.words:
            alternatives = "|".join(map(re.escape, sorted(self.words, key=len, reverse=True)))
            self.pattern: re.Pattern[str] | None = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
        else:
            self.pattern = None

    def _sub(self, match: re.Match[str]) -> str:
        return self.words[match.group(0)]

    def text(self, value: str | None) -> str | None:
        """``value`` with the names replaced (``None`` and NA as they are)."""
        if self.pattern is None or not isinstance(value, str):
            return value
        return self.pattern.sub(self._sub, value)

    def column(self, values: pd.Series) -> pd.Series:
        """A text column with the names replaced, its dtype and index kept."""
        if self.pattern is None or not len(values):
            return values
        cells = values.astype(object).to_numpy()
        out = np.array([self.text(v) for v in cells], dtype=object)
        return pd.Series(out, index=values.index, name=values.name).astype(values.dtype)


def renames_of(
    names: Mapping[str, str], aliases: Mapping[str, set[str]], exported: Mapping[str, str]
) -> Renames:
    """The text replacements of ``names`` given each speaker id's names (``aliases``)
    and exported name (``exported``): every name of a renamed speaker, then the keys
    of ``names`` that are not speaker ids."""
    words: dict[str, str] = {}
    for speaker, new in exported.items():
        if speaker in names or any(n in names for n in aliases.get(speaker, ())):
            words.update(dict.fromkeys(aliases.get(speaker, ()), new))
    words.update({old: new for old, new in names.items() if old not in exported or old in words})
    return Renames(words)
