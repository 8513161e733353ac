"""Scoring many messages: the main job.

Two stages, so that every message is judged with the history as of its own date. Each stage is a
plain function; this module schedules them on one machine, ``classifier.distributed`` on a Dask
cluster, and both give the same labels, actions and standings:

1. **content** (``content_stage``): stateless per message: parse, tell the folder's role, zone,
   classify, read the signals of the words. Embarrassingly parallel.
2. **relationship**: with the whole export seen, the user's own addresses are known (``find_me``);
   ``export_events`` turns the export into ledger events (asks, engagement, the user's replies), and
   ``relate`` weighs each inbound message of one sender against the events dated before it, plus
   ``--history`` and ``--ledger``.

On one machine memory stays flat however large the export: messages stream, content rows wait in a
spool file, history waits in SQLite (``ExportHistory``), and ``relate`` is called once per message
with that sender's events. Output keeps the input order.
"""

from __future__ import annotations

import bisect
import gc
import hashlib
import signal
import sqlite3
import sys
import tempfile
import threading
from collections import Counter, deque
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from datetime import datetime, timezone
from itertools import chain, islice
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import orjson

from .signals import answer_intent, deposit_kind
from .events import Event
from .labels import ASK_LABELS, LABELS
from .message import Message
from .parse_ahead import ParseAhead, ParsedChunk, records_after
from .policy import Policy
from .sources import CsvColumns, RawMail, Unreadable, input_format, iter_all_records, parsed
from .text import model_input
from .standing import Timeline
from .triage import Assessment, Classification, Triage, assess_classified
from .writers import open_writer, renderer

if TYPE_CHECKING:
    from .predict import Classifier

CHUNK = 256
"""Messages classified together: large enough to vectorise, small enough to keep memory flat."""
SENT_FOLDERS = {"sent", "sent mail", "sent items", "sent messages", "[gmail]/sent mail", "outbox"}
SKIPPED_FOLDERS = {"drafts": "draft", "draft": "draft", "chat": "chat", "chats": "chat"}
ASK_TEXT_CHARS = 5000
EVENTS_CACHED = 200_000
"""Export events the relationship stage keeps in memory, per process, of the senders it met most
recently: a bound (tens of MB), set high enough that busy senders are not read again and again
(at 50,000, 100,000 messages took twice as long)."""


@dataclass
class ScoreOptions:
    inputs: list[str]
    output: str | None = None  # None or "-": stdout
    format: str = "jsonl"
    history: str | None = None
    ledger: str | None = None
    me: list[str] = field(default_factory=list)
    jobs: int = 1
    quiet: bool = False
    model: str | None = None
    policy: str | None = None
    input_format: str | None = None
    columns: CsvColumns | None = None


@dataclass
class Summary:
    scored: int = 0
    by_label_action: Counter = field(default_factory=Counter)
    waiting: Counter = field(default_factory=Counter)  # sender -> messages that need a decision
    not_scored: Counter = field(default_factory=Counter)  # by design: own mail, drafts, chats
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (where, why)
    flagged: Counter = field(default_factory=Counter)  # repairs made while parsing
    me: list[str] = field(default_factory=list)
    repeated: int = 0  # messages that repeat an earlier one: scored, counted once as history

    @property
    def exit_code(self) -> int:
        return 3 if self.unreadable else 0

    def add(self, other: Summary) -> None:
        """Count ``other``'s messages in too (the summaries of a job's parts make the job's)."""
        self.scored += other.scored
        self.by_label_action.update(other.by_label_action)
        self.waiting.update(other.waiting)
        self.not_scored.update(other.not_scored)
        self.unreadable.extend(other.unreadable)
        self.flagged.update(other.flagged)
        self.repeated += other.repeated


# ---------------------------------------------------------------- stage 1: content


def _folder_role(message: Message) -> str | None:
    """"sent", "draft", "chat" or None, from Gmail labels or the Maildir folder."""
    for folder in (f.strip().lower() for f in message.folders):
        if folder in SKIPPED_FOLDERS:
            return SKIPPED_FOLDERS[folder]
        if folder in SENT_FOLDERS or folder.endswith("/sent") or folder == "sent":
            return "sent"
    return None


