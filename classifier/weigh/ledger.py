"""The social-capital ledger: an SQLite store of what each sender gave and took.

Boring on purpose: normalised sender keys, refused NaN, one explicit transaction per write, and event
ids derived from the content so that importing a file twice, or two processes recording the same
event at once, adds it only once. Scoring never writes here; recording is always an explicit call.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from classifier.cells import from_spreadsheet_safe, spreadsheet_safe
from classifier.weigh.events import FIELDS, MAX_WEIGHT, SENDER_FORMS, Event, normalise_sender, parse_date, stored_date

ENV_VAR = "TRIAGE_LEDGER"
FORMATS: tuple[str, ...] = ("jsonl", "csv")
BUSY_TIMEOUT_MS = 60_000
"""How long a writer waits for another process's transaction before giving up."""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 0 -> 1: events and aliases.
    (
        """CREATE TABLE events (
               id       TEXT PRIMARY KEY,      -- sha256 of the normalised fields (Event.id)
               sender   TEXT NOT NULL,         -- normalised key, never the alias group
               date     TEXT NOT NULL,         -- UTC, fixed width, so text order is time order
               kind     TEXT NOT NULL,
               weight   REAL NOT NULL CHECK (weight >= 0),
               note     TEXT NOT NULL DEFAULT '',
               source   TEXT NOT NULL DEFAULT '',
               label    TEXT,
               recorded TEXT NOT NULL
           )""",
        "CREATE INDEX events_sender_date ON events (sender, date)",
        """CREATE TABLE aliases (
               key       TEXT PRIMARY KEY,     -- a normalised sender key
               canonical TEXT NOT NULL         -- the group it belongs to
           )""",
        "CREATE INDEX aliases_canonical ON aliases (canonical)",
    ),
    # 1 -> 2: corrections a person makes to a label or an action, for the review UI.
    (
        """CREATE TABLE corrections (
               id         INTEGER PRIMARY KEY AUTOINCREMENT,
               message_id TEXT NOT NULL,
               kind       TEXT NOT NULL,       -- what was corrected, e.g. 'label' or 'action'
               old        TEXT,
               new        TEXT,
               created    TEXT NOT NULL,
               undone     INTEGER NOT NULL DEFAULT 0
           )""",
        "CREATE INDEX corrections_message ON corrections (message_id)",
    ),
    # 2 -> 3: the people the owner knows: a declared tie, a name (weigh.people).
    (
        """CREATE TABLE people (
               sender  TEXT PRIMARY KEY,       -- a normalised sender key
               name    TEXT NOT NULL DEFAULT '',
               tie     TEXT,                   -- declared: labels.TIE_LEVELS; NULL: the evidence decides
               source  TEXT NOT NULL DEFAULT '', -- who declared it: 'you', or an address book's file name
               updated TEXT NOT NULL
           )""",
    ),
)
"""Step i upgrades a database at user_version i to i + 1. Append steps; never edit a released one."""
SCHEMA_VERSION = len(MIGRATIONS)


class LedgerError(Exception):
    """The ledger file cannot be used (not a database, or written by a newer version)."""


def default_ledger_path() -> Path:
    """$TRIAGE_LEDGER, else ~/.local/share/outreach-triage/ledger.db (read at call time, not import)."""
    override = os.environ.get(ENV_VAR, "").strip()
    if override:
        return Path(override).expanduser()
    return Path.home() / ".local" / "share" / "outreach-triage" / "ledger.db"


