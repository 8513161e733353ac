"""A person's corrections: a label or an action set by hand, a message marked done, an event recorded
on the screen. Each is a row of the ledger's corrections table, so that it can be undone (and an
event it recorded removed with it), and ``in_force`` folds them into what holds now.

Every function names the message it acts on by its id: nothing here can record against a message
other than the one given.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from classifier.labels import ACTIONS, LABELS, check_action, check_label
from classifier.weigh.events import Event, stored_date
from classifier.weigh.ledger import Ledger

COLUMNS = ("id", "message_id", "kind", "old", "new", "created", "undone")


def add(ledger: Ledger, message_id: str, kind: str, old: str | None, new: str | None) -> int:
    """Remember that a person changed ``kind`` (e.g. 'label') of a message from ``old`` to ``new``;
    returns the correction's id."""
    with ledger.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO corrections (message_id, kind, old, new, created) VALUES (?, ?, ?, ?, ?)",
            (message_id, kind, old, new, stored_date(datetime.now(UTC))))
        return int(cursor.lastrowid or 0)


def listed(ledger: Ledger, message_id: str | None = None) -> list[dict]:
    """Corrections, oldest first, including undone ones (``undone`` is 0 or 1)."""
    query = f"SELECT {', '.join(COLUMNS)} FROM corrections"
    params: tuple[str, ...] = ()
    if message_id is not None:
        query, params = query + " WHERE message_id = ?", (message_id,)
    return [dict(zip(COLUMNS, row)) for row in ledger.query(query + " ORDER BY id", params)]


def undo(ledger: Ledger, correction: dict) -> bool:
    """Undo a correction (kept, marked undone), removing the ledger event it recorded; False when it
    was already undone."""
    with ledger.transaction() as conn:
        cursor = conn.execute("UPDATE corrections SET undone = 1 WHERE id = ? AND undone = 0", (correction["id"],))
        if cursor.rowcount != 1:
            return False
        event_id = payload(correction).get("event")
        if event_id:
            conn.execute("DELETE FROM events WHERE id = ?", (event_id,))
    return True


def payload(correction: dict) -> dict:
    """The JSON object an event or done correction carries in ``new`` ({} for label and action)."""
    if correction["kind"] not in ("event", "done") or not correction.get("new"):
        return {}
    try:
        value = json.loads(correction["new"])
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass
class Corrections:
    """The corrections in force (not undone): the latest label and action per message, and more."""

    labels: dict[str, str] = field(default_factory=dict)
    actions: dict[str, str] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    event_senders: set[str] = field(default_factory=set)
    active: list[dict] = field(default_factory=list)


def in_force(corrections: Iterable[dict]) -> Corrections:
    """Fold corrections (``listed``, oldest first) into what is in force now."""
    state = Corrections()
    for c in sorted(corrections, key=lambda c: c["id"]):
        if c["undone"]:
            continue
        kind, message_id, new = c["kind"], c["message_id"], c["new"]
        if kind == "label" and new in LABELS:
            state.labels[message_id] = new
        elif kind == "action" and new in ACTIONS:
            state.actions[message_id] = new
        elif kind == "done":
            state.done.add(message_id)
        elif kind != "event":
            continue  # a kind this version does not know: leave it alone
        if payload(c).get("sender"):
            state.event_senders.add(payload(c)["sender"])
        state.active.append(c)
    return state


def set_label(ledger: Ledger, message_id: str, old: str, label: str) -> int:
    """The label of message ``message_id``, set by hand; returns the correction id."""
    return add(ledger, message_id, "label", old, check_label(label))


def set_action(ledger: Ledger, message_id: str, old: str, action: str) -> int:
    """The action for message ``message_id``, set by hand; returns the correction id."""
    return add(ledger, message_id, "action", old, check_action(action))


def record_event(ledger: Ledger, message_id: str, event: Event) -> int | None:
    """Record ``event`` (something that happened with the sender of message ``message_id``), with a
    correction that can undo it; None when the ledger already held that very event."""
    if not ledger.record(event):
        return None
    return add(ledger, message_id, "event", None, json.dumps({"event": event.id, **event.as_row()}))


def mark_done(ledger: Ledger, message_id: str, favour: Event | None = None) -> int:
    """Mark message ``message_id``'s ask as dealt with; ``favour``: the favour granted that doing it
    was (a withdrawal from the sender's standing), recorded with it. Returns the correction id."""
    details: dict = {}
    if favour is not None and ledger.record(favour):
        details = {"event": favour.id, **favour.as_row()}
    return add(ledger, message_id, "done", None, json.dumps(details))

