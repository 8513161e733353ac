"""The Triage facade: the one composition of the stages for one message, for the Python API and
the mail filter.

    triage = Triage.load(ledger=...)
    assessment = triage.assess(raw_bytes)   # parse -> classify -> weigh -> recommend

Scoring never writes to the ledger; recording an ask or a deposit is an explicit Ledger call.
"""

from __future__ import annotations

import threading
from datetime import datetime
from email.message import Message as StdlibMessage
from pathlib import Path

from classifier.classify.predict import Classifier
from classifier.classify.text import model_input
from classifier.parse.message import Message, from_email_message, parse_bytes
from classifier.policy import Policy, load_policy
from classifier.results import Assessment
from classifier.recommend.replies import user_templates_dir
from classifier.run.stages import ReplySettings, assess_message
from classifier.weigh.events import Event
from classifier.weigh.ledger import Ledger, read_events
from classifier.weigh.people import People, load_people


class Triage:
    """Model, ledger and policy together: ``Triage.load().assess(raw_mail)``.

    Safe to share between threads: the model is read-only and each thread opens its own ledger
    connection.
    """

    def __init__(self, classifier: Classifier, policy: Policy, ledger: str | Path | None = None,
                 history: list[Event] | None = None, replies: ReplySettings | None = None):
        self.classifier = classifier
        self.policy = policy
        self.ledger_path = ledger
        self.replies = replies or ReplySettings()
        self._local = threading.local()  # one SQLite connection per thread: connections are not shared
        self._history: dict[str, list[Event]] = {}
        for event in history or []:
            self._history.setdefault(event.sender, []).append(event)

    @classmethod
    def load(cls, model: str | Path | None = None, policy: str | Path | None = None,
             ledger: str | Path | None = None, history: str | Path | None = None, *, signature: str = "",
             templates: str | Path | None = None) -> Triage:
        """Load the model (hash-checked), the policy (defaults, or a TOML file) and optionally a ledger
        database, a history file of events, the user's sign-off and their own reply templates folder
        (else $OUTREACH_TEMPLATES)."""
        return cls(Classifier.load(model), load_policy(policy), ledger,
                   read_events(history) if history is not None else None,
                   ReplySettings(signature, user_templates_dir(templates)))

    @property
    def ledger(self) -> Ledger | None:
        """This thread's connection to the ledger database, or None when there is no ledger."""
        if self.ledger_path is None:
            return None
        if getattr(self._local, "ledger", None) is None:
            self._local.ledger = Ledger(self.ledger_path)
        return self._local.ledger

    def forget_connections(self) -> None:
        """Drop this process's ledger connections, unused: a forked child calls it, since an SQLite
        connection must not be used on both sides of a fork. The next use opens a new one."""
        self._local = threading.local()

    @property
    def people(self) -> People:
        """Who the user knows, from the ledger (declared ties, names): read again on each call, so that a
        long-running filter sees a tie declared since it started."""
        ledger = self.ledger
        return load_people(ledger) if ledger is not None else People()

    def events_for(self, sender: str | None, before: datetime | None = None) -> list[Event]:
        """The sender's known events: from the ledger (all aliases) and from the history file. A
        sender no ledger key can name ("a@example.com--") has none."""
        if sender is None:
            return []
        events = list(self._history.get(sender, []))
        if self.ledger is not None:
            try:
                events += self.ledger.events(sender, before=before)
            except ValueError:
                pass
        return events

    def assess(self, message, at: datetime | None = None) -> Assessment:
        """Assess one message: bytes, ``email.message.EmailMessage``, the project's Message, or text."""
        message = as_message(message)
        [classification] = self.classifier.classify_many([model_input(message.subject, message.text)])
        return assess_message(message, classification, self.events_for(message.sender, at or message.date),
                              self.policy, at, people=self.people, replies=self.replies)


def as_message(value) -> Message:
    """Coerce what a caller has into a Message."""
    if isinstance(value, Message):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return parse_bytes(bytes(value), origin="bytes")
    if isinstance(value, StdlibMessage):
        return from_email_message(value, origin="email.message")
    if isinstance(value, str):
        return Message(id="text", text=value, origin="text")
    raise TypeError(f"cannot assess a {type(value).__name__}; expected bytes, EmailMessage, Message or str")
