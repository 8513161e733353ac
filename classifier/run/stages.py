"""The two stages of scoring, as plain functions every engine calls: the batch job on one machine
(run.batch), the Dask engine (run.distributed), the triage screen (frontends.screen) and, for one
message, the Triage facade.

1. **content** (``content_stage``), stateless per message: parse, tell the folder's role, classify,
   read the signal of the words. Its result for one message is a ContentRow.
2. **relate** (``relate``, ``assess_message``): with the export's history known, weigh each message
   of a sender against the events dated before it, and recommend.

A ContentRow crosses a process boundary as one line of JSON: ``to_spool`` writes it and
``from_spool`` reads it, nothing else.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from operator import attrgetter
from pathlib import Path

import orjson

from classifier.classify.signals import answer_intent, closeness, deposit_kind, is_bump, mass_mail_cues
from classifier.classify.text import model_input
from classifier.labels import ASK_LABELS
from classifier.parse.message import Message
from classifier.parse.sources import Record, Unreadable, parsed
from classifier.policy import Policy
from classifier.recommend.decide import Delivery, recommend
from classifier.recommend.replies import draft_reply
from classifier.results import Assessment, Classification, standing_summary
from classifier.weigh.events import Event
from classifier.weigh.people import People
from classifier.weigh.standing import Timeline, standing
from classifier.weigh.tie import TieEvidence

SENT_FOLDERS = {"sent", "sent mail", "sent items", "sent messages", "[gmail]/sent mail", "outbox"}
SKIPPED_FOLDERS = {"drafts": "draft", "draft": "draft", "chat": "chat", "chats": "chat"}
ASK_TEXT_CHARS = 5000
"""Characters of a message's text the relate stage reads: every real ask fits."""


@dataclass
class ContentRow:
    """What stage 1 hands on for one message: the message (its ``role`` told), what the model says of
    it (None for the user's own mail, drafts and chats, which are not classified) and the signal of its
    words (an answer to an ask, or the kind of a deposit; see classify.signals)."""

    message: Message
    classification: Classification | None
    signal: str | None
    warm: bool = False
    """Whether its words are warm (classify.signals.warmth): evidence of a close tie."""
    kin: bool = False
    """Whether its words speak as family (classify.signals.kinship)."""

    @property
    def label(self) -> str | None:
        return self.classification.label if self.classification else None


def folder_role(message: Message) -> str | None:
    """"sent", "draft", "chat" or None, from Gmail labels or the Maildir folder."""
    for folder in (f.strip().lower() for f in message.folders):
        if folder in SKIPPED_FOLDERS:
            return SKIPPED_FOLDERS[folder]
        if folder in SENT_FOLDERS or folder.endswith("/sent") or folder == "sent":
            return "sent"
    return None


def content_stage(records: list[Record], classifier, me: frozenset[str] = frozenset()) -> list[ContentRow | Unreadable]:
    """Stage 1: a ContentRow per readable record, in order; Unreadable passed through.
    ``classifier``: a classify.predict.Classifier; ``me``: the addresses given with --me, whose replies
    are read for their answer to an ask."""
    messages = [parsed(record) for record in records]
    for message in messages:
        if isinstance(message, Message):
            message.role = folder_role(message)
    to_classify = [m for m in messages if isinstance(m, Message) and m.role is None]
    results = iter(classifier.classify_many([model_input(m.subject, m.text) for m in to_classify]))
    rows: list[ContentRow | Unreadable] = []
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
        warm, kin = closeness(message.text) if message.role in (None, "sent") and label != "spam" else (False, False)
        rows.append(ContentRow(message, classification, signal, warm, kin))
    return rows


@dataclass(frozen=True)
class ReplySettings:
    """How reply drafts are written: the user's sign-off and their own templates folder (or None)."""

    signature: str = ""
    templates: Path | None = None


def to_spool(row: ContentRow) -> bytes:
    """A ContentRow as one line of JSON (no newline), its text cut to ASK_TEXT_CHARS: the form it takes
    between processes (a spool file, a Parquet column). orjson: the spool is written and read once per
    message, and the stdlib's encoder and decoder took about 4% of a batch's CPU time."""
    m = row.message
    return orjson.dumps({
        "id": m.id, "origin": m.origin, "sender": m.sender, "sender_name": m.sender_name,
        "date": m.date.isoformat() if m.date else None, "to": m.to, "in_reply_to": m.in_reply_to,
        "subject": m.subject, "text": m.text[:ASK_TEXT_CHARS], "flags": m.flags, "role": m.role, "bulk": m.bulk,
        "signal": row.signal, "warm": row.warm, "kin": row.kin,
        "classification": row.classification.to_dict() if row.classification else None})


