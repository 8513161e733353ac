"""The only code that turns an export into ledger events, and keeps them per sender.

What the relationship stage needs of each message is a history row (``history_row``): who wrote to
whom, when (UTC), what kind of message it was and a fingerprint of the message itself. From the whole
export's rows, ``export_events`` makes the events:

- an inbound ask is an ``asked`` withdrawal, with its label;
- an inbound message with no ask is a deposit of the kind its words show (its signal, from
  classify.signals.deposit_kind: an introduction, a referral, a share, help), else ``engaged``;
- the user writing to someone, or replying to anything but their ask, is ``corresponded``:
  relationship evidence. Answering a pitch is not a relationship, so it earns nothing;
- the user's answer to an ask, when it plainly says no or yes (classify.signals.answer_intent), is
  ``declined`` or ``favour_granted``; any answer but a no is also ``replied``, a message from the user
  that counts for the tie (weigh.tie) and moves no balance;
- a message either way with warm words (classify.signals.warmth) is also a ``warm`` event, and one
  that speaks as family (classify.signals.kinship) a ``kin`` event, noted "from you" or "from them":
  evidence of how close the tie is (weigh.tie), moving no balance.

Spam earns and costs nothing. Copies of one message (the same fingerprint, whatever their Message-ID)
make the same events, counted once (``unique_events``). ``ExportHistory`` keeps the rows and events of
an export in a temporary SQLite file, so that memory stays flat however large the export.
"""

from __future__ import annotations

import bisect
import hashlib
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path
from typing import NamedTuple

from classifier.labels import ASK_LABELS
from classifier.parse.message import Message
from classifier.policy import Policy
from classifier.weigh.events import Event
from classifier.weigh.people import People
from classifier.weigh.standing import Timeline
from classifier.weigh.tie import WARM_FROM_THEM, WARM_FROM_YOU, WORDS_KINDS, YOUR_KINDS

HISTORY_COLUMNS = ("seq", "id", "sender", "date", "to", "in_reply_to", "label", "role", "signal", "fingerprint",
                   "warm", "kin", "name")
"""What the relationship stage needs of each message: ``seq`` orders the export's messages."""
ANSWERS = {"declined": "declined", "granted": "favour_granted"}
"""The user's answer to an ask (classify.signals.answer_intent) -> the ledger kind it records."""
FINGERPRINT_TEXT = 5000
"""Characters of the text a fingerprint reads: copies of one message agree on far fewer."""
EVENTS_CACHED = 200_000
"""Export events ExportHistory keeps in memory, per process, of the senders it met most recently: a
bound (tens of MB), set high enough that busy senders are not read again and again (at 50,000,
100,000 messages took twice as long)."""


class ExportEvent(NamedTuple):
    """One ledger event the export holds, as plain values (``to_events`` makes Events of them)."""

    sender: str
    date: str  # ISO 8601, UTC
    kind: str
    label: str | None
    seq: int  # the message it came from
    fingerprint: str  # of that message: copies of one message make the same event (unique_events)
    note: str = ""  # a warm event's side: "from you" or "from them"


def fingerprint(message: Message) -> str:
    """What makes a message the same message, whatever its Message-ID says: sender, date, subject and
    text. An export concatenated with itself, or a message filed under two labels, is one message."""
    digest = hashlib.blake2b(digest_size=8)
    date = message.date.isoformat() if message.date else ""
    for part in (message.sender or "", date, message.subject, message.text[:FINGERPRINT_TEXT]):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def history_row(seq: int, message: Message, label: str | None, signal: str | None, warm: bool = False,
                kin: bool = False) -> dict:
    """The HISTORY_COLUMNS of one message, its label (None when not classified: the user's own mail),
    its signal and whether its words are warm, or speak as family. Dates in UTC, so that the text order of ISO dates is
    time order (SQLite, Parquet)."""
    date = message.date.astimezone(timezone.utc).isoformat() if message.date else None
    return {"seq": seq, "id": message.id, "sender": message.sender, "date": date, "to": list(message.to),
            "in_reply_to": message.in_reply_to, "label": label, "role": message.role, "signal": signal,
            "fingerprint": fingerprint(message), "warm": bool(warm), "kin": bool(kin), "name": message.sender_name or ""}


