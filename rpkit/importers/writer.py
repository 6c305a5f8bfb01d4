"""Writing a parsed export into a history: one transaction, idempotent by source.

Every event an import writes carries ``"source": {"format", "file", "ref"}`` in
its payload (``file`` is the file's name, ``ref`` the line, message index or
node id). Before writing, the sources already in the log are read, so a second
import of the same file adds nothing, and an export that grew since (a
SillyTavern chat you kept talking in) adds only its new messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..kinds import ASSISTANT_TURN, BOT_CREATED, CHAT_CREATED, COPIED_FROM, USER_TURN, YOU, YOU_SET
from ..log import append_many, append_replacing, hide_turn, next_chat_id
from ..progress import progress_bar
from ..store import atomic, head_id
from ..store.sqlite import sqlite3
from ..store.visibility import live
from .forks import FORK_OF, MAIN_CHAT, find_parent, parents_first, shared_turns, stem
from .format import FORMATS
from .plan import Chat, Parsed, Turn, slug
from .report import ImportReport


def _existing(conn: sqlite3.Connection, fmt: str, files: list[str]) -> dict[tuple[str, str], int]:
    """Chats already imported from these files, by (file, ref)."""
    if not files:
        return {}
    marks = ", ".join("?" * len(files))
    rows = conn.execute(
        f"""
        SELECT chat_id, json_extract(payload, '$.source.file'), json_extract(payload, '$.source.ref')
        FROM event_log
        WHERE kind = ? AND json_extract(payload, '$.source.format') = ?
          AND json_extract(payload, '$.source.file') IN ({marks})
        """,
        (CHAT_CREATED, fmt, *files),
    )
    return {(file, str(ref)): chat_id for chat_id, file, ref in rows}


def _refs(conn: sqlite3.Connection, fmt: str, file: str, chat_id: int) -> dict[str, str | None]:
    """Turn refs, with their text, already imported into one chat (one chat in memory at a time)."""
    rows = conn.execute(
        """
        SELECT json_extract(payload, '$.source.ref'), json_extract(payload, '$.text')
        FROM event_log
        WHERE chat_id = ? AND kind != ?
          AND json_extract(payload, '$.source.format') = ?
          AND json_extract(payload, '$.source.file') = ?
        """,
        (chat_id, CHAT_CREATED, fmt, file),
    )
    return {str(ref): text for ref, text in rows if ref is not None}


class _Writer:
    def __init__(self, conn: sqlite3.Connection, parsed: Parsed, report: ImportReport) -> None:
        self.conn = conn
        self.fmt = parsed.format
        self.notes = parsed.notes
        self.report = report
        self.bots = {name: bot_id for bot_id, name in conn.execute("SELECT id, name FROM bots")}
        self.taken = set(self.bots.values()) | {YOU}
        row = conn.execute("SELECT name FROM you_entity WHERE id = 1").fetchone()
        self.you = row[0] if row else None
        self.chat_ids: dict[str, int] = {}  # file stem -> chat id, for forks
        self.by_ref: dict[tuple[str, str], int] = {}  # (file, chat ref) -> chat id, for forks
        self.pending: list[tuple] = []  # events not written yet, in log order
        self.base = 0  # the number of the queue's first event (events queued before it)
        self.written: dict[int, int] = {}  # number -> id of the current turn's flushed alternatives

    def add(
        self,
        kind: str,
        payload: dict[str, Any],
        chat_id: int | None,
        ts: object,
        replaces: Sequence[int] = (),
    ) -> int:
        """Queue an event that retires the queued turns ``replaces`` (by number); its number.

        An event's number counts the events queued before it; ``flush`` writes the queue.
        """
        local = tuple(n - self.base for n in replaces)
        self.pending.append((kind, payload, chat_id, None, ts, local))
        return self.base + len(self.pending) - 1

    def flush(self) -> list[int]:
        """Write the queued events with one ``append_many``, before anything reads the log."""
        ids = append_many(self.conn, self.pending) if self.pending else []
        self.written.update(enumerate(ids, start=self.base))
        self.base += len(self.pending)
        self.pending = []
        return ids

    def source(self, file: str, ref: str) -> dict[str, Any]:
        return {"format": self.fmt, "file": file, "ref": ref}

    def you_named(self, chat: Chat) -> None:
        name = chat.user_name or "You"
        if self.you is None:
            self.add(
                YOU_SET,
                {"name": name, "source": self.source(chat.file, "user")},
                None,
                chat.created,
            )
            self.you = name
        elif chat.user_name and chat.user_name != self.you:
            self.notes.warn(
                f"the export's user {chat.user_name!r} is imported as this history's "
                f"you ({self.you!r})",
                chat.file,
            )

    def bot_id(self, name: str, chat: Chat, ts: object) -> str:
        if name in self.bots:
            return self.bots[name]
        base = bot_id = slug(name)
        n = 2
        while bot_id in self.taken:
            bot_id, n = f"{base}-{n}", n + 1
        source = self.source(chat.file, f"bot:{name}")
        persona = chat.bot_extra.get(name, {})
        payload = {"bot_id": bot_id, "name": name, **persona, "source": source}
        self.add(BOT_CREATED, payload, None, ts)
        self.bots[name] = bot_id
        self.taken.add(bot_id)
        self.report.bots += 1
        return bot_id

    def turn(self, chat: Chat, chat_id: int, t: Turn, replaces: list[int]) -> int | None:
        """Queue a turn retiring the alternatives ``replaces`` (by number); its number.

        A hidden turn is written at once (its ``turn_hidden`` names its id) and gives
        None, as does a turn whose alternatives were written before it (by a hidden one).
        """
        payload: dict[str, Any] = {"text": t.text}
        kind = USER_TURN
        if t.role == "bot":
            kind = ASSISTANT_TURN
            payload = {"bot_id": self.bot_id(t.speaker or "Assistant", chat, t.ts), **payload}
        payload.update(t.extra)
        if replaces:  # how this turn replaced its alternatives, as edits record it
            payload["revision"] = FORMATS[self.fmt].revision
        payload["source"] = self.source(chat.file, t.ref)
        self.report.turns += 1
        if not t.hidden and all(n >= self.base for n in replaces):
            return self.add(kind, payload, chat_id, t.ts, replaces)
        self.flush()  # its alternatives were written (by a hidden one), or it is hidden
        new = append_replacing(
            self.conn,
            kind,
            payload,
            replaces=[self.written[n] for n in replaces],
            chat_id=chat_id,
            ts=t.ts,
        )
        if not t.hidden:
            return None
        hide_turn(self.conn, new, ts=t.ts)
        self.report.hidden += 1
        self.report.retired += 1
        return None

    def chat(self, chat: Chat, chat_id: int | None, done: dict[str, str | None], bar) -> None:
        if chat_id is None:
            self.you_named(chat)
            bot_ids = [self.bot_id(name, chat, chat.created) for name in chat.bots]
            self.flush()  # the next chat id and a fork's parent are read from the log
            chat_id = next_chat_id(self.conn)
            payload = {
                "title": chat.title,
                "bot_ids": bot_ids,
                **chat.extra,
                **self.lineage(chat),
                "source": self.source(chat.file, chat.ref),
            }
            self.add(CHAT_CREATED, payload, chat_id, chat.created)
            self.report.chats += 1
            extended = False
        else:
            extended = True
        wrote = False
        for t in chat.turns:
            if bar is not None:
                bar.update(1 + len(t.alternatives))
            if t.ref in done:
                self.report.already_imported += 1 + len(t.alternatives)
                if done[t.ref] != t.text:
                    self.notes.warn(
                        "messages imported before with other text: the history keeps the "
                        "earlier text (another file with the same name? rename it to import "
                        "it as a chat of its own)",
                        f"{chat.file} message {t.ref}",
                    )
                continue
            replaces = []
            self.written = {}
            for alt in t.alternatives:
                if alt.ref in done:
                    continue
                alt_id = self.turn(chat, chat_id, alt, [])
                if not alt.hidden:  # a queued alternative is the queue's last event
                    replaces.append(alt_id if alt_id is not None else self.flush()[-1])
            self.turn(chat, chat_id, t, replaces)
            self.report.retired += len(replaces)
            wrote = True
        if extended and wrote:
            self.report.chats_extended += 1
        self.chat_ids[stem(chat)] = chat_id
        self.by_ref[(chat.file, chat.ref)] = chat_id

    def lineage(self, chat: Chat) -> dict[str, int]:
        """A fork's parent and fork point; its shared turns name what they copy."""
        main, of = chat.extra.get(MAIN_CHAT), chat.extra.get(FORK_OF)
        if isinstance(of, str):  # a fork of another record's chat in the same file
            main = of
            parent = self.by_ref.get((chat.file, of))
            if parent is None:
                parent = _existing(self.conn, self.fmt, [chat.file]).get((chat.file, of))
        elif isinstance(main, str):
            parent = find_parent(self.conn, self.fmt, main, self.chat_ids)
        else:
            return {}
        if parent is None:
            shared = []
        elif isinstance(of, str):  # the parent was imported as it is: log order is its transcript
            shared = _shared_in_log(self.conn, parent, chat)
        else:
            shared = shared_turns(self.conn, parent, chat)
        if not shared:
            why = "is not in this import or the history" if parent is None else "shares no message"
            self.notes.warn(
                f"a fork whose main chat {main!r} {why}: imported as a chat of its own",
                chat.file,
            )
            return {}
        for turn, original in zip(chat.turns, shared, strict=False):
            turn.extra[COPIED_FROM] = original
        return {"parent_chat_id": parent, "forked_from_event_id": shared[-1]}


