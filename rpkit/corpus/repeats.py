"""Records a dataset repeats, found while its source is cut into shards.

One import skips a record that repeats an earlier one of the file (the same
content; ``importers.records``). A build imports each shard as a history of its
own, so a repeat in another shard would land in two histories: the split, which
reads the whole source once, drops it and lists it instead (``duplicated`` in
the build's report). A record with an id that came before but other content is
kept, as one import keeps it. Only content digests are held (8 bytes a record:
about 60 MB for a million records).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from ..importers import DATASETS


def deduplicates(format: str) -> bool:
    """Whether an import of ``format`` skips a record that repeats an earlier one."""
    return any(module.FORMAT.name == format for module in DATASETS)


def digest(record: Any) -> int:
    """A record's content digest, as ``importers.records`` compares records."""
    body = orjson.dumps(record, option=orjson.OPT_SORT_KEYS, default=str)
    return int.from_bytes(hashlib.blake2b(body, digest_size=8).digest(), "little")


class Repeats:
    """The records seen so far; ``repeated(record)`` says whether one came before."""

    def __init__(self, active: bool) -> None:
        self.active = active
        self.seen: set[int] = set()

    def repeated(self, record: Any) -> bool:
        if not self.active:
            return False
        key = digest(record)
        if key in self.seen:
            return True
        self.seen.add(key)
        return False
