"""Scoring many messages: the main job.

Two stages, so that every message is judged with the history as of its own date:

1. **content** (stateless, parallel): parse, zone and classify each message as it streams in. Each
   result is spooled to a temporary file, and a small record of who wrote to whom, when, and what
   kind of message it was goes to a temporary SQLite table.
2. **relationship**: with the whole export seen, the user's own addresses are known; the export's
   history becomes ledger events (asks, engagement, the user's replies), and each inbound message
   is weighed against the events dated before it, plus ``--history`` and ``--ledger``.

Memory stays flat however large the export: messages stream, results wait on disk, history waits in
SQLite. Output keeps the input order.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path

from .signals import answer_intent, deposit_kind
from .events import Event
from .labels import ASK_LABELS, LABELS
from .message import Message
from .sources import CsvColumns, Unreadable, iter_messages
from .text import model_input
from .triage import Classification, Classifier, Triage, assess_classified
from .writers import open_writer

CHUNK = 256
"""Messages classified together: large enough to vectorise, small enough to keep memory flat."""
SENT_FOLDERS = {"sent", "sent mail", "sent items", "sent messages", "[gmail]/sent mail", "outbox"}
SKIPPED_FOLDERS = {"drafts": "draft", "draft": "draft", "chat": "chat", "chats": "chat"}
ASK_TEXT_CHARS = 5000


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

    @property
    def exit_code(self) -> int:
        return 3 if self.unreadable else 0


# ---------------------------------------------------------------- stage 1: content


def _folder_role(message: Message) -> str | None:
    """"sent", "draft", "chat" or None, from Gmail labels or the Maildir folder."""
    for folder in (f.strip().lower() for f in message.folders):
        if folder in SKIPPED_FOLDERS:
            return SKIPPED_FOLDERS[folder]
        if folder in SENT_FOLDERS or folder.endswith("/sent") or folder == "sent":
            return "sent"
    return None


_worker_classifier: Classifier | None = None


def _init_worker(model: str | None) -> None:
    global _worker_classifier
    _worker_classifier = Classifier.load(model)  # once per process, hash-checked like any load


def _classify_chunk(inputs: list[str]) -> list[Classification]:
    return _worker_classifier.classify_many(inputs)


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class _Stage1:
    """Classifies messages chunk by chunk, in this process or in a pool, in input order."""

    def __init__(self, classifier: Classifier, model: str | None, jobs: int):
        self.classifier, self.pool, self.jobs = classifier, None, jobs
        if jobs > 1:
            import multiprocessing

            self.pool = multiprocessing.get_context("spawn").Pool(jobs, initializer=_init_worker, initargs=(model,))

    def classify(self, chunks: Iterator[list]) -> Iterator[tuple[list, list[Classification]]]:
        """(chunk, classifications) pairs; items needing no model get None."""
        def inputs(chunk):
            return [model_input(m.subject, m.text) for m in chunk if isinstance(m, Message) and m.role is None]

        if self.pool is None:
            for chunk in chunks:
                yield chunk, self.classifier.classify_many(inputs(chunk))
            return
        # Results are taken in submission order; a bounded look-ahead keeps memory flat.
        pending = []
        for chunk in chunks:
            pending.append((chunk, self.pool.apply_async(_classify_chunk, (inputs(chunk),))))
            if len(pending) >= 4 * self.jobs:
                done_chunk, result = pending.pop(0)
                yield done_chunk, result.get()
        for done_chunk, result in pending:
            yield done_chunk, result.get()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool.join()


class ExportHistory:
    """Who wrote to whom and what, from the export itself, in a temporary SQLite table."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE messages (seq INTEGER PRIMARY KEY, id TEXT, sender TEXT, date TEXT, "
                        "recipients TEXT, in_reply_to TEXT, label TEXT, sent_folder INTEGER, signal TEXT)")
        self.db.execute("CREATE TABLE events (sender TEXT, date TEXT, kind TEXT, label TEXT, seq INTEGER)")

    def add(self, seq: int, message: Message, label: str | None, signal: str | None = None) -> None:
        """``signal``: for the user's reply, its answer (signals.answer_intent); for a sender's message
        with no ask, the deposit it makes (signals.deposit_kind)."""
        self.db.execute("INSERT INTO messages VALUES (?,?,?,?,?,?,?,?,?)", (
            # In UTC, so that SQLite's text order of ISO dates is time order.
            seq, message.id, message.sender, message.date.astimezone(timezone.utc).isoformat() if message.date else None,
            "\n".join(message.to), message.in_reply_to, label, int(message.role == "sent"), signal))

    def detect_me(self, given: list[str]) -> list[str]:
        """The user's addresses: those given, else the most frequent sender of the Sent folder."""
        if given:
            return sorted({g.strip().lower() for g in given})
        row = self.db.execute("SELECT sender, COUNT(*) AS n FROM messages WHERE sent_folder = 1 AND sender IS NOT "
                              "NULL GROUP BY sender ORDER BY n DESC, sender LIMIT 1").fetchone()
        return [row[0]] if row else []

    def build_events(self, me: list[str]) -> None:
        """Turn the export into ledger events.

        - an inbound ask is an ``asked`` withdrawal, with its label;
        - an inbound message with no ask is a deposit of the kind its words show (signals.deposit_kind:
          an introduction, a referral, a share, help), else ``engaged``;
        - the user writing to someone, or replying to anything but their ask, is ``corresponded``:
          relationship evidence. Answering a pitch is not a relationship, so it earns nothing;
        - the user's answer to an ask, when it plainly says no or yes (signals.answer_intent), is
          ``declined`` or ``favour_granted``.
        Spam earns and costs nothing: it says nothing about a relationship.
        """
        # A table, not "NOT IN (?, ?)": with no addresses that would be NOT IN (NULL), which is never true.
        self.db.execute("CREATE TABLE me (address TEXT PRIMARY KEY)")
        self.db.executemany("INSERT OR IGNORE INTO me VALUES (?)", [(m,) for m in me])
        inbound = "date IS NOT NULL AND sender IS NOT NULL AND sent_folder = 0 AND sender NOT IN (SELECT address FROM me)"
        self.db.execute(f"""INSERT INTO events SELECT sender, date, 'asked', label, seq FROM messages
            WHERE {inbound} AND label IN ({",".join("?" * len(ASK_LABELS))})""", ASK_LABELS)
        self.db.execute(f"INSERT INTO events SELECT sender, date, COALESCE(signal, 'engaged'), NULL, seq "
                        f"FROM messages WHERE {inbound} AND label = 'no_ask'")
        own = self.db.execute("""SELECT m.seq, m.date, m.recipients, parent.sender, parent.label, m.signal
            FROM messages m
            LEFT JOIN messages parent ON parent.id = m.in_reply_to AND m.in_reply_to != ''
            WHERE m.date IS NOT NULL AND (m.sent_folder = 1 OR m.sender IN (SELECT address FROM me))""").fetchall()
        rows = []
        answered = {"declined": "declined", "granted": "favour_granted"}
        for seq, date, recipients, parent_sender, parent_label, answer in own:
            for recipient in filter(None, recipients.split("\n")):
                if recipient in me:
                    continue
                if recipient == parent_sender and parent_label in ASK_LABELS:
                    if answer in answered:
                        rows.append((recipient, date, answered[answer], None, seq))
                    continue
                rows.append((recipient, date, "corresponded", None, seq))
        self.db.executemany("INSERT INTO events VALUES (?,?,?,?,?)", rows)
        self.db.execute("CREATE INDEX events_by_sender ON events (sender, date)")

    def events(self, sender: str | None, before: datetime) -> list[Event]:
        if sender is None:
            return []
        rows = self.db.execute("SELECT sender, date, kind, label FROM events WHERE sender = ? AND date < ?",
                               (sender, before.astimezone(timezone.utc).isoformat())).fetchall()
        return [Event(sender=s, date=datetime.fromisoformat(date), kind=kind, label=label, source="export")
                for s, date, kind, label in rows]


