"""A deterministic demo history: a small fantasy roleplay with three companions.

``build_demo(path, events=400, seed=7)`` writes a believable history through the
public API (``append``, ``edit_turn``, ``regenerate_turn``, ``hide_turn``): chats
with scenes in nested places, affinity that rises and falls, memories, activity,
edits, regenerations, a hidden turn and a classifier failure. The same seed
gives the same log, event for event; any size, and any number of chats (three
by default; more repeat the three stories under numbered titles), can be asked for.
The chats share the three companions, so chats move the same affinity edges;
with ``own_bots=True`` each chat after the first has companions of its own
(``mira-2``, "Mira (2)" in the second), as in apps where each chat is with its
own character, and no two chats share an edge.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from os import PathLike
from pathlib import Path

from .errors import DemoError, HistoryExistsError
from .log import append, edit_turn, hide_turn, next_chat_id, regenerate_turn
from .operations import open_db
from .progress import progress_bar
from .store import atomic
from .store.sqlite import sqlite3

START = datetime(2026, 1, 5, 19, 0, tzinfo=UTC)

BOTS = {
    "mira": ("Mira", "Innkeeper of the Gilded Kettle; warm, nosy, remembers every debt."),
    "corvin": ("Sir Corvin", "A knight with a dented shield and a strict sense of honour."),
    "sable": ("Sable", "A thief who trusts nobody and jokes when she is nervous."),
}
PLACES = [  # (id, name, kind, parent)
    (1, "Vell", "kingdom", None),
    (2, "Harrowgate", "town", 1),
    (3, "The Gilded Kettle", "inn", 2),
    (4, "Old Market", "market", 2),
    (5, "Thornwood", "forest", 1),
    (6, "Ruined Watchtower", "ruin", 5),
]
CHATS = [
    ("An evening at the Kettle", ["mira"], [3, 4]),
    ("The road through Thornwood", ["corvin", "sable"], [5, 6]),
    ("Debts and daggers", ["sable", "mira"], [4, 3]),
]
USER_LINES = [
    "I push the door open and shake the rain from my cloak.",
    "Have you heard anything about the missing caravan?",
    "I set a few coins on the table. 'For your trouble.'",
    "That was reckless. You could have been hurt.",
    "I laugh despite myself. 'You never change.'",
    "Tell me the truth this time.",
    "I hand over the map we found in the tower.",
    "'I'm not leaving without you,' I say quietly.",
    "I keep my hand near my sword and say nothing.",
    "Why didn't you tell me about the letter?",
]
BOT_LINES = {
    "mira": [
        "Mira slides a bowl of stew across the counter. 'You look half drowned, love.'",
        "'Caravans go missing when someone gets paid to look away,' Mira murmurs.",
        "She pockets the coins with a wink. 'Your tab thanks you.'",
        "'Don't you dare bring trouble into my inn again,' she snaps.",
    ],
    "corvin": [
        "Corvin raises his dented shield. 'Stay behind me, and keep to the path.'",
        "'Honour is not a thing you spend when it suits you,' Corvin says stiffly.",
        "He grins for the first time in days. 'Well fought, friend.'",
        "Corvin turns away. 'I expected better of you.'",
    ],
    "sable": [
        "Sable flips a stolen ring across her knuckles. 'Relax, I only took what was owed.'",
        "'Trust is expensive,' Sable says. 'You've been paying, I'll give you that.'",
        "She goes quiet, then bumps your shoulder. 'Thanks. For earlier.'",
        "'You sold me out,' she hisses, already halfway out of the window.",
    ],
}
MEMORIES = [
    "{who} remembers that you paid what you owed.",
    "{who} remembers the night at the watchtower.",
    "{who} noticed you lied about the letter.",
    "{who} keeps the map you handed over.",
]


class _Clock:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.now = START

    def tick(self, low: int = 5, high: int = 90) -> str:
        self.now += timedelta(seconds=self.rng.randint(low, high))
        return self.now.isoformat()


class _Writer:
    """Appends the demo's events, drawing every choice from one seeded generator."""

    def __init__(
        self, conn: sqlite3.Connection, seed: int, chats: int = len(CHATS), own_bots: bool = False
    ) -> None:
        self.conn = conn
        self.chats, self.own_bots = chats, own_bots
        self.base = {bot: bot for bot in BOTS}  # each bot's companion in BOTS
        self.names = {bot: name for bot, (name, _) in BOTS.items()}
        self.rng = random.Random(seed)
        self.clock = _Clock(self.rng)
        self.start_id = self.head()
        self.hidden_done = self.failure_done = False

    def head(self) -> int:
        return self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM event_log").fetchone()[0]

    def add(self, kind: str, payload: dict, *, low: int = 5, high: int = 90, **kw: int) -> int:
        return append(self.conn, kind, payload, ts=self.clock.tick(low, high), **kw)

    def world(self) -> list[tuple[int, list[str], list[int]]]:
        """You, the bots, the places and the chats (each opening a scene)."""
        self.add("you_set", {"name": "Wren", "persona": "A courier with too many secrets."})
        for bot_id, (name, persona) in BOTS.items():
            self.add("bot_created", {"bot_id": bot_id, "name": name, "persona": persona})
        for cid, name, kind, parent in PLACES:
            payload = {"container_id": cid, "name": name, "kind": kind}
            if parent is not None:
                payload["parent_id"] = parent
            self.add("container_created", payload)
        chats = []
        for n in range(self.chats):
            title, bots, places = CHATS[n % len(CHATS)]
            if n >= len(CHATS):
                title = f"{title} ({n // len(CHATS) + 1})"
            if self.own_bots and n > 0:
                bots = [self.own_bot(bot, n + 1) for bot in bots]
            chat_id = next_chat_id(self.conn)
            self.add("chat_created", {"title": title, "bot_ids": bots}, chat_id=chat_id)
            opening = {"container_id": places[0], "title": f"{title}: opening"}
            self.add("scene_started", opening, chat_id=chat_id)
            chats.append((chat_id, bots, places))
        return chats

    def own_bot(self, bot: str, chat: int) -> str:
        """Chat number ``chat``'s own copy of ``bot`` (``mira-2``, "Mira (2)"), created here."""
        own = f"{bot}-{chat}"
        self.base[own], self.names[own] = bot, f"{BOTS[bot][0]} ({chat})"
        self.add("bot_created", {"bot_id": own, "name": self.names[own], "persona": BOTS[bot][1]})
        return own

    def exchange(self, chat_id: int, bots: list[str], failing: bool) -> tuple[str, int, int]:
        """Your turn and a bot's reply, each followed by the affinity derived from it."""
        rng = self.rng
        user = self.add("user_turn", {"text": rng.choice(USER_LINES)}, chat_id=chat_id)
        bot = rng.choice(bots)
        if rng.random() < 0.05:
            self.mood[bot] = rng.uniform(-1.5, 1.5)
        delta = round(self.mood[bot] + rng.gauss(0, 1.0), 2)
        if not failing:  # derived events follow their turn, before the next one
            tone = {"src": "you", "dst": bot, "delta": round(delta * 0.6, 2), "reason": "user tone"}
            self.add("edge_update", tone, chat_id=chat_id, cause_id=user, low=1, high=2)
        reply = self.add(
            "assistant_turn",
            {"bot_id": bot, "text": rng.choice(BOT_LINES[self.base[bot]])},
            chat_id=chat_id,
            low=2,
            high=20,
        )
        if failing:
            error = {"stage": "affinity", "error": "timeout after 30s waiting for the model"}
            self.add("classifier_failed", error, chat_id=chat_id, cause_id=reply, low=1, high=2)
            self.failure_done = True
        else:
            tone = {"src": bot, "dst": "you", "delta": delta, "reason": "reply tone"}
            self.add("edge_update", tone, chat_id=chat_id, cause_id=reply, low=1, high=2)
        return bot, user, reply

    def aside(
        self, chat_id: int, bot: str, places: list[int], user: int, reply: int, n: int
    ) -> None:
        """Now and then: a memory, an activity, a scene change, a regeneration, an edit, a hide."""
        rng, roll = self.rng, self.rng.random()
        if roll < 0.08:
            memory = {
                "owner": bot,
                "text": rng.choice(MEMORIES).format(who=self.names[bot]),
                "salience": round(rng.uniform(0.2, 1.0), 2),
            }
            self.add("memory_added", memory, chat_id=chat_id, cause_id=reply, low=1, high=2)
        elif roll < 0.14:
            place = rng.choice(places)
            action = rng.choice(
                ["pours a drink", "sharpens a blade", "counts coins", "keeps watch"]
            )
            activity = {"container_id": place, "entity": bot, "action": action}
            self.add("activity_logged", activity, chat_id=chat_id)
        elif roll < 0.18:
            scene = {"container_id": rng.choice(places), "title": "a change of scene"}
            self.add("scene_started", scene, chat_id=chat_id, low=60, high=600)
        elif roll < 0.20:
            self.add("scene_ended", {}, chat_id=chat_id)
        elif roll < 0.24:
            line = rng.choice(BOT_LINES[self.base[bot]])
            regenerate_turn(self.conn, reply, line, ts=self.clock.tick(2, 10))
        elif roll < 0.28:
            text = rng.choice(USER_LINES) + " (edited)"
            edit_turn(self.conn, user, text, ts=self.clock.tick(2, 10))
        elif not self.hidden_done and n > self.events // 2:
            hide_turn(self.conn, user, ts=self.clock.tick(2, 10))
            self.hidden_done = True

    def run(self, events: int) -> int:
        self.events = events
        chats = self.world()
        # Each pair drifts around a mood that changes now and then: affinity rises and falls.
        mood = {bot: self.rng.uniform(-0.5, 1.0) for bot in BOTS}
        self.mood = {bot: mood[base] for bot, base in self.base.items()}  # own bots start alike
        with progress_bar(total=events, desc="demo history") as bar:
            while (n := self.head() - self.start_id) < events:
                if bar is not None:
                    bar.update(n - bar.n)
                chat_id, bots, places = self.rng.choice(chats)
                failing = not self.failure_done and n > events // 3
                bot, user, reply = self.exchange(chat_id, bots, failing)
                self.aside(chat_id, bot, places, user, reply, n)
            if bar is not None:
                bar.update(bar.total - bar.n)
        return self.head() - self.start_id