def find_me(given: Iterable[str], sent_senders: Mapping[str, int]) -> list[str]:
    """The user's addresses: those given, else the most frequent sender of the Sent folder
    (``sent_senders``: sender -> messages in Sent; a tie goes to the first in alphabetical order)."""
    given = sorted({g.strip().lower() for g in given})
    if given:
        return given
    counted = [(-n, sender) for sender, n in sent_senders.items() if sender is not None]
    return [min(counted)[1]] if counted else []


def reply_parents(rows: Iterable[dict]) -> dict[str, list[tuple[str | None, str | None]]]:
    """Message id -> each distinct (sender, label) of the messages with that id: what a reply answered.
    Distinct, so that a Message-ID reused by many messages costs no more than one."""
    parents: dict[str, list[tuple[str | None, str | None]]] = {}
    for row in rows:
        found = parents.setdefault(row["id"], [])
        if (row["sender"], row["label"]) not in found:
            found.append((row["sender"], row["label"]))
    return parents


def message_event(sender: str, date: str, label: str | None, signal: str | None, seq: int = -1,
                  mark: str = "") -> ExportEvent | None:
    """The event one inbound message makes in its sender's history: an ask costs, a message with no
    ask is a deposit of the kind its signal says (else engagement), spam and the unclassified nothing."""
    if label in ASK_LABELS:
        return ExportEvent(sender, date, "asked", label, seq, mark)
    if label == "no_ask":
        return ExportEvent(sender, date, signal or "engaged", None, seq, mark)
    return None


def export_events(rows: Iterable[dict], me: Collection[str],
                  parents: Mapping[str, Sequence[tuple[str | None, str | None]]] | None = None,
                  ) -> Iterator[ExportEvent]:
    """The ledger events the export's messages (``history_row`` dicts) hold (see the module's rules).
    Messages with no date make no history. A reply makes one event per recipient, however many
    messages share the id it answers.

    ``parents``: message id -> (sender, label) of the messages with that id, for the user's replies
    (``reply_parents``); when None it is built from ``rows``, which then must be the whole export.
    """
    if parents is None:
        rows = list(rows)
        parents = reply_parents(rows)
    for row in rows:
        if row["date"] is None:
            continue
        seq, mark = row["seq"], row["fingerprint"]
        if row["role"] == "sent" or row["sender"] in me:
            answered = (parents.get(row["in_reply_to"]) if row["in_reply_to"] else None) or ()
            askers = {sender for sender, label in answered if label in ASK_LABELS}
            for recipient in dict.fromkeys(row["to"]):  # each recipient once, in order
                if not recipient or recipient in me:
                    continue
                if row["warm"]:
                    yield ExportEvent(recipient, row["date"], "warm", None, seq, mark, WARM_FROM_YOU)
                if row["kin"]:
                    yield ExportEvent(recipient, row["date"], "kin", None, seq, mark, WARM_FROM_YOU)
                if recipient in askers:  # an answer to their ask: no deposit; a yes or no is recorded
                    if row["signal"] in ANSWERS:
                        yield ExportEvent(recipient, row["date"], ANSWERS[row["signal"]], None, seq, mark)
                    if row["signal"] != "declined":
                        yield ExportEvent(recipient, row["date"], "replied", None, seq, mark)
                    continue
                yield ExportEvent(recipient, row["date"], "corresponded", None, seq, mark)
        elif row["sender"] is not None:
            event = message_event(row["sender"], row["date"], row["label"], row["signal"], seq, mark)
            if event is not None:
                yield event
                if row["warm"]:
                    yield ExportEvent(row["sender"], row["date"], "warm", None, seq, mark, WARM_FROM_THEM)
                if row["kin"]:
                    yield ExportEvent(row["sender"], row["date"], "kin", None, seq, mark, WARM_FROM_THEM)


