"""The crash-state generator: every disk state a power cut may leave, from a trace.

Persistence model (also in RELIABILITY.md §1):

* a file's data (writes and size changes) persists once the file is fsynced
  (``fsync`` or ``fdatasync``) after it; a name (a created, renamed or removed
  file, a made or removed folder) once its folder is fsynced after it: these
  always persist;
* every other write, size change and name change may be lost, each on its
  own. Of the unsynced writes all persist, none, a prefix per file (what an
  ordered journal such as ext4's default leaves) or any subset (so later
  writes may survive earlier ones: reordering); the same four choices, drawn
  apart, for the unsynced name changes, so data may survive its names and
  names their data. A rename, create or removal persists whole or not at all
  (a rename, also between folders, once the folder of its new name is fsynced);
* a write may be torn at 512-byte sectors: any subset of the sectors it
  covers persists ("+torn" states);
* the process-crash state (everything written persisted, "all/all") is a
  state too; SQLite's shared memory (``-shm``) is rebuilt on open and left out.

A file's data belongs to the file (its inode), not to its name, and a folder's
names to the folder: a fsynced file whose name was lost is gone, a renamed file
or folder keeps what was written before. A hard link to a file from outside the
trial's folder is a new name for a file whose bytes are already on disk.

States are taken at every point just before and just after each fsync and
rename, at each mark, at the end, and at ``between`` seeded random points in
each stretch between them; each point gives the process-crash state, the
synced-only state ("none/none") and ``variants`` seeded draws of the choices
above, each whole and torn. States that come out byte for byte alike (on the
same side of the operation's return) are checked once.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from dataclasses import dataclass, field
from pathlib import Path

from .recorder import Call

SECTOR = 512
MODES = ("all", "none", "prefix", "subset")


@dataclass
class _Data:
    index: int
    op: str  # W or T
    arg: int
    data: bytes = b""


Node = tuple[str, int]  # ("f", file id) or ("d", folder id)
Slot = tuple[int, str]  # (folder id, name in it)


@dataclass
class _Entry:
    index: int
    op: str  # C R U M D
    slot: Slot  # the name it adds (C M) or removes (U D), or the old name (R)
    slot2: Slot | None  # a rename's new name
    node: Node
    folder: int  # the folder whose fsync makes it persist (a rename's: the new name's)


@dataclass
class Trace:
    """A trace read into files and folders (by identity, as inodes), their data and names."""

    start_space: dict[Slot, Node]  # every name at the start
    base: dict[int, bytes]  # file id -> content at the start (b"" for new files)
    data: dict[int, list[_Data]] = field(default_factory=dict)
    file_syncs: dict[int, list[int]] = field(default_factory=dict)
    entries: list[_Entry] = field(default_factory=list)
    dir_syncs: dict[int, list[int]] = field(default_factory=dict)
    marks: dict[str, int] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def _base(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _move(paths: dict[str, int], old: str, new: str) -> None:
    """A folder renamed: every path under it now starts with the new name."""
    for p in [p for p in paths if p.startswith(old + "/")]:
        paths[new + p[len(old) :]] = paths.pop(p)


def read_trace(start: dict[str, bytes | None], calls: list[Call]) -> Trace:
    """``start``: the starting files (``recorder.tree``), ``calls``: the trace."""
    files: dict[str, int] = {}  # path -> file id, as the trace goes
    dirs: dict[str, int] = {"": 0}  # path -> folder id
    base: dict[int, bytes] = {}
    for path, content in sorted(start.items(), key=lambda kv: kv[0].count("/")):
        if content is None:
            dirs[path] = len(dirs)
        else:
            files[path] = len(base)
            base[files[path]] = content
    space: dict[Slot, Node] = {}
    for path, d in dirs.items():
        if path:
            space[(dirs[_parent(path)], _base(path))] = ("d", d)
    for path, f in files.items():
        space[(dirs[_parent(path)], _base(path))] = ("f", f)
    t = Trace(start_space=space, base=base, calls=calls)
    fresh_dir = itertools.count(len(dirs))

    def slot(path: str) -> Slot:
        return (dirs[_parent(path)], _base(path))

    for i, c in enumerate(calls):
        if c.op == "K":
            t.marks[c.path] = i
        elif c.op == "C":
            files[c.path] = len(base)
            base[files[c.path]] = b""
            t.entries.append(
                _Entry(i, "C", slot(c.path), None, ("f", files[c.path]), slot(c.path)[0])
            )
        elif c.op == "L":  # a new name for a file made outside the trial's folder
            files[c.path2] = len(base)
            base[files[c.path2]] = c.data
            where = slot(c.path2)
            t.entries.append(_Entry(i, "C", where, None, ("f", files[c.path2]), where[0]))
        elif c.op in "WT":
            if c.path not in files:
                raise AssertionError(f"call {i}: {c.op} on {c.path}, a file the trace never made")
            t.data.setdefault(files[c.path], []).append(_Data(i, c.op, c.arg, c.data))
        elif c.op == "S":
            if c.arg:
                t.dir_syncs.setdefault(dirs[c.path], []).append(i)
            elif c.path in files:
                t.file_syncs.setdefault(files[c.path], []).append(i)
        elif c.op == "R":
            old, new = slot(c.path), slot(c.path2)
            if c.path in dirs:
                node: Node = ("d", dirs.pop(c.path))
                dirs[c.path2] = node[1]
                _move(dirs, c.path, c.path2)
                _move(files, c.path, c.path2)
            else:
                node = ("f", files.pop(c.path))
                files[c.path2] = node[1]
            # one change (old name gone, new name there), durable with the new name's folder
            t.entries.append(_Entry(i, "R", old, new, node, new[0]))
        elif c.op == "U":
            where = slot(c.path)
            t.entries.append(_Entry(i, "U", where, None, ("f", files.pop(c.path)), where[0]))
        elif c.op == "M":
            where = slot(c.path)
            dirs[c.path] = next(fresh_dir)
            t.entries.append(_Entry(i, "M", where, None, ("d", dirs[c.path]), where[0]))
        elif c.op == "D":
            where = slot(c.path)
            t.entries.append(_Entry(i, "D", where, None, ("d", dirs.pop(c.path)), where[0]))
    return t


def _synced_before(syncs: list[int], index: int, k: int) -> bool:
    """Was there a sync after ``index`` and before point ``k``?"""
    return any(index < s < k for s in syncs)


@dataclass(frozen=True)
class State:
    point: int  # the number of calls that happened
    kind: str  # "<data>/<names>" (all, none, prefix, subset), "+torn" when a write tore
    files: dict[str, bytes]
    dirs: frozenset[str]

    def digest(self) -> str:
        h = hashlib.sha256()
        for name in sorted(self.files):
            h.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        for d in sorted(self.dirs):
            h.update(b"dir\0" + d.encode())
        return h.hexdigest()

    def write(self, dest: Path) -> None:
        dest.mkdir(parents=True)
        for d in sorted(self.dirs, key=len):
            if d:
                (dest / d).mkdir(exist_ok=True)
        for name, content in self.files.items():
            (dest / name).write_bytes(content)


def _apply(content: bytes, ops: list[_Data], torn: tuple[_Data, set[int]] | None) -> bytes:
    buf = bytearray(content)
    for op in ops:
        _one(buf, op, None)
    if torn is not None:
        _one(buf, *torn)
    return bytes(buf)


def _one(buf: bytearray, op: _Data, sectors: set[int] | None) -> None:
    if op.op == "T":
        del buf[op.arg :]
        buf.extend(b"\0" * (op.arg - len(buf)))
        return
    end = op.arg + len(op.data)
    if sectors is None:
        if len(buf) < end:
            buf.extend(b"\0" * (end - len(buf)))
        buf[op.arg : end] = op.data
        return
    for s in sorted(sectors):
        lo, hi = max(op.arg, s * SECTOR), min(end, (s + 1) * SECTOR)
        if len(buf) < hi:
            buf.extend(b"\0" * (hi - len(buf)))
        buf[lo:hi] = op.data[lo - op.arg : hi - op.arg]


def _keep(loose: list, mode: str, rng: random.Random) -> list:
    """Which unsynced changes persist: all, none, a prefix, or any subset."""
    if mode == "all":
        return list(loose)
    if mode == "none":
        return []
    if mode == "prefix":
        return loose[: rng.randint(0, len(loose))]
    return [o for o in loose if rng.random() < 0.5]


def state_at(
    t: Trace, k: int, data: str, names: str, rng: random.Random, *, tear: bool = False
) -> State:
    """The disk after the first ``k`` calls.

    Of the unsynced changes, ``data`` says which writes persist (per file) and
    ``names`` which name changes: ``all``, ``none``, ``prefix`` or ``subset``;
    ``tear``: in one file, the first write that did not persist whole persists
    in some of its 512-byte sectors.
    """
    kept_data: dict[int, list[_Data]] = {}
    torn: dict[int, tuple[_Data, set[int]]] = {}
    victim_file = None
    if tear:
        candidates = [
            ino
            for ino, ops in t.data.items()
            if any(
                o.index < k
                and o.op == "W"
                and not _synced_before(t.file_syncs.get(ino, []), o.index, k)
                for o in ops
            )
        ]
        victim_file = rng.choice(candidates) if candidates else None
    for ino, ops in t.data.items():
        syncs = t.file_syncs.get(ino, [])
        done = [o for o in ops if o.index < k]
        durable = [o for o in done if _synced_before(syncs, o.index, k)]
        loose = done[len(durable) :]
        keep = _keep(loose, data, rng)
        if ino == victim_file:
            rest = [o for o in loose[len(keep) :] if o.op == "W"]
            if rest:
                victim = rest[0]
                keep = [o for o in keep if o.index < victim.index]
                span = range(
                    victim.arg // SECTOR, (victim.arg + len(victim.data) - 1) // SECTOR + 1
                )
                torn[ino] = (victim, {s for s in span if rng.random() < 0.5})
        kept_data[ino] = durable + keep
    entries = [e for e in t.entries if e.index < k]
    durable_e = [e for e in entries if _synced_before(t.dir_syncs.get(e.folder, []), e.index, k)]
    loose_e = [e for e in entries if e not in durable_e]
    keep_e = _keep(loose_e, names, rng)
    space = dict(t.start_space)
    for e in sorted(durable_e + keep_e, key=lambda e: e.index):
        if e.op in "CM":
            space[e.slot] = e.node
        elif space.get(e.slot) == e.node:  # R U D: the old name goes, if it is still there
            del space[e.slot]
        if e.op == "R":
            space[e.slot2] = e.node
    children: dict[int, list[tuple[str, Node]]] = {}
    for (folder, name), node in space.items():
        children.setdefault(folder, []).append((name, node))
    files: dict[str, bytes] = {}
    dirs = {""}
    todo, seen = [(0, "")], {0}
    while todo:  # walk the names from the root: what is not reachable is gone
        folder, path = todo.pop()
        for name, (what, ident) in children.get(folder, []):
            full = f"{path}/{name}" if path else name
            if what == "f":
                files[full] = _apply(t.base[ident], kept_data.get(ident, []), torn.get(ident))
            elif ident not in seen:
                seen.add(ident)
                dirs.add(full)
                todo.append((ident, full))
    kind = f"{data}/{names}" + ("+torn" if torn else "")
    return State(k, kind, files, frozenset(dirs))


def points(t: Trace, *, between: int, rng: random.Random) -> list[int]:
    """Crash points: around every fsync and rename, at marks and the end, and sampled between."""
    n = len(t.calls)
    fixed = {0, n}
    for i, c in enumerate(t.calls):
        if c.op in "SRK":
            fixed |= {i, i + 1}
    ordered = sorted(fixed)
    sampled = set()
    for lo, hi in zip(ordered, ordered[1:], strict=False):
        inner = list(range(lo + 1, hi))
        sampled |= set(rng.sample(inner, min(between, len(inner))))
    return sorted(fixed | sampled)


def crash_states(t: Trace, *, seed: int, returned_at: int, between: int = 2, variants: int = 2):
    """Yield each distinct ``State`` once (see the module's docstring).

    A state left after the operation returned (past the call ``returned_at``) is
    distinct from the same bytes left before: the promises differ.
    """
    rng = random.Random(seed)
    seen: set[tuple[str, bool]] = set()
    for k in points(t, between=between, rng=rng):
        drawn = [("all", "all", False), ("none", "none", False)]
        for _ in range(variants):
            for tear in (False, True):
                drawn.append((rng.choice(MODES), rng.choice(MODES), tear))
        for data, names, tear in drawn:
            s = state_at(t, k, data, names, rng, tear=tear)
            key = (s.digest(), k > returned_at)
            if key not in seen:
                seen.add(key)
                yield s