def generate(
    conn: sqlite3.Connection,
    *,
    events: int = 400,
    seed: int = 7,
    chats: int = len(CHATS),
    own_bots: bool = False,
) -> int:
    """Append a demo history of about ``events`` events in ``chats`` chats; return the count.

    ``own_bots``: each chat after the first has companions of its own.
    """
    return _Writer(conn, seed, _check_chats(chats), own_bots).run(events)


def _check_chats(chats: object) -> int:
    if isinstance(chats, bool) or not isinstance(chats, int) or chats < 1:
        raise DemoError(f"chats must be a positive int, not {chats!r}; pass e.g. chats=100")
    return chats


def build_demo(
    path: str | PathLike[str],
    *,
    events: int = 400,
    seed: int = 7,
    chats: int = len(CHATS),
    own_bots: bool = False,
    force: bool = False,
) -> Path:
    """Create the demo history at ``path`` (refusing to overwrite unless ``force``)."""
    path = Path(path)
    _check_chats(chats)
    if path.exists():
        if not force:
            raise HistoryExistsError(f"{path} exists; pass force=True (or --force) to replace it")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    with open_db(path) as conn, atomic(conn):
        generate(conn, events=events, seed=seed, chats=chats, own_bots=own_bots)
    return path


def dump_events(conn: sqlite3.Connection, path: str | PathLike[str]) -> Path:
    """Write the log as JSON lines (one event per line), a reviewable form of a history."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as fh:
        for row in conn.execute(
            "SELECT id, ts, chat_id, kind, payload, cause_id, hidden, superseded_by "
            "FROM event_log ORDER BY id"
        ):
            keys = ("id", "ts", "chat_id", "kind", "payload", "cause_id", "hidden", "superseded_by")
            rec = dict(zip(keys, row, strict=True))
            rec["payload"] = json.loads(rec["payload"])
            fh.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
    return path
