"""The triage screen's logic: plain functions that app.py calls and tests call directly.

- ``score_inbox``: score an export for the screen, through the same stages as the batch job
  (run.stages: content, then each message weighed against the history as of its own date, from
  weigh.history), keeping what the screen needs and a batch row drops: the text, and the export's
  history, so that one message can be weighed again;
- ``current_rows``: the scored rows with a person's corrections applied. A corrected label is weighed
  again at once, and counts in the sender's history too (an ask relabelled as spam costs nothing);
  an action set by hand wins over the policy's;
- ``filter_rows``, ``queue``, ``counts``: what the queue shows;
- ``correct_label``, ``correct_action``, ``record_event``, ``mark_done``, ``undo``: a person's corrections
  (weigh.corrections), each naming the message it is for; each can be undone;
- ``highlight_html``, ``reply_eml``: untrusted text made safe to show, and a reply draft as a file.
"""

from __future__ import annotations

import html
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path
from typing import BinaryIO

from classifier.classify.predict import CUE_WORDS
from classifier.classify.signals import deposit_kind
from classifier.labels import (ACTIONS, DEPOSIT_KINDS, LABELS, TIE_EVIDENCE_KINDS, TIE_LEVELS, WITHDRAWAL_KINDS,
                               waits_for_person)
from classifier.parse.message import Message
from classifier.parse.sources import CsvColumns, Unreadable, iter_records, parsed
from classifier.recommend.replies import MAX_NAME, clean, draft_reply
from classifier.results import Classification
from classifier.run.job import CHUNK
from classifier.run.pool import chunks
from classifier.recommend.decide import reply_for
from classifier.run.stages import assess_message, content_stage, merge_events
from classifier.classify.model import DEFAULT_MODEL, model_dir, read_manifest
from classifier.training import relearn
from classifier.training.relearn import Example
from classifier.triage import Triage
from classifier.weigh import corrections as correction_log
from classifier.weigh.corrections import Corrections, in_force, payload
from classifier.weigh.events import Event
from classifier.weigh.history import ExportHistory, history_row, message_event, to_event
from classifier.weigh.ledger import default_ledger_path, read_events
from classifier.weigh import people as people_store
from classifier.weigh.people import People
from classifier.weigh.standing import standing

TEXT_CHARS = 20_000
"""The screen keeps this much of each message's text: every real ask fits, a huge newsletter is cut."""
SOURCE = "screen"
"""The ``source`` of ledger events recorded on the screen."""
EVENT_CHOICES: dict[str, str] = {
    "helped": "They helped me",
    "met": "We met",
    "shared": "They shared my work",
    "introduced": "They introduced me to someone",
    "referred": "They sent work or readers my way",
    "vouched": "Someone I trust vouched for them",
    "declined": "I said no to them",
}
"""Ledger events a person can add on the screen, with the words the screen shows for them."""


@dataclass
class Inbox:
    """A scored export: rows in input order, and the events the export itself holds, by sender."""

    rows: list[dict]
    export_events: dict[str, list[tuple[int, Event]]]
    """sender -> (seq of the message the event came from, event): asks, deposits, the user's answers."""
    me: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    not_scored: Counter = field(default_factory=Counter)
    people: People = field(default_factory=People)
    """The people the export shows the user writing to (weigh.people)."""

    def __post_init__(self) -> None:
        self.by_sender: dict[str | None, list[dict]] = {}
        for row in self.rows:
            self.by_sender.setdefault(row["sender"], []).append(row)


# ---------------------------------------------------------------- scoring


