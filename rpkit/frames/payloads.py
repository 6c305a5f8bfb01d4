"""The events frame's payload columns, filled piece by piece as the rows are read.

Each piece of rows is decoded as soon as it is read (its JSON texts are then
let go of), a kind and a chunk at a time, and its fields written into typed
arrays, so the payloads' texts and dicts never all live at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ..dtypes import STRING
from ..kinds import KINDS
from .columns import object_array

CHUNK = 8192  # payloads decoded at a time: their dicts are still in the CPU cache when read


def typed(values: np.ndarray, typ: type | None) -> Any:
    """An object column as its field's type; an extra field's is inferred (text or objects)."""
    if typ is float:
        return np.array(values, dtype=np.float64)  # None becomes NaN
    if typ is int:
        return pd.array(values, dtype="Int64")
    if typ is str:
        return pd.array(values, dtype=STRING)
    if typ is list:
        return values
    present = [v for v in values if v is not None]  # an extra field: infer
    if present and all(isinstance(v, str) for v in present):
        return pd.array(values, dtype=STRING)
    return values


def _empty(n: int, typ: type | None) -> Any:
    if typ is float:
        return np.full(n, np.nan)
    if typ is int:
        return np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)
    return np.full(n, None, dtype=object)


def _put(out: Any, typ: type | None, at: np.ndarray, values: Sequence[Any]) -> None:
    """Write ``values`` at rows ``at`` of ``out`` (made by ``_empty(.., typ)``)."""
    if typ is float:
        out[at] = np.array(values, dtype=np.float64)  # None becomes NaN
    elif typ is int:
        data, mask = out
        try:
            arr = np.array(values)
        except (TypeError, ValueError):
            arr = None
        if arr is not None and arr.dtype.kind == "i":
            data[at], mask[at] = arr, False
        else:  # None or anything odd: pandas decides
            part = pd.array(list(values), dtype="Int64")
            data[at] = part.to_numpy(dtype=np.int64, na_value=0)
            mask[at] = np.asarray(part.isna())
    else:
        out[at] = object_array(values)


def kinds_of(codes: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """Each kind's positions among ``codes`` (indexes into ``names``)."""
    counts = np.bincount(codes, minlength=len(names))
    return {names[c]: np.flatnonzero(codes == c) for c in np.flatnonzero(counts)}


