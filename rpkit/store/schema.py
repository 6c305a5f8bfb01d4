"""The tables of an rpkit history, and the migrations between schema versions.

``event_log`` is the truth; the projected tables (``PROJECTED``) are derived from
it and their names and columns are a contract with the app's other code.
Version 3 adds the chats' lineage (``parent_chat_id``, ``forked_from_event_id``)
and a ``history_id``. ``projection_undo`` is the rollback log: for recent events,
what each projection write replaced, so that a rewind or an edit rolls the
projection back by the tail it changes instead of replaying the whole log (the
table and its ``undo_floor`` meta key keep the names that version 2 gave them).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ..errors import TableError
from .sqlite import sqlite3

SCHEMA_VERSION = 3
APPLICATION_ID = 0x72706B74  # "rpkt", stamped into the SQLite header


@dataclass(frozen=True)
class Table:
    """A projected table: its columns (name, SQL type, pandas dtype) and key."""

    name: str
    columns: tuple[tuple[str, str, str], ...]
    key: tuple[str, ...]
    ddl: str
    extension: bool = field(default=False, compare=False)

    @property
    def column_names(self) -> list[str]:
        return [c[0] for c in self.columns]


_SQL_TYPES = {"INTEGER", "TEXT", "REAL"}
_DTYPES = {"Int64", "string", "float64", "datetime"}


def _table(
    name: str, key: tuple[str, ...], cols: str, extra: str = "", *, extension: bool = False
) -> Table:
    parsed = []
    for line in cols.strip().splitlines():
        parts = line.split()
        if (
            len(parts) != 3
            or not parts[0].isidentifier()
            or parts[1] not in _SQL_TYPES
            or parts[2] not in _DTYPES
        ):
            raise TableError(
                f"column {line.strip()!r} of table {name!r} must read 'name SQLTYPE dtype' with "
                f"SQLTYPE one of {sorted(_SQL_TYPES)} and dtype one of {sorted(_DTYPES)}, "
                "e.g. 'mood TEXT string'"
            )
        parsed.append((parts[0], parts[1], parts[2]))
    names = [c for c, _, _ in parsed]
    missing = [k for k in key if k not in names]
    if not key or missing:
        raise TableError(f"the key {key!r} of table {name!r} must name some of its columns {names}")
    body = ",\n  ".join(f"{c} {t}" for c, t, _ in parsed)
    pk = f",\n  PRIMARY KEY ({', '.join(key)})"
    ddl = f"CREATE TABLE {name} (\n  {body}{pk}{extra}\n)"
    return Table(name, tuple(parsed), tuple(key), ddl, extension)


# Order matters: a table comes after the tables it refers to.
PROJECTED: dict[str, Table] = {
    t.name: t
    for t in [
        _table("you_entity", ("id",), "id INTEGER Int64\nname TEXT string\npersona TEXT string"),
        _table(
            "bots",
            ("id",),
            "id TEXT string\nname TEXT string\npersona TEXT string\ncreated_event_id INTEGER Int64",
        ),
        _table(
            "chats",
            ("id",),
            "id INTEGER Int64\ntitle TEXT string\ncreated_event_id INTEGER Int64\n"
            "created_at TEXT datetime\nparent_chat_id INTEGER Int64\n"
            "forked_from_event_id INTEGER Int64",
        ),
        _table(
            "chat_state",
            ("chat_id",),
            "chat_id INTEGER Int64\nturn_count INTEGER Int64\nlast_event_id INTEGER Int64\n"
            "last_speaker TEXT string\ncurrent_scene_id INTEGER Int64",
        ),
        _table(
            "edges",
            ("src", "dst"),
            "src TEXT string\ndst TEXT string\naffinity REAL float64\nupdates INTEGER Int64\n"
            "last_event_id INTEGER Int64",
        ),
        _table(
            "memories",
            ("id",),
            "id INTEGER Int64\nchat_id INTEGER Int64\nowner TEXT string\ntext TEXT string\n"
            "salience REAL float64",
        ),
        _table(
            "containers",
            ("id",),
            "id INTEGER Int64\nname TEXT string\nkind TEXT string\nparent_id INTEGER Int64",
            ",\n  FOREIGN KEY (parent_id) REFERENCES containers(id)",
        ),
        _table(
            "scenes",
            ("id",),
            "id INTEGER Int64\nchat_id INTEGER Int64\ncontainer_id INTEGER Int64\n"
            "title TEXT string\nstarted_event_id INTEGER Int64\nended_event_id INTEGER Int64",
            ",\n  FOREIGN KEY (container_id) REFERENCES containers(id)",
        ),
        _table(
            "activity",
            ("id",),
            "id INTEGER Int64\nchat_id INTEGER Int64\ncontainer_id INTEGER Int64\n"
            "entity TEXT string\naction TEXT string",
            ",\n  FOREIGN KEY (container_id) REFERENCES containers(id)",
        ),
        _table(
            "classifier_failures",
            ("id",),
            "id INTEGER Int64\nturn_event_id INTEGER Int64\nstage TEXT string\nerror TEXT string",
        ),
    ]
}


def register_table(name: str, key: tuple[str, ...] | str, columns: str) -> Table:
    """Add an extension's projected table, e.g. a ``moods`` table keyed by ``entity``.

    ``columns`` has one ``name SQLTYPE dtype`` line per column. The table is
    created in a history the first time the projection writes to it there.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise TableError(f"table name {name!r} must be an identifier such as 'moods'")
    if name in PROJECTED and not PROJECTED[name].extension:
        raise TableError(f"{name!r} is a built-in table and cannot be redefined")
    if name in {"event_log", "rpkit_meta", "projection_undo"}:
        raise TableError(f"{name!r} is a table of the store itself; choose another name")
    table = _table(name, (key,) if isinstance(key, str) else tuple(key), columns, extension=True)
    PROJECTED[name] = table
    return table


