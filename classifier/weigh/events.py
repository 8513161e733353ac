"""Ledger events: what a sender gave, took or was vouched for, and how a sender is named.

Kept apart from the SQLite store so that ``standing`` (pure) and the store share one definition. The
kinds of event are spelled in ``classifier.labels``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parseaddr

from classifier.labels import KINDS, LABELS

FIELDS: tuple[str, ...] = ("sender", "date", "kind", "weight", "note", "source", "label")
"""The columns of a ledger file (JSONL or CSV), in this order."""
REQUIRED_FIELDS: tuple[str, ...] = ("sender", "date", "kind")

SENDER_FORMS = (
    "an e-mail address (name@example.org or 'Name <name@example.org>'), twitter:@name, x:@name, "
    "instagram:@name, linkedin:name, or a twitter.com/NAME, x.com/NAME, instagram.com/NAME or "
    "linkedin.com/in/NAME profile URL"
)

_TWITTER_HANDLE = r"[A-Za-z0-9_]{1,15}"
_INSTAGRAM_HANDLE = r"[A-Za-z0-9_.]{1,30}"
_LINKEDIN_NAME = r"[A-Za-z0-9_-]{2,100}"
_URL_PREFIX = r"(?:https?://)?(?:[a-z]{2,3}\.|www\.|mobile\.)?"
_HANDLE_FORMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"(?:twitter|x):@?({_TWITTER_HANDLE})", re.I), "twitter:@{}"),
    (re.compile(rf"instagram:@?({_INSTAGRAM_HANDLE})", re.I), "instagram:@{}"),
    (re.compile(rf"linkedin:({_LINKEDIN_NAME})", re.I), "linkedin:{}"),
    (re.compile(rf"{_URL_PREFIX}(?:twitter|x)\.com/@?({_TWITTER_HANDLE})/?(?:[?#].*)?", re.I), "twitter:@{}"),
    (re.compile(rf"{_URL_PREFIX}instagram\.com/@?({_INSTAGRAM_HANDLE})/?(?:[?#].*)?", re.I), "instagram:@{}"),
    (re.compile(rf"{_URL_PREFIX}linkedin\.com/in/({_LINKEDIN_NAME})/?(?:[?#].*)?", re.I), "linkedin:{}"),
)
_ADDR_SPEC = re.compile(r"[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""Event dates are refused outside these: no relationship is older or that far ahead, and within them
every date moves to UTC, and a standing's month by month chart steps on, without overflowing."""
MAX_WEIGHT = 100.0
"""The most one event can count, as many times an ordinary one (weight 1). Bounded, so that no event
can swamp a sender's whole history or overflow a standing."""


@functools.lru_cache(maxsize=65_536)  # a batch builds thousands of events per sender: parse each form once
def normalise_sender(sender: str | None) -> str | None:
    """The ledger key for ``sender``: lower-case e-mail address, ``twitter:@name``, ``linkedin:name``
    or ``instagram:@name``; None when there is no sender at all.

    One person has to land on one key however their address was written, or their history splits.
    """
    if sender is None or not sender.strip():
        return None
    text = sender.strip()
    for pattern, form in _HANDLE_FORMS:
        match = pattern.fullmatch(text)
        if match:
            return form.format(match.group(1).lower())
    address = parseaddr(text[len("mailto:"):] if text.lower().startswith("mailto:") else text)[1]
    if _ADDR_SPEC.fullmatch(address):
        return address.lower()
    raise ValueError(f"unrecognised sender {sender!r}; expected {SENDER_FORMS}")