# ---------------------------------------------------------------- the job


def _iter_all(inputs: list[str], fmt: str | None, columns: CsvColumns | None) -> Iterator[Message | Unreadable]:
    for source in inputs:
        yield from iter_messages(source, fmt, columns)


def score(options: ScoreOptions, progress=None) -> Summary:
    """Score every inbound message of ``options.inputs``; write rows; return the summary."""
    triage = Triage.load(options.model, options.policy, options.ledger, options.history)
    summary = Summary()
    with tempfile.TemporaryDirectory(prefix="triage-") as tmp:
        history = ExportHistory(Path(tmp) / "history.db")
        spool_path = Path(tmp) / "spool.jsonl"
        stage1 = _Stage1(triage.classifier, options.model, options.jobs)
        given_me = {address.strip().lower() for address in options.me}
        try:
            with open(spool_path, "w", encoding="utf-8") as spool:
                seq = 0
                for chunk, results in stage1.classify(_chunks(_annotated(
                        _iter_all(options.inputs, options.input_format, options.columns)), CHUNK)):
                    results = iter(results)
                    for item in chunk:
                        if isinstance(item, Unreadable):
                            summary.unreadable.append((item.origin, item.reason))
                            continue
                        classification = next(results) if item.role is None else None
                        label = classification.label if classification else None
                        if item.role == "sent" or item.sender in given_me:
                            signal = answer_intent(item.text) if item.in_reply_to else None
                        else:
                            signal = deposit_kind(item.text) if label == "no_ask" else None
                        history.add(seq, item, label, signal)
                        spool.write(json.dumps(_spool_row(seq, item, classification), ensure_ascii=False) + "\n")
                        seq += 1
                    if progress is not None:
                        progress(len(chunk))
        finally:
            stage1.close()
        summary.me = history.detect_me(options.me)
        history.build_events(summary.me)
        me = set(summary.me)
        with open_writer(options.format, options.output) as writer, open(spool_path, encoding="utf-8") as spool:
            for line in spool:
                row = json.loads(line)
                message = _message_from_spool(row)
                if row["role"] is not None or message.sender in me:
                    summary.not_scored[row["role"] or "your own message"] += 1
                    continue
                classification = Classification(**row["classification"])
                when = message.date or datetime.now(timezone.utc)
                events = history.events(message.sender, when) + triage.events_for(message.sender, when)
                assessment = assess_classified(message, classification, events, triage.policy)
                writer.write(assessment)
                _tally(summary, assessment)
    return summary


def _annotated(items: Iterator[Message | Unreadable]) -> Iterator[Message | Unreadable]:
    for item in items:
        if isinstance(item, Message):
            item.role = _folder_role(item)
        yield item


def _spool_row(seq: int, message: Message, classification: Classification | None) -> dict:
    return {"seq": seq, "id": message.id, "origin": message.origin, "sender": message.sender,
            "sender_name": message.sender_name, "date": message.date.isoformat() if message.date else None,
            "subject": message.subject, "text": message.text[:ASK_TEXT_CHARS], "flags": message.flags,
            "role": message.role, "classification": classification.to_dict() if classification else None}


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
    if summary.unreadable:
        lines += ["", f"skipped {len(summary.unreadable)} unreadable:"]
        lines += [f"  {where}: {why}" for where, why in summary.unreadable[:20]]
    return "\n".join(lines)