def score_inbox(source: str | Path, triage: Triage, *, me: Iterable[str] = (), input_format: str | None = None,
                progress: Callable[[int], None] | None = None, columns: CsvColumns | None = None) -> Inbox:
    """Score every inbound message of the export at ``source``, streaming, in this process.

    ``triage`` brings the model, the policy, and the history file and ledger to weigh against;
    ``progress(n)`` is called with the number of records read so far.
    """
    given_me = frozenset(address.strip().lower() for address in me)
    kept: list[tuple[int, Message, Classification]] = []
    unreadable: list[tuple[str, str]] = []
    not_scored: Counter = Counter()
    with tempfile.TemporaryDirectory(prefix="triage-screen-") as tmp:
        history = ExportHistory(Path(tmp) / "history.db")
        try:
            seq = read = 0
            for chunk in chunks(iter_records(source, input_format, columns), CHUNK):
                history_rows = []
                # Parsed here, so that the full text is kept; content_stage passes a Message through.
                for row in content_stage([parsed(record) for record in chunk], triage.classifier, given_me):
                    if isinstance(row, Unreadable):
                        unreadable.append((row.origin, row.reason))
                        continue
                    history_rows.append(history_row(seq, row.message, row.label, row.signal, row.warm, row.kin))
                    if row.message.role is None:
                        row.message.text = row.message.text[:TEXT_CHARS]
                        kept.append((seq, row.message, row.classification))
                    else:
                        not_scored[row.message.role] += 1
                    seq += 1
                history.add(history_rows)
                read += len(chunk)
                if progress is not None:
                    progress(read)
            found_me = history.detect_me(list(given_me))
            history.build_events(found_me)
            export_events = _export_events(history)
            people = history.known_people()
        finally:
            history.close()
    everyone = triage.people.merged(people) if triage.ledger is not None else people
    rows = []
    for seq, message, classification in kept:
        if message.sender in found_me:
            not_scored["your own message"] += 1
            continue
        when = message.date or datetime.now(UTC)
        events = merge_events([e for _, e in export_events.get(message.sender, ()) if e.date < when],
                              triage.events_for(message.sender, when))
        assessment = assess_message(message, classification, events, triage.policy, people=everyone,
                                    replies=triage.replies)
        rows.append(_row(seq, message, assessment.to_dict()))
    return Inbox(rows, export_events, found_me, unreadable, not_scored, people)


def _export_events(history: ExportHistory) -> dict[str, list[tuple[int, Event]]]:
    """sender -> (seq, Event) of the export's events, each once (weigh.history.unique_events)."""
    events: dict[str, list[tuple[int, Event]]] = {}
    for exported in history.unique_events():
        event = to_event(exported)
        if event is not None:
            events.setdefault(exported.sender, []).append((exported.seq, event))
    return events


def _row(seq: int, message: Message, assessment: dict) -> dict:
    return {**assessment, "seq": seq, "sender_name": message.sender_name, "text": message.text, "bulk": message.bulk,
            "text_cut": "body_capped" in message.flags or len(message.text) >= TEXT_CHARS,
            "model_label": assessment["label"], "policy_action": assessment["action"], "label_by": "model",
            "done": False, "needs_decision": _needs_decision(assessment["action"], assessment["needs_review"], False,
                                                             assessment["reply"])}


def _needs_decision(action: str, needs_review: bool, done: bool, reply: str | None) -> bool:
    return not done and waits_for_person(action, needs_review, reply is not None)


# ---------------------------------------------------------------- corrections applied


def export_event(row: dict, label: str) -> Event | None:
    """The event the export's message ``row`` makes in its sender's history when labelled ``label``,
    by the export's own rules (weigh.history.message_event)."""
    if row["date"] is None or row["sender"] is None:
        return None
    date = datetime.fromisoformat(row["date"]).astimezone(UTC).isoformat()
    exported = message_event(row["sender"], date, label, deposit_kind(row["text"]) if label == "no_ask" else None)
    return to_event(exported) if exported is not None else None


def corrections(ledger, message_id: str | None = None) -> list[dict]:
    """The ledger's corrections, oldest first (weigh.corrections.listed)."""
    return correction_log.listed(ledger, message_id)


def active_corrections(listed: Iterable[dict]) -> Corrections:
    """The corrections in force (weigh.corrections.in_force)."""
    return in_force(listed)


