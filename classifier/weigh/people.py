"""Who the owner knows: ties they declared, the names of the people they write to, and the check that a
message claiming to be one of those people comes from an address the owner knows them by.

Stored in the ledger's ``people`` table (one row per sender key); ``People`` is the read-only view the
relate stage takes, plain dicts, so that it crosses to pool workers and Dask tasks as it is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from classifier.cells import clean
from classifier.labels import TIE_LEVELS, check_choice
from classifier.weigh.events import SENDER_FORMS, normalise_sender, stored_date
from classifier.weigh.ledger import Ledger

MAX_NAME = 200
_TITLES = {"dr", "mr", "mrs", "ms", "mx", "miss", "prof", "sir", "dame", "rev", "fr"}
_MONEY_OR_CODES = re.compile(
    r"gift ?cards?|itunes|google play card|steam card|amazon card|voucher codes?|wire (?:the )?(?:money|funds|transfer)"
    r"|bank transfer|transfer (?:the )?(?:money|funds|£|\$|€)|send (?:me )?(?:the )?(?:money|funds|£|\$|€|\d)"
    r"|(?:new|changed|updated) (?:bank|account|payment) details|bank details|account details|sort code|iban"
    r"|verification code|security code|login code|\d[- ]digit code|the code (?:i|you|they) (?:just )?(?:sent|got|received)"
    r"|(?:send|give|forward|tell|text) me (?:the|that|your|this) code|one[- ]time (?:code|pass)"
    r"|\botp\b|paypal|venmo|zelle|cash ?app|bitcoin|crypto|usdt|western union|moneygram"
    r"|\bpay (?:this|the|an) invoice|urgent(?:ly)? (?:payment|transfer)|lend me \S*\s*(?:£|\$|€|\d)",
    re.IGNORECASE)
"""What an impersonator asks for: money moved, cards bought, codes read out."""


def name_key(name: str | None) -> str | None:
    """A display name as a comparable key: case, accents, punctuation and titles dropped; None unless it
    has two words or more ("Tunde Adebayo"), since one first name is shared by too many people."""
    if not name:
        return None
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    words = [w for w in re.findall(r"[^\W\d_]+", text) if w not in _TITLES]
    return " ".join(words) if len(words) >= 2 else None


def asks_for_money_or_codes(text: str) -> bool:
    return bool(_MONEY_OR_CODES.search(text[:20_000]))


@dataclass
class People:
    """Declared ties (sender key -> (tie, who declared it)) and the addresses of people the owner knows,
    by name key. Empty: nobody declared, nobody known."""

    declared: dict[str, tuple[str, str]] = field(default_factory=dict)
    names: dict[str, set[str]] = field(default_factory=dict)

    def declared_tie(self, keys: Iterable[str | None]) -> tuple[str, str] | None:
        """The tie declared for the first of ``keys`` (a sender and their aliases) that has one."""
        for key in keys:
            if key is not None and key in self.declared:
                return self.declared[key]
        return None

    def know(self, sender: str | None, name: str | None) -> None:
        """Remember that the owner knows ``sender`` by ``name``."""
        key = name_key(name)
        if sender and key:
            self.names.setdefault(key, set()).add(sender)

    def impersonates(self, sender: str | None, sender_name: str | None, text: str) -> str:
        """Who a message claims to be, in words ("Tunde Adebayo, whom you know at tunde@adebayo.example"),
        when its display name is someone the owner knows, its address is not one the owner knows them by,
        and it asks for money, bank details or codes; "" otherwise."""
        key = name_key(sender_name)
        known = self.names.get(key or "")
        if not known or sender in known or not asks_for_money_or_codes(text):
            return ""
        shown = ", ".join(sorted(known)[:3])
        return f"{clean(sender_name, MAX_NAME)}, whom you know at {shown}"

    def merged(self, other: People) -> People:
        """These people with ``other``'s added; ``other``'s declared ties win."""
        names = {key: set(addresses) for key, addresses in self.names.items()}
        for key, addresses in other.names.items():
            names.setdefault(key, set()).update(addresses)
        return People({**self.declared, **other.declared}, names)


# ---------------------------------------------------------------- the ledger's people table


def check_tie_choice(tie: str) -> str:
    return check_choice(tie, TIE_LEVELS, "tie")


def set_tie(ledger: Ledger, sender: str, tie: str | None, source: str = "you", name: str = "") -> str:
    """Declare how close ``sender`` is (None: forget the declaration, let the evidence decide); returns
    the sender's key. ``name`` is kept when given."""
    key = normalise_sender(sender)
    if key is None:
        raise ValueError(f"a tie needs a sender; expected {SENDER_FORMS}")
    if tie is not None:
        check_tie_choice(tie)
    with ledger.transaction() as conn:
        conn.execute(
            "INSERT INTO people (sender, name, tie, source, updated) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (sender) DO UPDATE SET tie = excluded.tie, source = excluded.source, "
            "updated = excluded.updated, name = CASE WHEN excluded.name != '' THEN excluded.name ELSE name END",
            (key, clean(name, MAX_NAME), tie, source if tie else "", stored_date(datetime.now(UTC))))
    return key


def set_names(ledger: Ledger, names: Mapping[str, str]) -> int:
    """Remember the display name the owner knows each sender by (sender -> name), keeping any declared
    tie; returns how many senders were new or renamed."""
    rows = []
    for sender, name in names.items():
        key = normalise_sender(sender) if sender else None
        if key is not None and clean(name, MAX_NAME):
            rows.append((key, clean(name, MAX_NAME), stored_date(datetime.now(UTC))))
    with ledger.transaction() as conn:
        before = conn.total_changes
        conn.executemany(
            "INSERT INTO people (sender, name, updated) VALUES (?, ?, ?) ON CONFLICT (sender) DO UPDATE SET "
            "name = excluded.name, updated = excluded.updated WHERE name != excluded.name", rows)
        return conn.total_changes - before


def listed(ledger: Ledger) -> list[dict]:
    """Every row of the people table, by sender."""
    columns = ("sender", "name", "tie", "source", "updated")
    return [dict(zip(columns, row)) for row in ledger.query(f"SELECT {', '.join(columns)} FROM people ORDER BY sender")]


def load_people(ledger: Ledger) -> People:
    """The ledger's people as the relate stage's view: declared ties for each key of the sender's alias
    group, names of everyone the owner knows."""
    groups: dict[str, list[str]] = {}  # every alias group at once: one query, not one per person
    canonical: dict[str, str] = {}
    for key, group in ledger.query("SELECT key, canonical FROM aliases ORDER BY key"):
        groups.setdefault(group, []).append(key)
        canonical[key] = group
    people = People()
    for row in listed(ledger):
        keys = [row["sender"], *(k for k in groups.get(canonical.get(row["sender"], ""), []) if k != row["sender"])]
        if row["tie"]:
            for key in keys:
                people.declared.setdefault(key, (row["tie"], row["source"] or "you"))
        if row["tie"] != "stranger":
            for key in keys:
                people.know(key, row["name"])
    return people