def content_stage(records: list, classifier: Classifier, me: frozenset[str] = frozenset()) -> list:
    """Stage 1, stateless per message: parse, tell the folder's role, zone and classify, read signals.

    Returns one row (a plain dict) per readable record, in order, and passes Unreadable through.
    ``me``: addresses given with --me, whose replies are read for their answer to an ask.
    """
    messages = [parsed(record) for record in records]
    for message in messages:
        if isinstance(message, Message):
            message.role = _folder_role(message)
    to_classify = [m for m in messages if isinstance(m, Message) and m.role is None]
    results = iter(classifier.classify_many([model_input(m.subject, m.text) for m in to_classify]))
    rows = []
    for message in messages:
        if isinstance(message, Unreadable):
            rows.append(message)
            continue
        classification = next(results) if message.role is None else None
        label = classification.label if classification else None
        if message.role == "sent" or message.sender in me:
            signal = answer_intent(message.text) if message.in_reply_to else None
        else:
            signal = deposit_kind(message.text) if label == "no_ask" else None
        rows.append(_content_row(message, classification, signal))
    return rows


def spooled(rows: list) -> list:
    """Content rows as stage 1 hands them on: (history values, the row as one line of JSON in UTF-8),
    Unreadable passed through. Done where the rows are made, so that a pool's workers do it, not the
    main process. orjson, not json: the spool is written and read back once per message, and the
    stdlib's encoder and decoder took about 4% of a batch's CPU time (orjson.loads gives back the values
    json.loads did)."""
    return [row if isinstance(row, Unreadable) else (history_values(row), orjson.dumps(row)) for row in rows]


_worker: dict = {}


def _worker_signals() -> None:
    """A worker leaves Ctrl-C to the main process, which stops the pool (a traceback from every worker
    otherwise), and dies of SIGTERM as a process should (the main process's handler is not for it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _init_forked_worker(triage: Triage, me: frozenset[str]) -> None:
    """A worker forked from the process that loaded the model: it has it already."""
    _worker_signals()
    triage.forget_connections()  # its own ledger connection, should the parent have opened one
    _worker["triage"], _worker["me"] = triage, me
    gc.freeze()  # inherited objects stay out of the collector's scans, so their pages stay shared


def _init_worker(options: ScoreOptions, me: frozenset[str]) -> None:
    """A worker started afresh (spawned): it loads the model itself."""
    _worker_signals()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)  # from the start: importing the libraries is most of start-up
    # An initializer that raises makes the pool restart workers for ever; keep the error for the task.
    try:
        # once per process, hash-checked like any load
        _worker["triage"] = Triage.load(options.model, options.policy, options.ledger, options.history)
    except Exception as error:  # noqa: BLE001 - re-raised by the first task, in the main process
        _worker["error"] = error
    _worker["me"] = me
    gc.freeze()  # the model and the libraries stay for the worker's life: the collector need not scan them


COLLECTOR_THRESHOLDS = (50_000, 50, 100)
"""The cyclic garbage collector's thresholds while scoring. Scoring allocates many short-lived objects per
message; at Python's default (700, 10, 10) the collector ran thousands of times per job, each time
rescanning the caches, 5% of the CPU time, and importing the libraries made a worker's start-up a tenth
slower. Messages make little cyclic garbage, so collecting less often costs little memory."""


@contextmanager
def _fewer_collections():
    """COLLECTOR_THRESHOLDS for the duration, then the caller's own (a pool's workers keep them)."""
    saved = gc.get_threshold()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def _worker_triage() -> Triage:
    if "error" in _worker:
        raise _worker["error"]
    return _worker["triage"]


def _content_chunk(records: list | ParsedChunk) -> list:
    if isinstance(records, ParsedChunk):
        records = records.load()
    return spooled(content_stage(records, _worker_triage().classifier, _worker["me"]))


def _relate_chunk(lines: list[bytes], history_path: str, me: frozenset[str], fmt: str) -> list:
    history = _worker.get("history")
    if history is None or history.path != history_path:
        history = _worker["history"] = ExportHistory(history_path, read_only=True)
    return relate_spooled(lines, history, _worker_triage(), me, renderer(fmt))


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def can_fork() -> bool:
    """Whether a pool's workers can be forked from this process: the system forks safely (not macOS,
    whose system libraries may not survive a fork: Python spawns there), and no other thread runs here
    (one holding a lock when the process forks would leave the child waiting for it)."""
    import multiprocessing

    return ("fork" in multiprocessing.get_all_start_methods() and sys.platform != "darwin"
            and threading.active_count() == 1)


class _Workers:
    """Runs a stage's function over chunks, in this process or in a pool of processes, in input order.

    With ``triage`` (the model this process loaded) the workers are forked from this process and start
    with it; without, each worker starts afresh and loads the model itself: seconds of imports each."""

    def __init__(self, options: ScoreOptions, me: frozenset[str], triage: Triage | None = None):
        self.pool, self.jobs = None, options.jobs
        if options.jobs > 1:
            import multiprocessing

            if triage is not None:
                gc.freeze()  # before the fork: see _init_forked_worker
                try:
                    self.pool = multiprocessing.get_context("fork").Pool(
                        options.jobs, initializer=_init_forked_worker, initargs=(triage, me))
                finally:
                    gc.unfreeze()
            else:
                self.pool = multiprocessing.get_context("spawn").Pool(options.jobs, initializer=_init_worker,
                                                                      initargs=(options, me))

    def map(self, here, there, chunks: Iterable[list], *args) -> Iterator[tuple[int, list]]:
        """(items in the chunk, results) per chunk, in input order: ``here(chunk)`` in this process, or
        ``there(chunk, *args)`` in a worker."""
        if self.pool is None:
            for chunk in chunks:
                yield len(chunk), here(chunk)
            return
        # Results are taken in submission order; a bounded look-ahead keeps memory flat.
        pending = []
        for chunk in chunks:
            pending.append((len(chunk), self.pool.apply_async(there, (chunk, *args))))
            if len(pending) >= 4 * self.jobs:
                n, result = pending.pop(0)
                yield n, result.get()
        for n, result in pending:
            yield n, result.get()

    def close(self) -> None:
        """Stop the workers. Every result the job needs has been taken (or the job failed), so they
        are stopped, not asked to finish: a worker's clean exit took most of a second."""
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


