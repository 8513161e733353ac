"""Reading an export once for what it says about relationships, outside a scoring job:

- ``learn`` (`triage ledger learn`): record the export's history in the ledger (the user's replies
  and first messages, deposits, asks, yes and no answers, warm words) and the names of the people the
  user writes to, so that the mail filter and the screen weigh with the evidence `triage score` has.
  Idempotent: an event's id is its content, and a second run adds nothing.
- ``answered_asks``: the asks in the export the user answered with a plain yes or no, each with the
  events before it, for fitting a policy to what the user actually did (run.fit).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from classifier.classify.predict import Classifier
from classifier.parse.sources import Unreadable, iter_all_records
from classifier.run.pool import chunks
from classifier.run.job import CHUNK
from classifier.run.stages import content_stage
from classifier.weigh.events import Event
from classifier.weigh.history import ANSWERS, ExportHistory, history_row, to_events
from classifier.weigh.ledger import Ledger
from classifier.weigh.people import set_names


@dataclass
class ReadExport:
    """An export read once: its history (events built), the user's addresses, what could not be read."""

    history: ExportHistory
    me: list[str]
    messages: int
    unreadable: list[tuple[str, str]]


@contextmanager
def read_export(inputs: list[str], classifier: Classifier, me: list[str] = (), input_format: str | None = None,
                progress: Callable[[int], None] | None = None) -> Iterator[ReadExport]:
    """Classify every message of ``inputs`` and build the export's history in a temporary SQLite file,
    removed on leaving the block."""
    given = frozenset(address.strip().lower() for address in me)
    with tempfile.TemporaryDirectory(prefix="triage-learn-") as tmp:
        history = ExportHistory(Path(tmp) / "history.db")
        try:
            unreadable: list[tuple[str, str]] = []
            seq = 0
            for chunk in chunks(iter_all_records(inputs, input_format), CHUNK):
                rows = []
                for row in content_stage(chunk, classifier, given):
                    if isinstance(row, Unreadable):
                        unreadable.append((row.origin, row.reason))
                        continue
                    rows.append(history_row(seq, row.message, row.label, row.signal, row.warm, row.kin))
                    seq += 1
                history.add(rows)
                if progress is not None:
                    progress(len(chunk))
            found = history.detect_me(sorted(given))
            history.build_events(found)
            yield ReadExport(history, found, seq, unreadable)
        finally:
            history.close()


@dataclass
class Learned:
    messages: int
    events: int
    new_events: int
    named: int
    me: list[str]
    unreadable: list[tuple[str, str]]


def learn(inputs: list[str], ledger: Ledger, classifier: Classifier, me: list[str] = (),
          input_format: str | None = None, progress: Callable[[int], None] | None = None) -> Learned:
    """Record the history of the export ``inputs`` in ``ledger`` (see the module's docstring)."""
    with read_export(inputs, classifier, me, input_format, progress) as export:
        events = to_events(export.history.unique_events())
        names = export.history.known_names()
        new = ledger.record_many(events)
        named = set_names(ledger, names)
        return Learned(export.messages, len(events), new, named, export.me, export.unreadable)


@dataclass(frozen=True)
class AnsweredAsk:
    """An ask the user answered with a plain yes (``granted``) or no, and the sender's events before it."""

    sender: str
    date: datetime
    label: str
    granted: bool
    events: list[Event]


def answered_asks(history: ExportHistory) -> list[AnsweredAsk]:
    """Every ask of the export the user's reply answered with a plain yes or no (classify.signals
    .answer_intent), oldest first, with the asker's export events before the ask."""
    answers = history.db.execute(
        "SELECT parent.sender, parent.date, parent.label, reply.signal FROM messages reply "
        "JOIN messages parent ON parent.id = reply.in_reply_to "
        "WHERE reply.signal IN (?, ?) AND parent.label IN ('cold_pitch', 'charity_ask', 'friend_favour') "
        "AND parent.date IS NOT NULL AND parent.sender IS NOT NULL AND reply.date > parent.date "
        "GROUP BY parent.seq ORDER BY parent.date", tuple(ANSWERS)).fetchall()
    found = []
    for sender, date, label, signal in answers:
        when = datetime.fromisoformat(date)
        found.append(AnsweredAsk(sender, when, label, signal == "granted", history.events(sender, when)))
    return found
