"""The facade: model, ledger and policy together, and what one assessment holds.

The model itself (scikit-learn, NumPy) is in ``classifier.predict`` and is imported when a Triage is
loaded, so that a batch's main process, which only schedules and writes, never pays for it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .text import model_input

if TYPE_CHECKING:
    from .predict import Classifier


@dataclass(frozen=True)
class Classification:
    """What the model says about one message."""

    label: str
    probabilities: dict[str, float]
    top_features: list[dict] = field(default_factory=list)
    model_id: str = ""

    def to_dict(self) -> dict:
        # By hand: dataclasses.asdict deep-copies every value, a tenth of a batch's time.
        return {"label": self.label, "probabilities": dict(self.probabilities),
                "top_features": [dict(f) for f in self.top_features], "model_id": self.model_id}


# ---------------------------------------------------------------- the facade: model + ledger + policy


@dataclass(frozen=True)
class Assessment:
    """Everything outreach-triage says about one message."""

    id: str
    sender: str | None
    date: str | None  # ISO 8601
    subject: str
    label: str
    probabilities: dict[str, float]
    action: str
    reasons: list[str]
    needs_review: bool
    standing: dict
    reply: str | None
    top_features: list[dict]
    model_id: str
    origin: str = ""
    flags: list[str] = field(default_factory=list)

    @property
    def explanation(self) -> str:
        """One paragraph: the label, what drove it, and the reasons for the action."""
        words = ", ".join(f["feature"] for f in self.top_features[:5])
        driven = f" (driven by: {words})" if words else ""
        return (f"Labelled {self.label.replace('_', ' ')} with probability {self.probabilities[self.label]:.2f}"
                f"{driven}. Recommended: {self.action}. " + " ".join(self.reasons))

    def to_dict(self) -> dict:
        """The fields as plain JSON values (copies: changing the dict leaves the assessment alone)."""
        return {"id": self.id, "sender": self.sender, "date": self.date, "subject": self.subject, "label": self.label,
                "probabilities": dict(self.probabilities), "action": self.action, "reasons": list(self.reasons),
                "needs_review": self.needs_review, "standing": dict(self.standing), "reply": self.reply,
                "top_features": [dict(f) for f in self.top_features], "model_id": self.model_id,
                "origin": self.origin, "flags": list(self.flags)}


def standing_summary(standing) -> dict:
    """The parts of a Standing an output row carries."""
    return {"balance": round(standing.balance, 3), "deposits": round(standing.deposits, 3),
            "withdrawals": round(standing.withdrawals, 3), "asks": standing.asks,
            "declined": standing.declined_count, "summary": standing.summary()}


def assess_classified(message, classification: Classification, events, policy, at=None) -> Assessment:
    """Weigh one classified message against its sender's events and the policy (pure: writes nothing)."""
    from datetime import datetime, timezone

    from .policy import recommend
    from .replies import draft_reply
    from .standing import standing as compute_standing

    when = at or message.date or datetime.now(timezone.utc)
    standing = compute_standing(events, when, policy, with_history=False)
    known = standing if standing.first_seen is not None else None
    recommendation = recommend(classification.label, classification.probabilities, known, policy,
                               ask_text=f"{message.subject}\n{message.text[:5000]}")
    reply = draft_reply(recommendation.action, classification.label, message.sender_name or None, message.subject)
    return Assessment(
        id=message.id, sender=message.sender, date=message.date.isoformat() if message.date else None,
        subject=message.subject, label=classification.label, probabilities=classification.probabilities,
        action=recommendation.action, reasons=recommendation.reasons, needs_review=recommendation.needs_review,
        standing=standing_summary(standing), reply=reply, top_features=classification.top_features,
        model_id=classification.model_id, origin=message.origin, flags=list(message.flags))


class Triage:
    """Model, ledger and policy together: ``Triage.load().assess(raw_mail)``.

    Scoring never writes to the ledger; recording an ask or a deposit is an explicit Ledger call.
    Safe to share between threads: the model is read-only and each call opens no shared state.
    """

    def __init__(self, classifier: Classifier, policy, ledger: str | Path | None = None,
                 history: list | None = None):
        self.classifier = classifier
        self.policy = policy
        self.ledger_path = ledger
        self._local = threading.local()  # one SQLite connection per thread: connections are not shared
        self._history: dict[str, list] = {}
        for event in history or []:
            self._history.setdefault(event.sender, []).append(event)

    @classmethod
    def load(cls, model: str | Path | None = None, policy: str | Path | None = None,
             ledger: str | Path | None = None, history: str | Path | None = None) -> "Triage":
        """Load the model (hash-checked), the policy (defaults, or a TOML file) and optionally a ledger
        database and a history file of events."""
        from .ledger import read_events
        from .policy import load_policy
        from .predict import Classifier

        return cls(Classifier.load(model), load_policy(policy), ledger,
                   read_events(history) if history is not None else None)

    @property
    def ledger(self):
        """This thread's connection to the ledger database, or None when there is no ledger."""
        from .ledger import Ledger

        if self.ledger_path is None:
            return None
        if getattr(self._local, "ledger", None) is None:
            self._local.ledger = Ledger(self.ledger_path)
        return self._local.ledger

    def forget_connections(self) -> None:
        """Drop this process's ledger connections, unused: a forked child calls it, since an SQLite
        connection must not be used on both sides of a fork. The next use opens a new one."""
        self._local = threading.local()

    def events_for(self, sender: str | None, before=None) -> list:
        """The sender's known events: from the ledger (all aliases) and from the history file."""
        if sender is None:
            return []
        events = list(self._history.get(sender, []))
        if self.ledger is not None:
            try:
                events += self.ledger.events(sender, before=before)
            except ValueError:  # an address no ledger key can name ("a@example.com--") has no ledger history
                pass
        return events

    def assess(self, message, at=None) -> Assessment:
        """Assess one message: bytes, ``email.message.EmailMessage``, the project's Message, or text."""
        message = as_message(message)
        [classification] = self.classifier.classify_many([model_input(message.subject, message.text)])
        when = at or message.date
        return assess_classified(message, classification, self.events_for(message.sender, when), self.policy, at)


def as_message(value):
    """Coerce what a caller has into a Message."""
    from email.message import Message as StdlibMessage

    from .message import Message, from_email_message, parse_bytes

    if isinstance(value, Message):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return parse_bytes(bytes(value), origin="bytes")
    if isinstance(value, StdlibMessage):
        return from_email_message(value, origin="email.message")
    if isinstance(value, str):
        return Message(id="text", text=value, origin="text")
    raise TypeError(f"cannot assess a {type(value).__name__}; expected bytes, EmailMessage, Message or str")