# ---------------------------------------------------------------- stage 2: relationship


HISTORY_COLUMNS = ("seq", "id", "sender", "date", "to", "in_reply_to", "label", "role", "signal", "fingerprint")
"""What the relationship stage needs of each message: who wrote to whom, when (UTC), what kind, and a
fingerprint of the message itself (``fingerprint``), by which copies of one message count once."""
ANSWERS = {"declined": "declined", "granted": "favour_granted"}
"""The user's answer to an ask (signals.answer_intent) -> the ledger kind it records."""


class ExportEvent(NamedTuple):
    """One ledger event the export holds, as plain values (``to_events`` makes Events of them)."""

    sender: str
    date: str  # ISO 8601, UTC
    kind: str
    label: str | None
    seq: int  # the message it came from
    fingerprint: str  # of that message: copies of one message make the same event (unique_events)


def fingerprint(row: dict) -> str:
    """What makes a message the same message, whatever its Message-ID says: sender, date, subject and
    text. An export concatenated with itself, or a message filed under two labels, is one message."""
    digest = hashlib.blake2b(digest_size=8)
    for part in (row["sender"] or "", row["date"] or "", row["subject"], row["text"]):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def history_values(row: dict) -> tuple:
    """The messages table's columns of one content row, all but seq (see history_row)."""
    h = history_row(0, row)
    return (h["id"], h["sender"], h["date"], "\n".join(h["to"]), h["in_reply_to"], h["label"], h["role"], h["signal"],
            h["fingerprint"])


def history_row(seq: int, row: dict) -> dict:
    """The HISTORY_COLUMNS of one content row; ``seq`` orders the export's messages."""
    # Dates in UTC, so that the text order of ISO dates is time order (SQLite, Parquet, sorting).
    date = datetime.fromisoformat(row["date"]).astimezone(timezone.utc).isoformat() if row["date"] else None
    label = row["classification"]["label"] if row["classification"] else None
    return {"seq": seq, "id": row["id"], "sender": row["sender"], "date": date, "to": list(row["to"]),
            "in_reply_to": row["in_reply_to"], "label": label, "role": row["role"], "signal": row["signal"],
            "fingerprint": fingerprint(row)}


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