def sender_events(inbox: Inbox, triage: Triage, sender: str | None, labels: dict[str, str],
                  before: datetime | None = None) -> list[Event]:
    """Every event of ``sender`` (strictly before ``before`` when given): the export's, with the
    corrected labels in ``labels`` (message id -> label) counted instead of the model's, then the
    history file's and the ledger's."""
    if sender is None:
        return []
    relabelled = {row["seq"]: labels[row["id"]] for row in inbox.by_sender.get(sender, []) if row["id"] in labels}
    events = [e for seq, e in inbox.export_events.get(sender, ()) if seq not in relabelled]
    for row in inbox.by_sender.get(sender, []):
        if row["seq"] in relabelled and (event := export_event(row, relabelled[row["seq"]])) is not None:
            events.append(event)
    if before is not None:
        events = [e for e in events if e.date < before]
    return merge_events(events, triage.events_for(sender, before))


def _message(row: dict) -> Message:
    return Message(id=row["id"], sender=row["sender"], sender_name=row["sender_name"], date=message_time(row),
                   subject=row["subject"], text=row["text"], origin=row["origin"], flags=list(row["flags"]),
                   bulk=list(row.get("bulk", [])))


def message_time(row: dict) -> datetime | None:
    """When the message of ``row`` was sent (timezone-aware), or None when the export does not say."""
    return datetime.fromisoformat(row["date"]) if row["date"] else None


def current_rows(inbox: Inbox, triage: Triage, corrections: Iterable[dict]) -> list[dict]:
    """The inbox's rows as they stand with ``corrections`` (Ledger.corrections()) applied.

    Rows of a sender touched by a correction are weighed again against the ledger as it is now; the
    others keep the assessment made when the inbox was scored.
    """
    state = active_corrections(corrections)
    declared = triage.people
    people = declared.merged(inbox.people)
    touched = {row["sender"] for row in inbox.rows if row["id"] in state.labels or row["id"] in state.actions
               or row["id"] in state.done} | state.event_senders | set(declared.declared)
    by_message: dict[str, list[dict]] = {}
    for c in state.active:
        by_message.setdefault(c["message_id"], []).append(c)
    rows = []
    for row in inbox.rows:
        view = dict(row)
        message_id = row["id"]
        if row["sender"] in touched or message_id in state.labels:
            label = state.labels.get(message_id, row["model_label"])
            when = message_time(row) or datetime.now(UTC)
            events = sender_events(inbox, triage, row["sender"], state.labels, before=when)
            # A label a person chose is certain: no probabilities, so no "check the label" review.
            by_hand = message_id in state.labels
            classification = Classification(label=label, probabilities={} if by_hand else row["probabilities"],
                                            top_features=row["top_features"], model_id=row["model_id"])
            again = assess_message(_message(row), classification, events, triage.policy, people=people,
                                   replies=triage.replies).to_dict()
            view.update({key: again[key] for key in ("label", "action", "reasons", "needs_review", "standing",
                                                     "reply", "tie")})
            view["label_by"] = "you" if by_hand else "model"
            view["policy_action"] = again["action"]
        if message_id in state.actions and state.actions[message_id] != view["action"]:
            chosen = state.actions[message_id]
            # Only the person's choice stands as the reason: the policy's reasons argued for another action,
            # and shown beside it they would contradict it. They stay at hand, as the policy's.
            view["policy_reasons"] = view["reasons"]
            view["reasons"] = [f"You set the action to {chosen}; the policy said {view['action']}."]
            view["action"] = chosen
            view["needs_review"] = False
            view["reply"] = draft_reply(reply_for(chosen, view.get("tie", "stranger")), view["label"],
                                        row["sender_name"] or None, row["subject"],
                                        signature=triage.replies.signature, folder=triage.replies.templates)
        view["done"] = message_id in state.done
        view["needs_decision"] = _needs_decision(view["action"], view["needs_review"], view["done"], view["reply"])
        view["corrections"] = by_message.get(message_id, [])
        rows.append(view)
    return rows


# ---------------------------------------------------------------- the queue