def from_spool(line: bytes | str) -> ContentRow:
    """The ContentRow that ``to_spool`` wrote."""
    r = orjson.loads(line)
    message = Message(id=r["id"], sender=r["sender"], sender_name=r["sender_name"],
                      date=datetime.fromisoformat(r["date"]) if r["date"] else None, subject=r["subject"],
                      text=r["text"], origin=r["origin"], flags=r["flags"], to=r["to"], in_reply_to=r["in_reply_to"],
                      role=r["role"], bulk=r["bulk"])
    classification = Classification(**r["classification"]) if r["classification"] else None
    return ContentRow(message, classification, r["signal"], r["warm"], r["kin"])


def delivery(message: Message, label: str, people: People) -> Delivery:
    """How ``message`` reached the user: mass-sent (its headers, its words), a chaser, or someone the
    user knows impersonated. Read only for asks and list mail: the rest needs none of it."""
    if label not in ASK_LABELS and not (label == "no_ask" and message.bulk):
        return Delivery(impersonates=people.impersonates(message.sender, message.sender_name, message.text)
                        if label == "spam" and people.names else "")
    text = message.text[:ASK_TEXT_CHARS]
    return Delivery(mass=(*message.bulk, *mass_mail_cues(message.subject, text)), bump=is_bump(text),
                    impersonates=people.impersonates(message.sender, message.sender_name, text) if people.names else "")


def assess_message(message: Message, classification: Classification, events: Iterable[Event] | Timeline,
                   policy: Policy, at: datetime | None = None, *, ties: TieEvidence | None = None,
                   people: People | None = None, replies: ReplySettings | None = None) -> Assessment:
    """Stage 2 for one message: weigh it against its sender's events (those before its date count),
    tell how close the tie is and how the message was sent, and recommend, with a reply draft. Pure:
    reads and writes nothing. ``ties``: the sender's tie evidence when the caller keeps it (a batch,
    per sender); ``people``: declared ties (for every key of an alias group: weigh.people.load_people)
    and known names."""
    when = at or message.date or datetime.now(timezone.utc)
    people = people if people is not None else People()
    if not isinstance(events, Timeline):
        events = list(events)
    weighed = standing(events, when, policy, with_history=False)
    known = weighed if weighed.first_seen is not None else None
    if ties is None:
        ties = events.ties if isinstance(events, Timeline) else TieEvidence(events)
    declared = people.declared_tie([message.sender])
    tie = ties.tie(when, policy, *(declared or ()))
    label = classification.label
    recommendation = recommend(label, classification.probabilities, known, policy,
                               ask_text=f"{message.subject}\n{message.text[:ASK_TEXT_CHARS]}", tie=tie,
                               delivery=delivery(message, label, people))
    settings = replies or ReplySettings()
    reply = draft_reply(recommendation.reply, label, message.sender_name or None, message.subject,
                        signature=settings.signature, folder=settings.templates)
    return Assessment(
        id=message.id, sender=message.sender, date=message.date.isoformat() if message.date else None,
        subject=message.subject, label=label, probabilities=classification.probabilities,
        action=recommendation.action, reasons=recommendation.reasons, needs_review=recommendation.needs_review,
        standing=standing_summary(weighed), reply=reply, top_features=classification.top_features,
        model_id=classification.model_id, origin=message.origin, flags=list(message.flags), tie=tie.level)


def merge_events(exported: Iterable[Event], extra: Iterable[Event]) -> list[Event]:
    """The export's events and the ledger's (or a history file's) in date order, an event both hold
    once: the ledger may hold what `triage ledger learn` read from this very export."""
    exported, extra = list(exported), list(extra)
    # Only a learned event (source "export", as the export's own) can be one of the export's: the ids,
    # a hash each, are worked out only then.
    if any(event.source == "export" for event in extra):
        seen = {event.id for event in exported}
        extra = [event for event in extra if event.source != "export" or event.id not in seen]
    return sorted([*exported, *extra], key=attrgetter("date"))


def relate(rows: Iterable[ContentRow], events: Iterable[Event] | Timeline, extra_events: Iterable[Event],
           policy: Policy, *, people: People | None = None, replies: ReplySettings | None = None) -> Iterator[Assessment]:
    """Stage 2 for one sender: weigh each of their classified messages (by date) against the events
    dated strictly before it: ``events`` from the export (a list, or the sender's Timeline),
    ``extra_events`` from the history file and the ledger (an event both hold counts once). Pure:
    reads and writes nothing."""
    if isinstance(events, Timeline) and not extra_events:  # standing() cuts it at each message's date
        ties = events.ties
        for row in rows:
            yield assess_message(row.message, row.classification, events, policy, ties=ties, people=people,
                                 replies=replies)
        return
    by_date = attrgetter("date")  # C-level keys: a busy sender's timeline has thousands of events
    timeline = merge_events(events.events if isinstance(events, Timeline) else events, extra_events)
    ties = TieEvidence(timeline)
    for row in rows:
        when = row.message.date or datetime.now(timezone.utc)
        past = timeline[:bisect.bisect_left(timeline, when, key=by_date)]
        yield assess_message(row.message, row.classification, past, policy, ties=ties, people=people,
                             replies=replies)