def unique_events(exported: Iterable[ExportEvent]) -> Iterator[ExportEvent]:
    """The first of each event that copies of one message made (same sender, date, kind, label and
    message fingerprint): evidence counts once per real event, whatever the Message-IDs say."""
    seen: set[tuple] = set()
    for event in exported:
        key = (event.sender, event.date, event.kind, event.label, event.fingerprint, event.note)
        if key not in seen:
            seen.add(key)
            yield event


def to_event(e: ExportEvent) -> Event | None:
    """The Event of an export's event; None for a sender no ledger key can name (a bare name in a
    CSV): such a sender has no history, rather than failing the job."""
    try:
        return Event(sender=e.sender, date=datetime.fromisoformat(e.date), kind=e.kind, label=e.label, note=e.note,
                     source="export")
    except ValueError:
        return None


def to_events(exported: Iterable[ExportEvent]) -> list[Event]:
    return [event for event in map(to_event, exported) if event is not None]


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class _ParentsInSqlite:
    """reply_parents, looked up in ExportHistory's table instead of held in memory."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def get(self, message_id: str, default=None):
        return self.db.execute("SELECT DISTINCT sender, label FROM messages WHERE id = ?",
                               (message_id,)).fetchall() or default


class ExportHistory:
    """Who wrote to whom and what, from the export itself, in a temporary SQLite file."""

    def __init__(self, path: Path | str, read_only: bool = False):
        """A new history at ``path``, or with ``read_only`` one another process built (a pool worker's,
        in stage 2)."""
        self.path = str(path)
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True) if read_only else sqlite3.connect(path)
        self._cache: dict[str, tuple[list[str], list[Event]]] = {}
        self._timelines: dict[str, Timeline] = {}
        self._cached_events = 0
        if read_only:
            return
        self.db.execute("CREATE TABLE messages (seq INTEGER PRIMARY KEY, id TEXT, sender TEXT, date TEXT, "
                        "recipients TEXT, in_reply_to TEXT, label TEXT, role TEXT, signal TEXT, fingerprint TEXT, "
                        "warm INTEGER, kin INTEGER, name TEXT)")
        self.db.execute("CREATE TABLE events (sender TEXT, date TEXT, kind TEXT, label TEXT, seq INTEGER, "
                        "fingerprint TEXT, note TEXT)")

    def add(self, rows: Iterable[dict]) -> None:
        """History rows (``history_row``), in export order."""
        self.db.executemany("INSERT INTO messages VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                            [(r["seq"], r["id"], r["sender"], r["date"], "\n".join(r["to"]), r["in_reply_to"],
                              r["label"], r["role"], r["signal"], r["fingerprint"], int(r["warm"]), int(r["kin"]),
                              r["name"])
                             for r in rows])

    def rows(self) -> Iterator[dict]:
        """The history rows, in export order, streamed from the table."""
        for values in self.db.execute("SELECT seq, id, sender, date, recipients, in_reply_to, label, role, signal, "
                                      "fingerprint, warm, kin, name FROM messages ORDER BY seq"):
            row = dict(zip(HISTORY_COLUMNS, values))
            row["to"] = row["to"].split("\n") if row["to"] else []
            row["warm"], row["kin"] = bool(row["warm"]), bool(row["kin"])
            yield row

    def detect_me(self, given: list[str]) -> list[str]:
        """The user's addresses: those given, else the most frequent sender of the Sent folder."""
        sent = self.db.execute("SELECT sender, COUNT(*) FROM messages WHERE role = 'sent' AND sender IS NOT NULL "
                               "GROUP BY sender").fetchall()
        return find_me(given, dict(sent))

    def build_events(self, me: list[str]) -> None:
        """Turn the export into ledger events (see export_events), a batch of rows at a time."""
        self.db.execute("CREATE INDEX messages_by_id ON messages (id)")
        events = export_events(self.rows(), frozenset(me), _ParentsInSqlite(self.db))
        for chunk in _chunks(events, 10_000):
            self.db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?)", chunk)
        self.db.execute("CREATE INDEX events_by_sender ON events (sender, date)")
        self.db.commit()  # visible to the pool's workers from here on

    def known_names(self) -> dict[str, str]:
        """sender -> the display name of the people the user wrote to (the latest their own messages
        give). After build_events."""
        return dict(self.db.execute(
            "SELECT sender, name FROM messages WHERE name != '' AND role IS NULL AND sender IN "
            f"(SELECT sender FROM events WHERE kind IN ({', '.join('?' * len(YOUR_KINDS))}) OR "
            f"(kind IN ({', '.join('?' * len(WORDS_KINDS))}) AND note = ?)) ORDER BY seq",
            (*YOUR_KINDS, *WORDS_KINDS, WARM_FROM_YOU)))

    def known_people(self) -> People:
        """The people the user wrote to, by name, for telling an impersonator from them (weigh.people)."""
        people = People()
        for sender, name in self.known_names().items():
            people.know(sender, name)
        return people

    def repeated(self) -> int:
        """How many messages repeat an earlier one (the same fingerprint)."""
        return self.db.execute("SELECT COUNT(*) - COUNT(DISTINCT fingerprint) FROM messages").fetchone()[0]

    def unique_events(self, sender: str | None = None) -> Iterator[ExportEvent]:
        """The export's events, each once (see unique_events), by date: of ``sender``, or of everyone."""
        query = "SELECT sender, date, kind, label, seq, fingerprint, note FROM events"
        rows = (self.db.execute(query + " WHERE sender = ? ORDER BY date, seq", (sender,)) if sender is not None
                else self.db.execute(query + " ORDER BY date, seq"))
        return unique_events(ExportEvent(*row) for row in rows)

    def events(self, sender: str | None, before: datetime | None = None) -> list[Event]:
        """The export's events of ``sender``, only those strictly before ``before`` when given."""
        if sender is None:
            return []
        dates, events = self._sender_events(sender)
        if before is None:
            return list(events)
        return events[:bisect.bisect_left(dates, before.astimezone(timezone.utc).isoformat())]

    def timeline(self, sender: str, policy: Policy) -> Timeline:
        """The export's events of ``sender`` as a standing.Timeline, made once per sender and kept with
        its events: every message of a busy sender is weighed against it at its own date."""
        _, events = self._sender_events(sender)  # also keeps the sender in the cache
        timeline = self._timelines.get(sender)
        if timeline is None or timeline.policy is not policy:
            timeline = self._timelines[sender] = Timeline(events, policy)
        return timeline

    def close(self) -> None:
        self.db.close()

    def _sender_events(self, sender: str) -> tuple[list[str], list[Event]]:
        """(UTC ISO dates, Events) of one sender in date order, read once and kept while recently used:
        each of a sender's messages needs the events before it, and reading them per message made
        the stage quadratic in a busy sender's mail. At most EVENTS_CACHED events stay in memory."""
        cached = self._cache.pop(sender, None)
        if cached is None:
            dates, events = [], []
            for exported in self.unique_events(sender):
                event = to_event(exported)
                if event is not None:
                    dates.append(exported.date)
                    events.append(event)
            cached = (dates, events)
            self._cached_events += len(events)
        self._cache[sender] = cached  # dicts keep insertion order: the least recently used comes first
        while self._cached_events > EVENTS_CACHED and len(self._cache) > 1:
            evicted = next(iter(self._cache))
            self._cached_events -= len(self._cache.pop(evicted)[1])
            self._timelines.pop(evicted, None)
        return cached