def filter_rows(rows: Iterable[dict], *, labels: Iterable[str] = (), actions: Iterable[str] = (),
                senders: Iterable[str] = (), start: date | None = None, end: date | None = None,
                search: str = "") -> list[dict]:
    """Rows matching every filter given; an empty filter matches all. Dates are inclusive days (UTC);
    a message without a date always passes the date filter. ``search``: every word, anywhere in the
    subject, text, sender or sender's name, ignoring case."""
    labels, actions, senders = set(labels), set(actions), set(senders)
    words = search.lower().split()
    out = []
    for row in rows:
        if (labels and row["label"] not in labels) or (actions and row["action"] not in actions) \
                or (senders and row["sender"] not in senders):
            continue
        when = message_time(row)
        if when is not None:
            day = when.astimezone(UTC).date()
            if (start is not None and day < start) or (end is not None and day > end):
                continue
        if words:
            haystack = " ".join((row["subject"], row["text"], row["sender"] or "", row["sender_name"])).lower()
            if not all(word in haystack for word in words):
                continue
        out.append(row)
    return out


def queue(rows: Iterable[dict]) -> list[dict]:
    """Messages that need a decision (educate, decline, or a label to check) first, then the rest;
    newest first within each, undated last."""
    def key(row: dict) -> tuple:
        when = message_time(row)
        return (not row["needs_decision"], when is None, -(when.timestamp() if when else 0.0), row["seq"])

    return sorted(rows, key=key)


def counts(rows: Iterable[dict]) -> list[dict]:
    """Label x action counts, one dict per label plus a total row, for a table."""
    tally = Counter((row["label"], row["action"]) for row in rows)
    table = [{"label": label, **{action: tally[label, action] for action in ACTIONS},
              "total": sum(tally[label, action] for action in ACTIONS)} for label in LABELS]
    table.append({"label": "total", **{action: sum(r[action] for r in table) for action in ACTIONS},
                  "total": sum(r["total"] for r in table)})
    return table


def date_range(rows: Iterable[dict]) -> tuple[date, date] | None:
    """The first and last day (UTC) of the dated rows, or None when no row has a date."""
    days = [when.astimezone(UTC).date() for row in rows if (when := message_time(row)) is not None]
    return (min(days), max(days)) if days else None


def queue_table(rows: Iterable[dict]) -> list[dict]:
    """The queue as table rows: plain strings, nothing to render."""
    return [{"to do": "●" if row["needs_decision"] else ("✓" if row["done"] else ""),
             "date": message_time(row).strftime("%Y-%m-%d %H:%M") if row["date"] else "",
             "sender": row["sender"] or "(unknown)", "subject": clean(row["subject"], 120),
             "label": row["label"] + (" (you)" if row["label_by"] == "you" else ""),
             "action": row["action"], "check": "label" if row["needs_review"] else ""} for row in rows]


def step(shown: list[dict], seq: int | None, by: int) -> int | None:
    """The seq of the message ``by`` places after (or before) ``seq`` in ``shown``; the first one when
    ``seq`` is not among them; None at either end, or when ``shown`` is empty."""
    order = [row["seq"] for row in shown]
    if not order:
        return None
    if seq not in order:
        return order[0]
    at = order.index(seq) + by
    return order[at] if 0 <= at < len(order) else None


def next_undecided(shown: list[dict], seq: int | None) -> int | None:
    """The next message after ``seq`` in ``shown`` that waits for a decision, going round to the start;
    None when no other one waits."""
    order = [row for row in shown]
    start = next((i for i, row in enumerate(order) if row["seq"] == seq), -1)
    for row in order[start + 1:] + order[:max(start, 0)]:
        if row["needs_decision"] and row["seq"] != seq:
            return row["seq"]
    return None


def decide(ledger, row: dict, action: str) -> list[int]:
    """One click: take ``action`` on ``row``'s message and mark it done; an accept records the favour
    as granted. Records a hand-set action only when it differs from the recommendation. Returns the ids
    of the corrections written, every one naming ``row``'s message."""
    if action not in ("accept", "educate", "decline"):
        raise ValueError(f"unknown decision {action!r}; expected accept, educate or decline")
    written = []
    if action != row["action"]:
        written.append(correct_action(ledger, row, action))
    written.append(mark_done(ledger, row, granted=action == "accept"))
    return written


