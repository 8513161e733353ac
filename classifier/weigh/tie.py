"""Tie strength: how close a relationship is, next to the balance of what was given and taken.

Pure: events, a moment and what the owner declared in; a Tie out. The balance (weigh.standing) says
whether someone gave back; the tie says who they are to you. A sister who once had help with her CV
owes a favour on the books, and is still family.

The evidence, after Gilbert and Karahalios ("Predicting Tie Strength With Social Media", CHI 2009):
messages both ways (intensity and reciprocity), how long you have corresponded and how recently
(duration, recency), warm words either way (intimacy: classify.signals.warmth), meeting in person, and
help received. Asks are never evidence of closeness, so that asking more cannot make a tie stronger.
A tie the owner declared (`triage ledger tie`, an address book) wins over the evidence.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from classifier.labels import CLOSE_TIES, DEPOSIT_KINDS, HELP_KINDS, KNOWN_TIES, TIE_LEVELS, check_choice
from classifier.policy import Policy
from classifier.weigh.events import Event

THEIR_MESSAGES = frozenset(set(DEPOSIT_KINDS) - {"corresponded", "met"})
"""Deposits that are messages (or gifts) from them to you."""
CAPS = {"two_way": 8, "warm": 3, "met": 2, "help": 2}
"""Each kind of evidence counts up to this many times: the tenth thank-you says little the eighth did not."""
DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Tie:
    """How close one relationship is at one moment. ``Tie()`` is a stranger's."""

    level: str = "stranger"
    """One of labels.TIE_LEVELS."""
    score: float = 0.0
    """The evidence in points (see infer_tie); a declared tie keeps the evidence's score too."""
    declared_by: str = ""
    """Where a declared level came from ("you", an address book's file name); empty when inferred."""
    you_wrote: int = 0
    they_wrote: int = 0
    warm: int = 0
    met: int = 0
    help: int = 0
    kin: int = 0
    """Messages either way that speak as family."""
    years: float = 0.0
    """From the first message either way to the moment weighed."""
    quiet_years: float = 0.0
    """Since the last message either way."""

    @property
    def close(self) -> bool:
        return self.level in CLOSE_TIES

    @property
    def known(self) -> bool:
        return self.level in KNOWN_TIES

    def evidence(self) -> list[str]:
        """The evidence that counted, in plain words."""
        found = []
        if self.you_wrote and self.they_wrote:
            found.append(f"you wrote to them {_count(self.you_wrote)} and they to you {_count(self.they_wrote)}")
        elif self.they_wrote:
            found.append(f"they wrote to you {_count(self.they_wrote)} and you never wrote back")
        elif self.you_wrote:
            found.append(f"you wrote to them {_count(self.you_wrote)} and they never wrote back")
        if self.years >= 0.25 and (self.you_wrote or self.they_wrote):
            found.append(f"over {_span(self.years)}")
        if self.kin:
            found.append(f"as family in {self.kin} message{'s' if self.kin > 1 else ''}")
        if self.warm:
            found.append(f"with warm words in {self.warm} message{'s' if self.warm > 1 else ''}")
        if self.met:
            found.append("you have met")
        if self.help:
            found.append(f"they helped you {_count(self.help)}")
        if self.quiet_years >= 2:
            found.append(f"but nothing for {_span(self.quiet_years)}")
        return found

    def sentence(self) -> str:
        """One sentence saying how close the tie is and which evidence counted."""
        evidence = ", ".join(self.evidence())
        if self.declared_by:
            who = "you said so" if self.declared_by == "you" else f"from {self.declared_by}"
            return f"They are {_level_words(self.level)} ({who})."
        if self.level == "stranger":
            if not evidence:
                return "You have no relationship with them yet: no messages both ways, no meeting."
            return f"You have no relationship with them yet ({evidence})."
        return f"You are {_level_words(self.level)}: {evidence}."


def _level_words(level: str) -> str:
    return {"family": "family", "close": "close", "colleague": "a colleague",
            "acquaintance": "acquaintances", "stranger": "a stranger to you"}[level]


def _count(n: int) -> str:
    return {0: "never", 1: "once", 2: "twice"}.get(n, f"{n} times")


def _span(years: float) -> str:
    if years < 1:
        months = max(1, round(years * 12))
        return f"{months} month{'s' if months > 1 else ''}"
    whole = int(years)
    return f"{whole} year{'s' if whole > 1 else ''}"


def check_tie(level: str) -> str:
    return check_choice(level, TIE_LEVELS, "tie")


WARM_FROM_YOU = "from you"
WARM_FROM_THEM = "from them"
"""The note of a ``warm`` or ``kin`` event: whose message had the words."""
YOUR_KINDS: tuple[str, ...] = ("corresponded", "replied")
"""Events that are a message from you, whatever their note."""
WORDS_KINDS: tuple[str, ...] = ("warm", "kin")
"""Events about the words of a message: from you when noted WARM_FROM_YOU, else from them. With
YOUR_KINDS, what the tie, the export's known names and the Dask engine count as "you wrote to them"."""