def _shared_in_log(conn: sqlite3.Connection, parent: int, chat: Chat) -> list[int]:
    """The parent's live turns (in log order) the fork starts with: same side, same text."""
    rows = conn.execute(
        "SELECT id, kind, json_extract(payload, '$.text') FROM event_log "
        f"WHERE chat_id = ? AND kind IN (?, ?) AND {live()} ORDER BY id",
        (parent, USER_TURN, ASSISTANT_TURN),
    )
    shared = []
    for (event_id, kind, text), turn in zip(rows, chat.turns, strict=False):
        same_side = (kind == USER_TURN) == (turn.role == "user")
        if turn.hidden or not same_side or text != turn.text:
            break
        shared.append(event_id)
    return shared


def write(conn: sqlite3.Connection, parsed: Parsed) -> ImportReport:
    """Append ``parsed`` to the history in one transaction; return the report."""
    report = ImportReport(format=parsed.format, files=parsed.files)
    # The file names the plan was read from (not its chats: a streamed plan is read once).
    files = sorted(set(parsed.files))
    with atomic(conn):
        before = head_id(conn)
        chats = _existing(conn, parsed.format, files)
        writer = _Writer(conn, parsed, report)
        with progress_bar(parsed.records(), f"import {parsed.format}", unit="message") as bar:
            # A streamed plan is written as it is read (its forks follow their parents);
            # reordering it would hold every chat of the file in memory at once.
            chats_in_order = (
                parents_first(parsed.chats) if isinstance(parsed.chats, list) else parsed.chats
            )
            for chat in chats_in_order:
                chat_id = chats.get((chat.file, chat.ref))
                if chat_id:
                    writer.flush()
                done = _refs(conn, parsed.format, chat.file, chat_id) if chat_id else {}
                writer.chat(chat, chat_id, done, bar)
            writer.flush()
        # Count rows, not ids: after a rewind the next ids skip the ones it cut.
        report.events, first, last = conn.execute(
            "SELECT COUNT(*), MIN(id), MAX(id) FROM event_log WHERE id > ?", (before,)
        ).fetchone()
    if report.events:
        report.first_event_id, report.last_event_id = first, last
    report.records = getattr(parsed, "seen_records", None)
    report.skipped = dict(parsed.skipped)
    report.bad_records = list(parsed.bad_records)
    report.warnings = parsed.notes.lines()
    return report