def describe(row: dict) -> str:
    """One line for a message picker: date, sender, subject (control characters removed)."""
    when = message_time(row)
    return " · ".join([when.strftime("%Y-%m-%d") if when else "no date", clean(row["sender"] or "(unknown)", 60),
                       clean(row["subject"], 80) or "(no subject)", f"{row['label']} → {row['action']}"])


# ---------------------------------------------------------------- writing corrections


def correct_label(ledger, row: dict, label: str) -> int:
    """Set the label of ``row``'s message by hand; returns the correction id."""
    return correction_log.set_label(ledger, row["id"], row["label"], label)


def correct_action(ledger, row: dict, action: str) -> int:
    """Set the action for ``row``'s message by hand; returns the correction id."""
    return correction_log.set_action(ledger, row["id"], row["action"], action)


MAIL_DECIDES = "let the mail decide"
TIE_CHOICES: tuple[str, ...] = (MAIL_DECIDES, *TIE_LEVELS)
"""What "I know this person" offers: the evidence, or a tie you declare."""


def declared_tie(ledger, row: dict) -> str:
    """The tie you declared for the sender of ``row``, or MAIL_DECIDES."""
    declared = people_store.load_people(ledger).declared_tie(ledger.keys(row["sender"])) if row["sender"] else None
    return declared[0] if declared else MAIL_DECIDES


def set_tie(ledger, row: dict, tie: str) -> None:
    """Declare how close the sender of ``row`` is (one of TIE_LEVELS, or MAIL_DECIDES to forget it)."""
    if row["sender"] is None:
        raise ValueError("this message has no sender to say how close they are")
    people_store.set_tie(ledger, row["sender"], None if tie == MAIL_DECIDES else tie, name=row["sender_name"] or "")


def record_event(ledger, row: dict, kind: str, when: date | datetime, note: str = "") -> int | None:
    """Record that something happened with the sender of ``row`` (one of EVENT_CHOICES) on ``when``;
    returns the correction id, or None when the ledger already held that very event."""
    if kind not in EVENT_CHOICES:
        raise ValueError(f"unknown event {kind!r}; expected one of {', '.join(EVENT_CHOICES)}")
    if row["sender"] is None:
        raise ValueError("this message has no sender to record an event for")
    event = Event(sender=row["sender"], date=when, kind=kind, note=note, source=SOURCE)
    return correction_log.record_event(ledger, row["id"], event)


def mark_done(ledger, row: dict, *, granted: bool = False, now: datetime | None = None) -> int:
    """Mark ``row``'s ask as dealt with; ``granted``: you did what they asked, which the ledger records
    as a favour granted (a withdrawal from their standing). Returns the correction id."""
    favour = None
    if granted and row["sender"] is not None:
        favour = Event(sender=row["sender"], date=now or datetime.now(UTC), kind="favour_granted",
                       note=clean(row["subject"], 120), source=SOURCE)
    return correction_log.mark_done(ledger, row["id"], favour)


def undo(ledger, correction: dict) -> bool:
    """Undo a correction, removing the ledger event it recorded; False when it was already undone."""
    return correction_log.undo(ledger, correction)


def describe_correction(correction: dict) -> str:
    """A correction in plain words."""
    kind, details = correction["kind"], payload(correction)
    if kind in ("label", "action"):
        return f"{kind}: {correction['old']} → {correction['new']}"
    if kind == "event":
        what = EVENT_CHOICES.get(details.get("kind", ""), details.get("kind", "an event"))
        note = f" ({clean(details['note'], 80)})" if details.get("note") else ""
        return f"{what}, {str(details.get('date', ''))[:10]}{note}"
    return "marked done" + (", favour granted" if details.get("event") else "")