def ensure_tables(conn: sqlite3.Connection) -> None:
    """Create the registered extension tables a history does not have yet."""
    wanted = [t for t in PROJECTED.values() if t.extension]
    if not wanted:
        return
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table in wanted:
        if table.name not in have:
            conn.execute(table.ddl)


EVENT_LOG_DDL = """
CREATE TABLE event_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts TEXT NOT NULL,
  chat_id INTEGER NULL,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  cause_id INTEGER NULL REFERENCES event_log(id),
  hidden INTEGER NOT NULL DEFAULT 0,
  superseded_by INTEGER NULL REFERENCES event_log(id),
  CHECK (cause_id IS NULL OR cause_id < id),
  CHECK (superseded_by IS NULL OR superseded_by > id),
  CHECK (hidden = (superseded_by IS NOT NULL))
)
"""

META_DDL = "CREATE TABLE rpkit_meta (key TEXT PRIMARY KEY, value TEXT)"

# How many events the log holds, kept in ``rpkit_meta`` by triggers on every insert
# and delete (about 1 us a row), so no rewind or undo counts a million rows (a bare
# COUNT(*) reads an index of every row: 4-6 ms at 1M events). Additive within
# version 3: a file written before has them added when it is opened (``count_events``).
EVENT_COUNT = "events"
COUNT_DDL = tuple(
    f"CREATE TRIGGER IF NOT EXISTS event_log_count_{name} AFTER {op} ON event_log BEGIN "
    f"UPDATE rpkit_meta SET value = value {sign} 1 WHERE key = '{EVENT_COUNT}'; END"
    for name, op, sign in (("insert", "INSERT", "+"), ("delete", "DELETE", "-"))
)


def count_events(conn: sqlite3.Connection, *, recount: bool = False) -> None:
    """Add the triggers that keep the log's count, and the count if missing (or ``recount``)."""
    for stmt in COUNT_DDL:
        conn.execute(stmt)
    conn.execute(
        f"INSERT OR {'REPLACE' if recount else 'IGNORE'} INTO rpkit_meta(key, value) "
        f"VALUES ('{EVENT_COUNT}', (SELECT COUNT(*) FROM event_log))"
    )


# Version 2: indexes for the visibility rule and causes, and the rollback log.
V2_DDL = [
    "CREATE INDEX event_log_superseded_by ON event_log(superseded_by) "
    "WHERE superseded_by IS NOT NULL",
    "CREATE INDEX event_log_cause_id ON event_log(cause_id) WHERE cause_id IS NOT NULL",
    "CREATE INDEX event_log_chat_id ON event_log(chat_id, id)",
    """CREATE TABLE projection_undo (
  seq INTEGER PRIMARY KEY,
  event_id INTEGER NOT NULL,
  tbl TEXT NOT NULL,
  key TEXT NOT NULL,
  old TEXT NULL
)""",
    "CREATE INDEX projection_undo_event ON projection_undo(event_id)",
]


# Columns that later versions added to a projected table, by version.
ADDED_COLUMNS = {3: {"chats": ("parent_chat_id", "forked_from_event_id")}}


def _v1_ddl(table: Table) -> str:
    """The table as version 1 created it (without the columns later versions added)."""
    later = {c for added in ADDED_COLUMNS.values() for c in added.get(table.name, ())}
    if not later:
        return table.ddl
    kept = [f"{c} {s} {d}" for c, s, d in table.columns if c not in later]
    return _table(table.name, table.key, "\n".join(kept)).ddl


def create_v1(conn: sqlite3.Connection) -> None:
    """Create the version-1 schema (kept to test and exercise migrations)."""
    conn.execute(META_DDL)
    conn.execute(EVENT_LOG_DDL)
    for table in PROJECTED.values():
        if not table.extension:
            conn.execute(_v1_ddl(table))
    conn.execute("INSERT INTO rpkit_meta(key, value) VALUES ('schema_version', '1')")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    for stmt in V2_DDL:
        conn.execute(stmt)
    # No rollback entries exist yet: nothing before the newest event can be rolled back.
    head = conn.execute("SELECT COALESCE(MAX(id), 0) FROM event_log").fetchone()[0]
    conn.execute(
        "INSERT OR REPLACE INTO rpkit_meta(key, value) VALUES ('undo_floor', ?)", (str(head),)
    )


def _migrate_2_to_3(conn: sqlite3.Connection) -> None:
    # Lineage of chats (DESIGN §11); the caller re-projects, which fills the columns.
    for table, columns in ADDED_COLUMNS[3].items():
        for column in columns:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER")
    # Who a history is: a snapshot of it names the same id (undo_rewind checks it).
    conn.execute(
        "INSERT OR IGNORE INTO rpkit_meta(key, value) VALUES ('history_id', ?)",
        (uuid.uuid4().hex,),
    )


MIGRATIONS = {1: _migrate_1_to_2, 2: _migrate_2_to_3}


def create(conn: sqlite3.Connection, *, version: int = SCHEMA_VERSION) -> None:
    """Create the schema of ``version`` (the current one unless testing a migration)."""
    create_v1(conn)
    migrate(conn, 1, upto=version)
    if version == SCHEMA_VERSION:
        count_events(conn)


def migrate(conn: sqlite3.Connection, version: int, *, upto: int = SCHEMA_VERSION) -> None:
    """Bring a history from ``version`` to ``upto``, one step at a time."""
    while version < upto:
        MIGRATIONS[version](conn)
        version += 1
        conn.execute(
            "UPDATE rpkit_meta SET value = ? WHERE key = 'schema_version'", (str(version),)
        )