class PayloadColumns:
    """The payload fields of events read in pieces, and which kinds held them.

    A field's values go at once into arrays of its catalogue type, one per
    piece. A key whose type depends on which kinds are present (an extra key of
    one kind that is another kind's field, or a field two kinds type
    differently) keeps its values as they came until ``column`` is asked for it.
    """

    def __init__(self) -> None:
        types: dict[str, set[type]] = {}
        for spec in KINDS.values():
            for name, typ in spec.field_types().items():
                types.setdefault(name, set()).add(typ)
        self._known = {name: next(iter(t)) for name, t in types.items() if len(t) == 1}
        self._fields = set(types)
        self._starts: list[int] = []  # each piece's first row
        self.n = 0
        self._typed: dict[str, dict[int, Any]] = {}  # name -> piece -> array
        self._later: dict[str, list[tuple[int, np.ndarray, Sequence[Any]]]] = {}
        self.first: dict[str, int] = {}  # kind -> its first row
        self.extra: dict[str, set[str]] = {}  # kind -> keys not in its catalogue fields

    def add(self, kinds: dict[str, np.ndarray], texts: np.ndarray) -> None:
        """Decode one piece's payloads ``texts``; ``kinds``: each kind's rows in the piece."""
        piece = len(self._starts)
        self._starts.append(self.n)
        for kind, at in kinds.items():
            self.first.setdefault(kind, self.n + int(at[0]))
            self._split(kind, piece, len(texts), at, texts[at])
        self.n += len(texts)

    def add_unknown(
        self, parts: list[tuple[int, np.ndarray, np.ndarray]], codes: np.ndarray, names: list[str]
    ) -> None:
        """Decode the payloads ``add`` was not given, of kinds not catalogued.

        ``parts``: (piece, its rows, their texts); ``codes`` index ``names``, every row.
        """
        ends = [*self._starts[1:], self.n]
        for piece, rows, texts in parts:
            start = self._starts[piece]
            for kind, at in kinds_of(codes[start + rows], names).items():
                self.first.setdefault(kind, start + int(rows[at[0]]))
                self._split(kind, piece, ends[piece] - start, rows[at], texts[at])

    def _store(
        self, name: str, own: bool, piece: int, size: int, at: np.ndarray, values: Sequence[Any]
    ) -> None:
        if own and name in self._known or not own and name not in self._fields:
            typ = self._known.get(name) if own else None
            arrays = self._typed.setdefault(name, {})
            if piece not in arrays:
                arrays[piece] = _empty(size, typ)
            _put(arrays[piece], typ, at, values)
        else:
            self._later.setdefault(name, []).append((piece, at, values))

    def _split(self, kind: str, piece: int, size: int, rows: np.ndarray, texts: np.ndarray) -> None:
        """Decode one kind's payloads of a piece (at ``rows``) a chunk at a time.

        Their fields are read at once, while the new dicts are still in the CPU
        cache; the required fields in one C pass (``itemgetter``). The
        catalogue's fields come first; once they account for every key of every
        payload of the chunk (the total of the payloads' lengths), nothing is
        left to look for: the remaining optional fields are absent and there are
        no extra keys. Only when that count falls short (an extra key, or a
        ``null`` value) are the keys listed.
        """
        spec = KINDS.get(kind)
        fields = spec.field_types() if spec is not None else {}
        required = [f.name for f in spec.fields if f.required] if spec is not None else []
        rest = [name for name in fields if name not in required]
        take = itemgetter(*required) if required else None
        extra = self.extra.setdefault(kind, set())
        for start in range(0, len(rows), CHUNK):
            where = rows[start : start + CHUNK]
            dicts = list(map(orjson.loads, texts[start : start + CHUNK]))
            total = sum(map(len, dicts))
            found = 0
            names = list(fields)
            if take is not None:
                try:  # the required fields in one C pass (a payload without one: KeyError)
                    got = list(map(take, dicts))
                except KeyError:
                    pass
                else:
                    columns = zip(*got, strict=True) if len(required) > 1 else [got]
                    for name, values in zip(required, columns, strict=True):
                        present = len(values) - values.count(None)
                        if present:
                            self._store(name, True, piece, size, where, values)
                            found += present
                    names = rest
            for name in names:
                if found == total:
                    break
                values = [d.get(name) for d in dicts]
                present = len(values) - values.count(None)
                if present:
                    self._store(name, True, piece, size, where, values)
                    found += present
            if found < total:
                more = set().union(*dicts) - set(fields)
                for name in more:
                    self._store(name, False, piece, size, where, [d.get(name) for d in dicts])
                extra |= more

    def column(self, name: str, typ: type | None) -> Any:
        """Field ``name`` over every row, as type ``typ`` (its pieces let go of)."""
        out = _empty(self.n, typ)
        for piece, part in self._typed.pop(name, {}).items():
            start = self._starts[piece]
            if typ is int:
                size = len(part[0])
                out[0][start : start + size], out[1][start : start + size] = part
            else:
                out[start : start + len(part)] = part
        for piece, at, values in self._later.pop(name, []):
            _put(out, typ, self._starts[piece] + at, values)
        if typ is float:
            return out
        if typ is int:
            return pd.arrays.IntegerArray(*out)
        if typ is str:
            try:
                return pd.arrays.StringArray(out, dtype=STRING)
            except ValueError:  # a value that is not a string: pandas converts it
                return pd.array(out, dtype=STRING)
        return typed(out, typ)