def export_events(rows: Iterable[dict], me: Collection[str],
                  parents: Mapping[str, Sequence[tuple[str | None, str | None]]] | None = None,
                  ) -> Iterator[ExportEvent]:
    """The ledger events the export's messages (``history_row`` dicts) hold.

    - an inbound ask is an ``asked`` withdrawal, with its label;
    - an inbound message with no ask is a deposit of the kind its words show (its ``signal``, from
      signals.deposit_kind: an introduction, a referral, a share, help), else ``engaged``;
    - the user writing to someone, or replying to anything but their ask, is ``corresponded``:
      relationship evidence. Answering a pitch is not a relationship, so it earns nothing;
    - the user's answer to an ask, when it plainly says no or yes (its ``signal``, from
      signals.answer_intent), is ``declined`` or ``favour_granted``.
    Spam earns and costs nothing: it says nothing about a relationship. Messages with no date make
    no history. A reply makes one event per recipient, however many messages share the id it answers;
    copies of one message make the same event, which ``unique_events`` counts once.

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
                if recipient in askers:  # an answer to their ask: no relationship, unless it says yes or no
                    if row["signal"] in ANSWERS:
                        yield ExportEvent(recipient, row["date"], ANSWERS[row["signal"]], None, seq, mark)
                    continue
                yield ExportEvent(recipient, row["date"], "corresponded", None, seq, mark)
        elif row["sender"] is not None:
            if row["label"] in ASK_LABELS:
                yield ExportEvent(row["sender"], row["date"], "asked", row["label"], seq, mark)
            elif row["label"] == "no_ask":
                yield ExportEvent(row["sender"], row["date"], row["signal"] or "engaged", None, seq, mark)


def unique_events(exported: Iterable[ExportEvent]) -> Iterator[ExportEvent]:
    """The first of each event that copies of one message made (same sender, date, kind, label and
    message fingerprint): evidence counts once per real event, whatever the Message-IDs say."""
    seen: set[tuple] = set()
    for event in exported:
        key = (event.sender, event.date, event.kind, event.label, event.fingerprint)
        if key not in seen:
            seen.add(key)
            yield event


def to_events(exported: Iterable[ExportEvent]) -> list[Event]:
    """Events of the export's events. A sender no ledger key can name (a bare name in a CSV) has no
    history: its events are left out rather than failing the job."""
    return [event for event in map(_to_event, exported) if event is not None]


def _to_event(e: ExportEvent) -> Event | None:
    try:
        return Event(sender=e.sender, date=datetime.fromisoformat(e.date), kind=e.kind, label=e.label, source="export")
    except ValueError:
        return None


def relate(rows: Iterable[dict], events: Iterable[Event] | Timeline, extra_events: Iterable[Event], policy: Policy,
           ) -> Iterator[Assessment]:
    """Stage 2 for one sender: weigh each of their scored messages (content rows, by date) against the
    events dated strictly before it: ``events`` from the export (a list, or the sender's Timeline),
    ``extra_events`` from --history and the ledger. Pure: reads and writes nothing."""
    if isinstance(events, Timeline) and not extra_events:  # standing() cuts it at each message's date
        for row in rows:
            message = _message_from_spool(row)
            yield assess_classified(message, Classification(**row["classification"]), events, policy)
        return
    by_date = attrgetter("date")  # C-level keys: a busy sender's timeline has thousands of events
    timeline = sorted([*events, *extra_events], key=by_date)
    for row in rows:
        message = _message_from_spool(row)
        when = message.date or datetime.now(timezone.utc)
        past = timeline[:bisect.bisect_left(timeline, when, key=by_date)]
        yield assess_classified(message, Classification(**row["classification"]), past, policy)


def known_events(triage: Triage, sender: str | None, before: datetime | None) -> list[Event]:
    """The --history file's and the ledger's events for ``sender``; none for a sender no key can name."""
    try:
        return triage.events_for(sender, before)
    except ValueError:
        return []


class _ParentsInSqlite:
    """reply_parents, looked up in ExportHistory's table instead of held in memory."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def get(self, message_id: str, default=None):
        return self.db.execute("SELECT DISTINCT sender, label FROM messages WHERE id = ?",
                               (message_id,)).fetchall() or default


class ExportHistory:
    """Who wrote to whom and what, from the export itself, in a temporary SQLite table."""

    def __init__(self, path: Path | str, read_only: bool = False):
        """A new history table at ``path``, or with ``read_only`` one another process built (a pool
        worker's, in stage 2)."""
        self.path = str(path)
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True) if read_only else sqlite3.connect(path)
        self._cache: dict[str, tuple[list[str], list[Event]]] = {}
        self._timelines: dict[str, Timeline] = {}
        self._cached_events = 0
        if read_only:
            return
        self.db.execute("CREATE TABLE messages (seq INTEGER PRIMARY KEY, id TEXT, sender TEXT, date TEXT, "
                        "recipients TEXT, in_reply_to TEXT, label TEXT, role TEXT, signal TEXT, fingerprint TEXT)")
        self.db.execute("CREATE TABLE events (sender TEXT, date TEXT, kind TEXT, label TEXT, seq INTEGER, "
                        "fingerprint TEXT)")

    def add(self, seq: int, row: dict) -> None:
        """One content row (see history_row)."""
        self.add_values([(seq, *history_values(row))])

    def add_values(self, rows: list[tuple]) -> None:
        """Rows of the messages table: (seq, *history_values(row))."""
        self.db.executemany("INSERT INTO messages VALUES (?,?,?,?,?,?,?,?,?,?)", rows)

    def detect_me(self, given: list[str]) -> list[str]:
        """The user's addresses: those given, else the most frequent sender of the Sent folder."""
        sent = self.db.execute("SELECT sender, COUNT(*) FROM messages WHERE role = 'sent' AND sender IS NOT NULL "
                               "GROUP BY sender").fetchall()
        return find_me(given, dict(sent))

    def rows(self) -> Iterator[dict]:
        """The messages as history_row dicts, in export order, streamed from the table."""
        for values in self.db.execute("SELECT seq, id, sender, date, recipients, in_reply_to, label, role, signal, "
                                      "fingerprint FROM messages ORDER BY seq"):
            row = dict(zip(HISTORY_COLUMNS, values))
            row["to"] = row["to"].split("\n") if row["to"] else []
            yield row

    def build_events(self, me: list[str]) -> None:
        """Turn the export into ledger events (see export_events), a batch of rows at a time."""
        self.db.execute("CREATE INDEX messages_by_id ON messages (id)")
        events = export_events(self.rows(), frozenset(me), _ParentsInSqlite(self.db))
        for chunk in _chunks(events, 10_000):
            self.db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?)", chunk)
        self.db.execute("CREATE INDEX events_by_sender ON events (sender, date)")
        self.db.commit()  # visible to the pool's workers from here on

    def repeated(self) -> int:
        """How many messages repeat an earlier one (the same fingerprint)."""
        return self.db.execute("SELECT COUNT(*) - COUNT(DISTINCT fingerprint) FROM messages").fetchone()[0]

    def unique_events(self, sender: str | None = None) -> Iterator[ExportEvent]:
        """The export's events, each once (see unique_events), by date: of ``sender``, or of everyone."""
        query = "SELECT sender, date, kind, label, seq, fingerprint FROM events"
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

    def _sender_events(self, sender: str) -> tuple[list[str], list[Event]]:
        """(UTC ISO dates, Events) of one sender in date order, read once and kept while recently used:
        each of a sender's messages needs the events before it, and reading them per message made
        the stage quadratic in a busy sender's mail. At most EVENTS_CACHED events stay in memory."""
        cached = self._cache.pop(sender, None)
        if cached is None:
            dates, events = [], []
            for exported in self.unique_events(sender):
                event = _to_event(exported)
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