def parse_date(value: str | date | datetime) -> datetime:
    """A timezone-aware UTC datetime from an ISO 8601 string, a date or an aware datetime.

    A date alone means midnight UTC. A clock time without a zone is refused rather than guessed,
    because a guessed zone can move an event across an ask and change a decision.
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            if _DATE_ONLY.fullmatch(text):
                value = date.fromisoformat(text)
            else:
                value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"bad date {value!r}; expected ISO 8601 such as 2024-03-01 "
                             "or 2024-03-01T09:30:00+00:00") from None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"date {value.isoformat()!r} has no timezone; add one (e.g. "
                             f"{value.isoformat()}+00:00 or Z) or give a date alone for midnight UTC")
        try:
            moment = value.astimezone(UTC)
        except OverflowError:
            moment = None
    elif isinstance(value, date):
        moment = datetime.combine(value, time(0, 0), tzinfo=UTC)
    else:
        raise ValueError(f"bad date {value!r}; expected an ISO 8601 string, a date or an aware datetime")
    if moment is None or not EARLIEST <= moment < LATEST:
        raise ValueError(f"date {value.isoformat()!r} is out of range; expected one from "
                         f"{EARLIEST.date().isoformat()} to {(LATEST - timedelta(days=1)).date().isoformat()}")
    return moment


def parse_weight(value: object) -> float:
    """A weight from 0 to MAX_WEIGHT; empty means 1.0. NaN would poison every sum it touches, and a huge
    one (1e308) overflows a standing to infinity."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 1.0
    expected = f"expected a number from 0 to {MAX_WEIGHT:g}"
    if isinstance(value, bool):
        raise ValueError(f"bad weight {value!r}; {expected}")
    try:
        weight = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"bad weight {value!r}; {expected}") from None
    if not (math.isfinite(weight) and 0 <= weight <= MAX_WEIGHT):
        raise ValueError(f"bad weight {value!r}; {expected}")
    return weight


@dataclass(frozen=True)
class Event:
    """One thing that happened between the user and a sender. Construction normalises and checks."""

    sender: str
    date: datetime
    kind: str
    weight: float = 1.0
    note: str = ""
    source: str = ""
    label: str | None = None

    def __post_init__(self) -> None:
        sender = normalise_sender(self.sender)
        if sender is None:
            raise ValueError(f"an event needs a sender; expected {SENDER_FORMS}")
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        label = self.label or None
        if label is not None and label not in LABELS:
            raise ValueError(f"unknown label {label!r}; expected one of {', '.join(LABELS)} or nothing")
        if label is not None and self.kind != "asked":
            raise ValueError(f"label {label!r} given for a {self.kind!r} event; only 'asked' events carry a label")
        object.__setattr__(self, "sender", sender)
        object.__setattr__(self, "date", parse_date(self.date))
        object.__setattr__(self, "weight", parse_weight(self.weight))
        object.__setattr__(self, "note", (self.note or "").strip())
        object.__setattr__(self, "source", (self.source or "").strip())
        object.__setattr__(self, "label", label)

    @functools.cached_property  # standing() sorts by it on every call; the fields never change
    def id(self) -> str:
        """sha256 of the normalised fields, so that importing the same file twice adds nothing."""
        key = [self.sender, stored_date(self.date), self.kind, self.weight, self.note, self.source]
        return hashlib.sha256(json.dumps(key, ensure_ascii=False).encode()).hexdigest()

    def as_row(self) -> dict[str, object]:
        """The event as a ledger-file row (the FIELDS columns)."""
        return {"sender": self.sender, "date": self.date.isoformat(), "kind": self.kind,
                "weight": self.weight, "note": self.note, "source": self.source, "label": self.label}

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> Event:
        """An event from a ledger-file row; errors name the bad column and value."""
        unknown = sorted(set(row) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown column(s) {', '.join(map(repr, unknown))}; expected {', '.join(FIELDS)}")
        for name in REQUIRED_FIELDS:
            if row.get(name) in (None, ""):
                raise ValueError(f"missing {name}; the required columns are {', '.join(REQUIRED_FIELDS)}")
        for name in ("sender", "date", "kind", "note", "source", "label"):
            if row.get(name) is not None and not isinstance(row[name], str):
                raise ValueError(f"bad {name} {row[name]!r}; expected a string")
        return cls(sender=str(row["sender"]), date=str(row["date"]), kind=str(row["kind"]),  # type: ignore[arg-type]
                   weight=row.get("weight"), note=str(row.get("note") or ""),  # type: ignore[arg-type]
                   source=str(row.get("source") or ""), label=str(row.get("label") or "") or None)


def stored_date(moment: datetime) -> str:
    """The fixed-width UTC form the store keeps, so that dates compare correctly as strings."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