class Ledger:
    """The event store for one ledger file. Each process opens its own; SQLite serialises writers."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_ledger_path()
        try:
            if not self.path.exists():
                _create(self.path)
            elif self.path.is_dir():
                raise LedgerError(f"ledger {str(self.path)!r} is a folder; expected a ledger database file")
            elif self.path.stat().st_size == 0:
                # A new ledger never exists empty (_create), so this file is someone else's, or a mistake.
                raise LedgerError(f"ledger {str(self.path)!r} is an empty file, not a ledger database; remove it "
                                  "or give another path (a new ledger is made where no file exists)")
            self._conn = self._connect(self.path)
        except sqlite3.DatabaseError as error:
            raise LedgerError(f"cannot open ledger {str(self.path)!r}: {error}") from None

    def _connect(self, path: Path) -> sqlite3.Connection:
        self._conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._use_wal()
        self._migrate()
        return self._conn

    # ------------------------------------------------------------ plumbing

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One explicit write transaction; BEGIN IMMEDIATE takes the write lock up front so that two
        processes never both read-then-write on a stale view. For this package's stores that share
        the file (weigh.corrections)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _use_wal(self) -> None:
        """Switch the file to WAL once (it persists). SQLite answers "database is locked" at once,
        without waiting on the busy timeout, when another process holds a lock during the switch, so
        the first opens of a new ledger retry until the timeout."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                if self._conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self._conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        if self._version() == SCHEMA_VERSION:
            return
        with self.transaction() as conn:
            version = self._version()  # again, under the lock: another process may have migrated
            if version > SCHEMA_VERSION:
                raise LedgerError(f"ledger {str(self.path)!r} has schema version {version}, but this program "
                                  f"knows versions up to {SCHEMA_VERSION}; upgrade outreach-triage")
            for step in MIGRATIONS[version:]:
                for statement in step:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # ------------------------------------------------------------ aliases

    def _group(self, key: str) -> str | None:
        row = self._conn.execute("SELECT canonical FROM aliases WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def keys(self, sender: str | None) -> list[str]:
        """Every key of the person ``sender`` names (itself first); [] for an unknown sender."""
        key = normalise_sender(sender)
        if key is None:
            return []
        group = self._group(key)
        if group is None:
            return [key]
        others = [row[0] for row in self._conn.execute(
            "SELECT key FROM aliases WHERE canonical = ? AND key != ? ORDER BY key", (group, key))]
        return [key, *others]

    def alias(self, a: str, b: str) -> None:
        """Record that ``a`` and ``b`` are one person: from now on their events count together."""
        key_a, key_b = normalise_sender(a), normalise_sender(b)
        if key_a is None or key_b is None:
            raise ValueError(f"alias needs two senders; expected {SENDER_FORMS}")
        with self.transaction() as conn:
            group_a = self._group(key_a) or key_a
            group_b = self._group(key_b) or key_b
            conn.execute("UPDATE aliases SET canonical = ? WHERE canonical = ?", (group_a, group_b))
            conn.executemany("INSERT OR REPLACE INTO aliases (key, canonical) VALUES (?, ?)",
                             [(group_a, group_a), (key_a, group_a), (key_b, group_a)])

    # ------------------------------------------------------------ events

    def record(self, event: Event) -> bool:
        """Store one event; True when it was new."""
        return self.record_many([event]) == 1

    def record_many(self, events: Iterable[Event]) -> int:
        """Store events in one transaction; returns how many were new (already known ids are skipped)."""
        recorded = stored_date(datetime.now(UTC))
        rows = [(e.id, e.sender, stored_date(e.date), e.kind, e.weight, e.note, e.source, e.label, recorded)
                for e in events]
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany("INSERT OR IGNORE INTO events (id, sender, date, kind, weight, note, source, "
                             "label, recorded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            return conn.total_changes - before

    def delete_event(self, event_id: str) -> bool:
        """Remove the event whose id (Event.id) is ``event_id``, to undo a recording made by mistake;
        True when it existed."""
        with self.transaction() as conn:
            return conn.execute("DELETE FROM events WHERE id = ?", (event_id,)).rowcount == 1

    def events(self, sender: str | None, before: datetime | None = None) -> list[Event]:
        """The events of ``sender`` and all their aliases, oldest first; only those strictly before
        ``before`` when given."""
        keys = self.keys(sender)
        if not keys:
            return []
        query = (f"SELECT sender, date, kind, weight, note, source, label FROM events "
                 f"WHERE sender IN ({', '.join('?' * len(keys))})")
        params: list[str] = list(keys)
        if before is not None:
            query += " AND date < ?"
            params.append(stored_date(parse_date(before)))
        return [_event(row) for row in self._conn.execute(query + " ORDER BY date, id", params)]

    def all_events(self) -> list[Event]:
        """Every event in the ledger, oldest first."""
        return [_event(row) for row in self._conn.execute(
            "SELECT sender, date, kind, weight, note, source, label FROM events ORDER BY date, id")]

    def count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM events").fetchone()[0])

    # ------------------------------------------------------------ files

    def export(self, fp: IO[str], fmt: str = "jsonl") -> int:
        """Write every event to ``fp`` as JSONL or CSV (the FIELDS columns); returns how many.
        Aliases are not part of the file: they live in the ledger only."""
        events = self.all_events()
        write_events(fp, events, fmt)
        return len(events)

    def import_file(self, path: str | os.PathLike[str], fmt: str | None = None) -> int:
        """Record the events of a JSONL or CSV file ("-" is stdin) in one transaction; returns how many
        were new. Any bad row stops the import before anything is written."""
        return self.record_many(read_events(path, fmt))

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows of a read-only query, for this package's stores that share the file (weigh.corrections)."""
        return self._conn.execute(sql, params).fetchall()


def _create(path: Path) -> None:
    """Make a new ledger at ``path`` whole or not at all: it is built beside it under another name, then
    linked into place, so that no process ever sees it empty, and of two processes creating it at once
    one wins and the other opens the winner's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, building = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent)
    os.close(fd)
    try:
        new = Ledger.__new__(Ledger)
        new.path = Path(building)
        new._connect(new.path).close()  # closing the last connection folds the WAL back into the file
        try:
            os.link(building, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(building, path)
    finally:
        for leftover in (building, building + "-wal", building + "-shm"):
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass


def _event(row: tuple) -> Event:
    sender, date, kind, weight, note, source, label = row
    # Clamped to what Event accepts today: a ledger written by an older version may hold more.
    return Event(sender=sender, date=datetime.fromisoformat(date), kind=kind, weight=min(weight, MAX_WEIGHT),
                 note=note, source=source, label=label)


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return fmt


def guess_format(path: str | os.PathLike[str]) -> str:
    """The file format from the extension: .jsonl/.ndjson/.json -> jsonl, .csv -> csv."""
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ValueError(f"cannot tell the format of {str(path)!r} from its extension {suffix!r}; "
                     f"expected .jsonl or .csv, or give the format ({', '.join(FORMATS)})")


def read_events(path: str | os.PathLike[str], fmt: str | None = None) -> list[Event]:
    """Every event of a ledger file, or a ValueError naming the file, the line and the bad value."""
    name = str(path)
    if fmt is None:
        fmt = "jsonl" if name == "-" else guess_format(path)
    check_format(fmt)
    if name == "-":
        return list(_parse(sys.stdin, fmt, "<stdin>"))
    with open(path, encoding="utf-8-sig", newline="") as fp:
        return list(_parse(fp, fmt, name))


def _parse(fp: IO[str], fmt: str, name: str) -> Iterator[Event]:
    rows: Iterator[tuple[int, object]]
    if fmt == "csv":
        reader = csv.DictReader(fp)
        missing = [f for f in ("sender", "date", "kind") if f not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{name} line 1: header lacks {', '.join(missing)}; expected columns "
                             f"{', '.join(FIELDS)}")
        # Cells written formula-safe (write_events) are read back as they were.
        rows = ((reader.line_num, {k: from_spreadsheet_safe(v) if isinstance(v, str) else v for k, v in row.items()})
                for row in reader)
    else:
        rows = _jsonl_rows(fp, name)
    for line, row in rows:
        try:
            if not isinstance(row, dict):
                raise ValueError(f"expected a JSON object with {', '.join(FIELDS)}, got a {type(row).__name__}")
            if None in row:  # csv.DictReader puts extra cells under None
                raise ValueError(f"{len(row[None])} more cells than the {len(FIELDS)} columns")
            yield Event.from_row(row)
        except ValueError as error:
            raise ValueError(f"{name} line {line}: {error}") from None


def _jsonl_rows(fp: IO[str], name: str) -> Iterator[tuple[int, object]]:
    for line, text in enumerate(fp, start=1):
        if not text.strip():
            continue
        try:
            yield line, json.loads(text)
        except json.JSONDecodeError as error:
            # No part of the line in the message: the file may not be a ledger file at all, but a secret.
            raise ValueError(f"{name} line {line}: not JSON ({error.msg} at column {error.colno}); expected one "
                             f"event per line with {', '.join(FIELDS)}") from None
        except RecursionError:
            raise ValueError(f"{name} line {line}: not an event: JSON nested too deeply") from None


def write_events(fp: IO[str], events: Iterable[Event], fmt: str = "jsonl") -> None:
    """Write events as a ledger file: JSONL (label null when absent) or CSV (label empty)."""
    check_format(fmt)
    if fmt == "csv":
        # Formula-safe, as `triage score` writes CSV: a note can be a subject an attacker chose.
        writer = csv.DictWriter(fp, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for event in events:
            writer.writerow({k: spreadsheet_safe(v) for k, v in {**event.as_row(), "label": event.label or ""}.items()})
    else:
        for event in events:
            fp.write(json.dumps(event.as_row(), ensure_ascii=False) + "\n")