# ---------------------------------------------------------------- the job on one machine


def score(options: ScoreOptions, progress=None) -> Summary:
    """Score every inbound message of ``options.inputs``; write rows; return the summary.

    ``progress(stage, n, total)``, when given, is called as chunks finish: stage "reading" (stage 1;
    ``total`` estimated from the export's size, or None) then "weighing" (stage 2; ``total`` exact).
    """
    for source in options.inputs:  # a missing file or an unknown format: a quick error, before the model loads
        if source != "-":
            input_format(Path(source), options.input_format)
    summary = Summary()
    given_me = frozenset(address.strip().lower() for address in options.me)
    # Without a pool, this process loads the model and scores. A pool's workers, when they can be forked,
    # are forked from this process once it has loaded the model, and while it loads, a child process
    # parses the first messages on another core. Otherwise the workers start afresh and load it each.
    fork = options.jobs > 1 and can_fork()
    # The output first: one that cannot be written is said before any reading. It is written whole or
    # not at all, and the temporary folder (spool, history) goes on every way out, Ctrl-C included.
    with open_writer(options.format, options.output) as writer, tempfile.TemporaryDirectory(prefix="triage-") as tmp, \
            _fewer_collections():
        ahead = (ParseAhead(options.inputs, options.input_format, options.columns, Path(tmp) / "ahead.pickle", CHUNK)
                 if fork and "-" not in options.inputs else None)
        workers = None
        try:
            triage = (Triage.load(options.model, options.policy, options.ledger, options.history)
                      if fork or options.jobs == 1 else None)
            if fork:
                triage.classifier.prepare()  # made once here, not once per worker
            workers = _Workers(options, given_me, triage if fork else None)
            parsed_ahead = ahead.finish() if ahead else []
            history = ExportHistory(Path(tmp) / "history.db")
            try:
                spool = Path(tmp) / "spool.jsonl"
                spooled_rows = _read(options, workers, triage, given_me, history, spool, summary, progress,
                                     parsed_ahead)
                summary.me = history.detect_me(options.me)
                history.build_events(summary.me)
                summary.repeated = history.repeated()
                _weigh(options, workers, triage, history, spool, spooled_rows, summary, progress, writer)
            finally:
                history.db.close()
        finally:
            if ahead is not None:
                ahead.close()
            if workers is not None:
                workers.close()
    return summary