def corrected_examples(inbox: Inbox, corrections: Iterable[dict]) -> tuple[list[Example], int]:
    """The messages of ``inbox`` whose label a person corrected, as training examples, and how many
    corrected labels are for messages not in this inbox (their text is not at hand)."""
    labels = active_corrections(corrections).labels
    examples, found = [], set()
    for row in inbox.rows:
        if row["id"] in labels and row["id"] not in found:
            examples.append(Example(row["subject"], row["text"], labels[row["id"]]))
            found.add(row["id"])
    return examples, len(set(labels) - found)


# ---------------------------------------------------------------- the sender's standing


def standing_series(events: list[Event], at: datetime, policy) -> tuple[list[dict], list[dict]]:
    """(balance over time, one mark per event) for a chart of a sender's standing up to ``at``.

    Each mark sits on the balance right after its event, typed deposit, withdrawal or signal; the
    evidence of a tie (warm words, replies) moves no balance and gets no mark.
    """
    result = standing(events, at, policy)
    line = [{"date": moment, "balance": round(balance, 3)} for moment, balance in result.history]
    after = dict(result.history)
    marks = [{"date": e.date, "balance": round(after.get(e.date, 0.0), 3), "kind": e.kind,
              "type": "deposit" if e.kind in DEPOSIT_KINDS else "withdrawal" if e.kind in WITHDRAWAL_KINDS
              else "signal", "note": e.note, "source": e.source}
             for e in sorted(events, key=lambda e: e.date) if e.date < result.at and e.kind not in TIE_EVIDENCE_KINDS]
    return line, marks


def events_table(events: Iterable[Event]) -> list[dict]:
    """A sender's events, newest first, as plain table rows."""
    return [{"date": e.date.strftime("%Y-%m-%d"), "what": e.kind + (f" ({e.label})" if e.label else ""),
             "weight": e.weight, "note": e.note, "source": e.source}
            for e in sorted(events, key=lambda e: e.date, reverse=True)]


# ---------------------------------------------------------------- safe display and the reply file


def _words_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    """Whole words (any case) of ``words``; a model's tokens are matched with or without the space
    spaCy puts inside contractions ("i 'd" matches "I'd", "do n't" matches "don't")."""
    alternatives = [r"\s*".join(re.escape(part) for part in word.split())
                    for word in sorted(set(words), key=len, reverse=True) if word.strip()]
    if not alternatives:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


def highlight_words(top_features: Iterable[dict], text: str) -> list[str]:
    """The words (and word pairs) among a label's driving features that ``text`` shows; cues, placeholders,
    punctuation and stop words are left out."""
    from spacy.lang.en.stop_words import STOP_WORDS

    cues = set(CUE_WORDS.values())
    words = []
    for feature in top_features:
        name = str(feature["feature"])
        if name in cues or re.fullmatch(r"_\w+_", name) or len(re.findall(r"\w", name)) < 3:
            continue
        if all(word.lower().replace("’", "'") in STOP_WORDS for word in name.split()):
            continue  # "you", "could you": marking every one of them in a message shows nothing
        pattern = _words_pattern([name])
        if pattern is not None and pattern.search(text):
            words.append(name)
    return words


def highlight_html(text: str, words: Iterable[str]) -> str:
    """``text`` as HTML in which nothing is live: every character of the message is escaped, and only
    the ``<mark>`` tags around the ``words`` (whole words, any case) are markup. Line breaks are kept
    by the style, so no markdown or HTML in the message can become a link, a tag or a script."""
    parts, position = [], 0
    pattern = _words_pattern(words)
    for match in pattern.finditer(text) if pattern is not None else ():
        parts.append(html.escape(text[position:match.start()]))
        parts.append(f"<mark>{html.escape(match.group(0))}</mark>")
        position = match.end()
    parts.append(html.escape(text[position:]))
    return ('<div style="white-space: pre-wrap; overflow-wrap: anywhere; max-height: 32rem; overflow-y: auto; '
            'font-size: 0.95rem; line-height: 1.5">' + "".join(parts) + "</div>")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:$=^])")