class TieEvidence:
    """One sender's tie evidence, counted once over their events in date order, so that a batch weighs
    each of a busy sender's messages at its own date without counting their history again."""

    def __init__(self, events: Iterable[Event]):
        ordered = sorted(events, key=lambda e: e.date)
        self.dates = [e.date for e in ordered]
        # running totals after each event: you, they, warm, met, help, warm from you, warm from them, kin
        self.totals: list[tuple[int, ...]] = [(0, 0, 0, 0, 0, 0, 0, 0)]
        self.exchanged: list[datetime] = []  # dates of the events that are evidence at all
        seen: set[tuple[datetime, str]] = set()  # (date, side): one message, whatever events it made
        you = they = warm = met = help_ = warm_you = warm_them = kin = 0
        for event in ordered:
            side = _side(event)
            if side is not None:
                if (event.date, side) not in seen:
                    seen.add((event.date, side))
                    you, they = you + (side == "you"), they + (side == "they")
                warm += event.kind == "warm"
                warm_you += event.kind == "warm" and side == "you"
                warm_them += event.kind == "warm" and side == "they"
                met += event.kind == "met"
                kin += event.kind == "kin"
                help_ += event.kind in HELP_KINDS
                self.exchanged.append(event.date)
            self.totals.append((you, they, warm, met, help_, warm_you, warm_them, kin))

    def tie(self, at: datetime, policy: Policy, declared: str | None = None, declared_by: str = "you") -> Tie:
        """The tie at ``at`` from the events strictly before it, or ``declared`` when given."""
        if declared is not None:
            check_tie(declared)
        you, they, warm, met, help_, warm_you, warm_them, kin = self.totals[bisect.bisect_left(self.dates, at)]
        before = bisect.bisect_left(self.exchanged, at)
        first = self.exchanged[0] if before else None
        last = self.exchanged[before - 1] if before else None
        years = (at - first).total_seconds() / 86_400 / DAYS_PER_YEAR if first else 0.0
        quiet = (at - last).total_seconds() / 86_400 / DAYS_PER_YEAR if last else 0.0
        two_way = min(you, they)
        points = float(min(two_way, CAPS["two_way"]) + 2 * min(warm, CAPS["warm"]) + 2 * min(met, CAPS["met"])
                       + min(help_, CAPS["help"]))
        if two_way:
            points += 2 if years >= 1 else 1 if years >= 0.5 else 0
        if quiet >= 2:
            points /= 2
        if kin and you and they:
            level = "family"  # spoken to or signed as family, with messages both ways
        elif (points >= policy.tie_close_points and you and they) or (warm_you and warm_them):
            level = "close"  # or warm words both ways: intimacy is the strongest sign of a close tie
        elif points >= policy.tie_acquaintance_points and (two_way or met):
            level = "acquaintance"
        else:
            level = "stranger"
        return Tie(level=declared or level, score=points, declared_by=declared_by if declared else "",
                   you_wrote=you, they_wrote=they, warm=warm, met=met, help=help_, kin=kin, years=years,
                   quiet_years=quiet)


def _side(event: Event) -> str | None:
    """Whose message (or meeting) ``event`` is evidence of: "you", "they", "both" (met), None for none."""
    if event.kind in YOUR_KINDS or (event.kind in WORDS_KINDS and event.note == WARM_FROM_YOU):
        return "you"
    if event.kind in THEIR_MESSAGES or event.kind in WORDS_KINDS:
        return "they"
    if event.kind == "met":
        return "both"
    return None


def infer_tie(events: Iterable[Event], at: datetime, policy: Policy, declared: str | None = None,
              declared_by: str = "you") -> Tie:
    """The tie at ``at`` from the events strictly before it (any order), or ``declared`` when given.

    Points: messages both ways (the smaller of the two counts, up to 8), 2 per warm message (up to 3),
    2 per meeting (up to 2), 1 per help received (up to 2), and 1 for half a year or 2 for a year of
    correspondence. A tie quiet for two years counts half. ``close`` takes policy.tie_close_points and
    messages both ways, or warm words both ways; ``family`` takes words that speak as family (kin events:
    "Hi Mum", "love, Mum") and messages both ways; ``acquaintance`` policy.tie_acquaintance_points and a message both ways or a
    meeting. Your messages are what you wrote to them (``corresponded``, ``replied``, warm or kin words);
    theirs, their messages with no ask (deposits) and their warm ones. A favour you did them is not
    counted: more withdrawals never strengthen a tie, and more deposits never weaken one.
    """
    return TieEvidence(events).tie(at, policy, declared, declared_by)