def _read(options: ScoreOptions, workers: _Workers, triage: Triage | None, given_me: frozenset[str],
          history: ExportHistory, spool_path: Path, summary: Summary, progress,
          parsed_ahead: Sequence[ParsedChunk]) -> int:
    """Stage 1: content rows to the spool, history to the table; returns how many rows were spooled.
    ``parsed_ahead``: the export's first records, parsed while the model loaded (see parse_ahead)."""
    records = iter_all_records(options.inputs, options.input_format, options.columns)
    content = partial(_content_here, classifier=triage.classifier if triage else None, me=given_me)
    estimate = _TotalEstimate(options.inputs if progress is not None else [])
    chunks = chain(parsed_ahead, _chunks(records_after(parsed_ahead, records), CHUNK))
    seq = 0
    with open(spool_path, "wb") as spool:
        for n, rows in workers.map(content, _content_chunk, estimate.chunks(chunks)):
            values, lines = [], []
            for row in rows:
                if isinstance(row, Unreadable):
                    summary.unreadable.append((row.origin, row.reason))
                    continue
                values.append((seq, *row[0]))
                lines.append(row[1])
                seq += 1
            spool.writelines(line + b"\n" for line in lines)
            history.add_values(values)
            if progress is not None:
                progress("reading", n, estimate.done(n))
    if progress is not None:
        progress("reading", 0, estimate.read)  # the estimate's end: what there was
    return seq


def _weigh(options: ScoreOptions, workers: _Workers, triage: Triage | None, history: ExportHistory,
           spool_path: Path, spooled_rows: int, summary: Summary, progress, writer) -> None:
    """Stage 2: every spooled row weighed against the finished history; rows written in input order.
    The history no longer changes, so its chunks are independent too."""
    me = frozenset(summary.me)
    relate_here = partial(relate_spooled, history=history, triage=triage, me=me, render=renderer(options.format))
    with open(spool_path, "rb") as spool:
        for _, results in workers.map(relate_here, _relate_chunk, _chunks(spool, CHUNK), history.path, me,
                                      options.format):
            if progress is not None:
                progress("weighing", len(results), spooled_rows)
            for rendered, outcome in results:
                if rendered is None:
                    summary.not_scored[outcome] += 1
                    continue
                writer.write_rendered(rendered)
                _tally(summary, outcome)


class _TotalEstimate:
    """How many messages an export holds, estimated from its size and the bytes of those read so far,
    so that the progress bar can show an ETA. Only for mail files (mbox, Maildir, .eml), whose
    messages are most of their bytes; None for CSV, JSONL and stdin."""

    def __init__(self, inputs: list[str]):
        self.total_bytes = sum(_size(source) for source in inputs) if "-" not in inputs else 0
        self.sizes: deque[int] = deque()
        self.read = self.read_bytes = 0

    def chunks(self, chunks: Iterable[list | ParsedChunk]) -> Iterator[list | ParsedChunk]:
        for chunk in chunks:
            if self.total_bytes:
                self.sizes.append(chunk.raw_bytes if isinstance(chunk, ParsedChunk)
                                  else sum(len(r.raw) for r in chunk if isinstance(r, RawMail)))
            yield chunk

    def done(self, n: int) -> int | None:
        """Count ``n`` more messages read (chunks finish in order); the estimated total, or None."""
        self.read += n
        self.read_bytes += self.sizes.popleft() if self.sizes else 0
        if not self.total_bytes or not self.read_bytes:
            return None
        return max(self.read, round(self.read * self.total_bytes / self.read_bytes))