def md_escape(text: str | None) -> str:
    """``text`` for a markdown element, shown as written: HTML escaped first (no tag can form), then
    every markdown character backslash-escaped (no link, emphasis, directive or formula can form).
    Control characters and line breaks become spaces: the text is meant for one line."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(clean(text, 100_000), quote=False))


CSV_ROLES = ("text", "sender", "date", "subject")
_COLUMN_NAME = re.compile(r"[\w .()/#-]{1,40}")
"""What the column pickers of a generic CSV ask for; the text is required."""


def csv_header(head: bytes) -> list[str]:
    """The column names of a CSV file whose first bytes are ``head`` (its header row), control characters
    removed; [] when the first line is not a CSV row."""
    import csv

    first = head.decode("utf-8-sig", errors="replace").splitlines()[:1]
    try:
        names = [name.strip() for name in next(csv.reader(first), [])] if first else []
    except csv.Error:
        return []
    # A header names columns: two or more short names. Anything else may be a file that is no export at
    # all (a token, a password line), and its first line must not be shown as a column to choose.
    if not 2 <= len(names) <= 200 or not all(_COLUMN_NAME.fullmatch(name) for name in names):
        return []
    return names


def csv_columns(header: list[str], picked: dict[str, str | None]) -> CsvColumns:
    """The CsvColumns of the pickers' choices (role -> a column of ``header``, or None for "none")."""
    text = picked.get("text")
    if not text or text not in header:
        raise ValueError(f"choose the column that holds the message text; the file's columns are {', '.join(header)}")
    return CsvColumns(text=text, **{role: picked.get(role) for role in CSV_ROLES[1:]}, id=None)


def spool(upload: BinaryIO, name: str, folder: Path) -> Path:
    """Copy an uploaded file to ``folder`` in blocks (never a second copy in memory) under a safe name
    that keeps its extension, from which the format is told; returns the path."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(name).name).lstrip(".") or "upload"
    path = Path(folder) / safe
    upload.seek(0)
    with open(path, "wb") as out:
        shutil.copyfileobj(upload, out, 1 << 20)
    return path


_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_MESSAGE_ID = re.compile(r"<[!-;=?-~]{1,250}>")  # printable ASCII, no spaces, no angle brackets inside


def safe_address(value: str | None) -> str | None:
    """``value`` when it is one plain e-mail address, else None: nothing else may reach a header."""
    return value if value and _ADDRESS.fullmatch(value) else None


def reply_eml(row: dict, body: str, me: str | None = None) -> bytes | None:
    """The reply draft as an .eml file addressed to the sender of ``row``, or None when the sender has
    no e-mail address. Names and the subject are put on one line first, so nothing can add a header."""
    address = safe_address(row["sender"])
    if address is None:
        return None
    reply = EmailMessage()
    if safe_address(me):
        reply["From"] = me
    reply["To"] = formataddr((clean(row.get("sender_name"), MAX_NAME), address))
    subject = clean(row.get("subject"), 200)
    reply["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject or 'your message'}"
    if _MESSAGE_ID.fullmatch(row.get("id") or ""):
        reply["In-Reply-To"] = row["id"]
        reply["References"] = row["id"]
    reply["X-Unsent"] = "1"  # mail programs open the file as a draft to send, not as a received message
    reply.set_content(body)
    return bytes(reply)


# ---------------------------------------------------------------- what app.py needs besides the rows


def ledger_path_default() -> Path:
    """Where the ledger is when the person names none ($TRIAGE_LEDGER, else the per-user default)."""
    return default_ledger_path()


def read_history(path: str | Path) -> list[Event]:
    """The events of a history file (JSONL or CSV); a ValueError names the line, never its text."""
    return read_events(path)


def model_in_use() -> tuple[Path, str]:
    """The folder of the model in use and its artifact's sha256 (a retrained model has another)."""
    folder = model_dir(DEFAULT_MODEL)
    return folder, read_manifest(folder)["sha256"]


CORRECTION_WEIGHT = relearn.CORRECTION_WEIGHT
retrain = relearn.retrain
pending_model = relearn.pending
promote_model = relearn.promote
rollback_model = relearn.rollback


def previous_model_exists() -> bool:
    return relearn.previous_dir().is_dir()