def _size(source: str) -> int:
    path = Path(source)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _content_here(records: list, classifier: Classifier, me: frozenset[str]) -> list:
    return spooled(content_stage(records, classifier, me))


class Outcome(NamedTuple):
    """What the summary counts of one assessment (the attributes _tally reads)."""

    sender: str | None
    label: str
    action: str
    needs_review: bool
    flags: list[str]


def relate_spooled(lines: list[bytes], history: ExportHistory, triage: Triage, me: frozenset[str], render,
                   ) -> list[tuple[object, object]]:
    """Stage 2 over spooled content rows: (``render(assessment)``, Outcome) per scored message, and
    (None, why) for one not scored by design (the user's own mail, drafts, chats)."""
    results = []
    for line in lines:
        row = orjson.loads(line)
        if row["role"] is not None or row["sender"] in me:
            results.append((None, row["role"] or "your own message"))
            continue
        # One message at a time, with the events before its date: memory stays flat.
        before = datetime.fromisoformat(row["date"]) if row["date"] else None
        extra = known_events(triage, row["sender"], before)
        exported = (history.timeline(row["sender"], triage.policy) if row["sender"] is not None and not extra
                    else history.events(row["sender"], before))
        for a in relate([row], exported, extra, triage.policy):
            results.append((render(a), Outcome(a.sender, a.label, a.action, a.needs_review, a.flags)))
    return results


def _content_row(message: Message, classification: Classification | None, signal: str | None) -> dict:
    return {"id": message.id, "origin": message.origin, "sender": message.sender,
            "sender_name": message.sender_name, "date": message.date.isoformat() if message.date else None,
            "to": message.to, "in_reply_to": message.in_reply_to, "subject": message.subject,
            "text": message.text[:ASK_TEXT_CHARS], "flags": message.flags, "role": message.role, "signal": signal,
            "classification": classification.to_dict() if classification else None}


def _message_from_spool(row: dict) -> Message:
    message = Message(id=row["id"], sender=row["sender"], sender_name=row["sender_name"],
                      date=datetime.fromisoformat(row["date"]) if row["date"] else None, subject=row["subject"],
                      text=row["text"], origin=row["origin"], flags=row["flags"])
    return message


def _tally(summary: Summary, assessment) -> None:
    summary.scored += 1
    summary.by_label_action[assessment.label, assessment.action] += 1
    if assessment.action in ("educate", "decline") or assessment.needs_review:
        summary.waiting[assessment.sender or "(unknown sender)"] += 1
    for flag in assessment.flags:
        summary.flagged[flag.split(":")[0]] += 1


def format_summary(summary: Summary) -> str:
    """The end-of-run report for stderr: label x action counts, who is waiting, what was skipped."""
    actions = ["accept", "educate", "decline", "none"]
    lines = [f"scored {summary.scored} messages" + (f" (you: {', '.join(summary.me)})" if summary.me else ""), "",
             f"{'':16}" + "".join(f"{a:>9}" for a in actions) + f"{'total':>9}"]
    for label in LABELS:
        counts = [summary.by_label_action[label, a] for a in actions]
        lines.append(f"{label:16}" + "".join(f"{c:>9}" for c in counts) + f"{sum(counts):>9}")
    if summary.waiting:
        lines += ["", "waiting for a decision (educate, decline or review):"]
        lines += [f"  {sender}: {n}" for sender, n in summary.waiting.most_common(10)]
        if len(summary.waiting) > 10:
            lines.append(f"  … and {len(summary.waiting) - 10} more senders")
    if summary.not_scored:
        lines += ["", "not scored, by design: " + ", ".join(f"{n} {why}" for why, n in summary.not_scored.items())]
    if summary.flagged:
        lines += ["repaired while parsing: " + ", ".join(f"{n} {why}" for why, n in summary.flagged.most_common())]
    if summary.repeated:
        lines += [f"{summary.repeated} messages repeat an earlier one (same sender, date, subject and text, whatever "
                  "their Message-ID): each was scored, and counted once as history"]
    if summary.unreadable:
        lines += ["", f"skipped {len(summary.unreadable)} unreadable:"]
        lines += [f"  {where}: {why}" for where, why in summary.unreadable[:20]]
    return "\n".join(lines)
