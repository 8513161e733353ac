"""Standing: what a sender has given minus what they have taken, as seen at one moment.

Pure: events and a time in, a Standing out. Every number comes from the Policy. The rules, from
docs/ledger.md and DOMAIN.md:

- deposits decay with a half-life, but never below a floor (the long-term record still counts);
- recent help (helped, introduced, referred) counts several times over (reciprocity);
- deposits from someone whose first deposit came shortly before an ask count for little (false whuffie);
- a vouch gives starting credit;
- withdrawals decay more slowly than deposits, and a favour granted costs more than the same help
  received (recent ones weigh more on both sides);
- an ask costs by its label, more when it asks to lend the user's audience, more again for each
  earlier ask inside the repeat window.
"""

from __future__ import annotations

import bisect
import functools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from itertools import repeat
from operator import attrgetter, lt
from typing import TYPE_CHECKING

from classifier.labels import DEPOSIT_KINDS, HELP_KINDS
from classifier.policy import Policy
from classifier.weigh.events import Event, parse_date
from classifier.weigh.tie import TieEvidence

if TYPE_CHECKING:
    import numpy as np

SECONDS_PER_DAY = 86_400.0
_DEPOSIT_KINDS = frozenset(DEPOSIT_KINDS)


@dataclass(frozen=True)
class Standing:
    """A sender's standing at ``at``. ``Standing()`` is the standing of someone never seen."""

    balance: float = 0.0
    """deposits + vouch_credit - withdrawals, in policy points."""
    deposits: float = 0.0
    withdrawals: float = 0.0
    vouch_credit: float = 0.0
    recent_help: int = 0
    """Help events (helped, introduced, referred) within the policy's recent_days."""
    vouched: int = 0
    asks: int = 0
    asks_in_window: int = 0
    """Recorded asks within the policy's repeat window before ``at``: this ask's repeat count."""
    declined_count: int = 0
    favours: int = 0
    burst_discounted: int = 0
    """Deposits counted at the burst factor as false whuffie."""
    gave: dict[str, int] = field(default_factory=dict)
    """Deposit counts by kind, most frequent first."""
    first_seen: datetime | None = None
    first_ask: datetime | None = None
    last_gave: datetime | None = None
    at: datetime | None = None
    history: list[tuple[datetime, float]] = field(default_factory=list)
    """(date, balance) after each day with events, and at ``at``: the balance an ask would have met then."""

    def summary(self) -> str:
        """Plain words: 'gave 3 times (helped, shared), asked 3 times in 40 days, declined twice'."""
        if self.first_seen is None:
            return "no history"
        given = sum(self.gave.values())
        parts = [f"gave {times(given)} ({', '.join(self.gave)})" if given else "gave nothing yet"]
        if given and self.last_gave and self.at and self.at - self.last_gave >= timedelta(days=180):
            parts[0] += f", last {_ago(self.at - self.last_gave)}"
        if self.asks == 1 and self.first_ask and self.at:
            parts.append(f"asked once, {_ago(self.at - self.first_ask)}")
        elif self.asks and self.first_ask and self.at:
            days = max(1, math.ceil((self.at - self.first_ask).total_seconds() / SECONDS_PER_DAY))
            parts.append(f"asked {times(self.asks)} in {days} days")
        if self.favours:
            parts.append(f"you did them {self.favours} favour{'s' if self.favours > 1 else ''}")
        if self.declined_count:
            parts.append(f"declined {times(self.declined_count)}")
        if self.vouched:
            parts.append(f"vouched for {times(self.vouched)}")
        return ", ".join(parts)


def times(n: int) -> str:
    """once, twice, 3 times."""
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _ago(delta: timedelta) -> str:
    days = delta.total_seconds() / SECONDS_PER_DAY
    if days < 1:
        return "today"
    if days < 60:
        return f"{int(days)} day{'s' if int(days) != 1 else ''} ago"
    if days < 730:
        return f"{int(days // 30.44)} months ago"
    return f"{int(days // 365.25)} years ago"


# ---------------------------------------------------------------- asks


@functools.lru_cache(maxsize=8)
def _promotion_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)({alternatives})(?:s|es|ed|d)?(?!\w)")


def promotion_hits(text: str, words: Sequence[str]) -> list[str]:
    """The promotion words in ``text``, in order of first appearance (whole words, case-insensitive)."""
    if not text or not words:
        return []
    return list(_promotion_hits(text, tuple(words)))


@functools.lru_cache(maxsize=64)
def _promotion_hits(text: str, words: tuple[str, ...]) -> tuple[str, ...]:
    # Cached: pricing an ask reads its text twice (its cost, and the reason that explains it).
    normalised = " ".join(text.lower().split())  # whitespace runs to one space ("shout\nout" is "shout out")
    return tuple(dict.fromkeys(m.group(1) for m in _promotion_pattern(words).finditer(normalised)))


MAX_REPEATS_COUNTED = 20
"""Repeats past this many in one window cost no more than the twentieth: by then the answer is no
anyway, and an unbounded power overflows (a ledger with 2,000 asks in a month did)."""


def repeat_multiplier(repeats: int, policy: Policy) -> float:
    """What an ask costs more for the earlier asks inside the repeat window: repeat_escalation per repeat."""
    return policy.repeat_escalation ** min(repeats, MAX_REPEATS_COUNTED)


def ask_cost(label: str | None, text_hints: str, policy: Policy) -> float:
    """The cost of one ask of ``label`` (None: unlabelled) before repeats: the policy's cost per label,
    times promotion_multiplier when ``text_hints`` ask to promote, share, retweet or endorse."""
    key = label or "unlabelled"
    if key not in policy.ask_cost:
        raise ValueError(f"unknown ask label {label!r}; expected one of {', '.join(policy.ask_cost)} or None")
    cost = policy.ask_cost[key]
    if promotion_hits(text_hints, policy.promotion_words):
        cost *= policy.promotion_multiplier
    return cost


# ---------------------------------------------------------------- standing


def standing(events: Iterable[Event] | Timeline, at: datetime | date | str, policy: Policy, *,
             with_history: bool = True) -> Standing:
    """The standing of the sender whose ``events`` (all aliases together) are given, at ``at``.

    Only events strictly before ``at`` count: the message being judged must not vouch for itself.
    ``with_history=False`` skips the balance-over-time points (a chart needs them, a batch does not:
    they cost a tally per event). ``events`` may be a Timeline made with the same policy (a batch
    keeps one per sender).
    """
    at = parse_date(at)
    timeline = events if isinstance(events, Timeline) else Timeline(events, policy)
    if timeline.policy is not policy:
        timeline = Timeline(timeline.events, policy)
    end = bisect.bisect_left(timeline.dates, at)
    history: list[tuple[datetime, float]] = []
    for moment_end, moment in _day_ends(timeline.events[:end]) if with_history else ():
        history.append((moment, timeline.tally(moment_end, moment).balance))
    result = timeline.tally(end, at, history)
    history.append((at, result.balance))  # the list the Standing holds
    return result


def _day_ends(past: list[Event]) -> Iterable[tuple[int, datetime]]:
    """(index after the last event at that moment, moment) for each distinct event time."""
    for index, event in enumerate(past):
        if index + 1 == len(past) or past[index + 1].date != event.date:
            yield index + 1, event.date


def _age_days(at: datetime, then: datetime) -> float:
    return (at - then).total_seconds() / SECONDS_PER_DAY


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def _micros(moment: datetime) -> int:
    """Whole microseconds since 1970: exact, so that ages computed from them are _age_days' floats."""
    return (moment - _EPOCH) // _MICROSECOND


def _days(micros: np.ndarray) -> np.ndarray:
    # The same two correctly rounded divisions as timedelta.total_seconds() / SECONDS_PER_DAY.
    return micros / 1_000_000 / SECONDS_PER_DAY


def _kept(ages: np.ndarray, half_life: float, floor: float) -> np.ndarray:
    """max(floor, 0.5 ** (age / half_life)) of each age (a Timeline's: oldest first)."""
    import numpy as np

    half_lives = ages / half_life
    cutoff = _floor_reached(floor)
    if len(half_lives) and half_lives[0] > cutoff:
        # Some are past the cutoff, where the power is below the floor and the floor is what is kept: no
        # power to compute. In an export of many years that is most of a busy sender's events.
        kept = np.full(len(half_lives), floor, dtype=np.float64)
        recent = half_lives <= cutoff
        kept[recent] = np.maximum(floor, _halves(half_lives[recent]))
        return kept
    return np.maximum(floor, _halves(half_lives))


def _halves(half_lives: np.ndarray) -> np.ndarray:
    import numpy as np

    # Python's pow for the powers (0.5 ** x): NumPy's differs in the last bit for some arguments.
    return np.array(list(map(pow, repeat(0.5), half_lives.tolist())), dtype=np.float64)


@functools.lru_cache(maxsize=8)
def _floor_reached(floor: float) -> float:
    """Half-lives after which 0.5 ** x is surely below ``floor``: log2(1 / floor), plus a margin millions
    of times wider than the error of log2 and pow (0.5 ** x falls by a part in 10**9 over it)."""
    return math.log2(1 / floor) + 1e-9 if floor > 0 else math.inf


class Timeline:
    """One sender's events in (date, id) order, with what each contributes that does not depend on
    the moment worked out once: its weight times the policy's weight for its kind, an ask's cost with
    its repeats. Weighing the sender at a moment is then array arithmetic over the events before it,
    so a batch that weighs every message of a busy sender (thousands of events) keeps one Timeline per
    sender instead of redoing Python work per event per message."""

    def __init__(self, events: Iterable[Event], policy: Policy):
        import numpy as np  # here, not at the top: a mail filter's thin client imports this module

        self.policy = policy
        self.events = list(events)
        self.dates = [e.date for e in self.events]
        if not all(map(lt, self.dates, self.dates[1:])):  # unless already in date order with no ties
            self.events.sort(key=attrgetter("date", "id"))  # (Event.id costs a sha256: only when needed)
            self.dates = [e.date for e in self.events]
        at_kind: dict[str, list[int]] = {}
        for index, event in enumerate(self.events):
            at_kind.setdefault("deposit" if event.kind in _DEPOSIT_KINDS else event.kind, []).append(index)
        self.deposit_at, self.ask_at = at_kind.get("deposit", []), at_kind.get("asked", [])
        self.vouch_at, self.favour_at = at_kind.get("vouched", []), at_kind.get("favour_granted", [])
        self.declined_at = at_kind.get("declined", [])

        deposits = [self.events[i] for i in self.deposit_at]
        # deposit counts by kind before each deposit index: gave, in the order of each kind's first deposit
        self.gave_kinds = list(dict.fromkeys(d.kind for d in deposits))
        self.gave_counts = np.zeros((len(self.gave_kinds), len(deposits) + 1), dtype=np.int64)
        for row, kind in enumerate(self.gave_kinds):
            np.cumsum([d.kind == kind for d in deposits], out=self.gave_counts[row, 1:])
        self.deposit_micros = np.array([_micros(d.date) for d in deposits], dtype=np.int64)
        self.deposit_base = np.array([d.weight * policy.deposit_weight[d.kind] for d in deposits], dtype=np.float64)
        self.deposit_helps = np.array([d.kind in HELP_KINDS for d in deposits], dtype=bool)

        asks = [self.events[i] for i in self.ask_at]
        self.ask_micros_list = [_micros(a.date) for a in asks]
        self.ask_micros = np.array(self.ask_micros_list, dtype=np.int64)
        window = timedelta(days=policy.repeat_window_days)
        ask_dates, costs, base = [a.date for a in asks], {}, []
        for i, a in enumerate(asks):
            # earlier asks less than a window before this one: fixed once the ask has happened
            repeats = i - bisect.bisect_right(ask_dates, a.date - window, 0, i)
            cost = costs.get((a.label, a.note))
            if cost is None:
                cost = costs[a.label, a.note] = ask_cost(a.label, a.note, policy)
            base.append(a.weight * cost * repeat_multiplier(repeats, policy))
        self.ask_base = np.array(base, dtype=np.float64)

    @functools.cached_property
    def ties(self) -> TieEvidence:
        """The sender's tie evidence, counted once (weigh.tie)."""
        return TieEvidence(self.events)

    def tally(self, end: int, at: datetime, history: list[tuple[datetime, float]] | None = None) -> Standing:
        """Standing at ``at`` from the first ``end`` events (none of them after ``at``); ``history``
        becomes its balance-over-time list (empty when None)."""
        policy, events, floor = self.policy, self.events, self.policy.long_term_floor
        deposits = bisect.bisect_left(self.deposit_at, end)
        asks = bisect.bisect_left(self.ask_at, end)
        vouches = [events[i] for i in self.vouch_at[:bisect.bisect_left(self.vouch_at, end)]]
        favours = [events[i] for i in self.favour_at[:bisect.bisect_left(self.favour_at, end)]]
        at_micros = _micros(at)

        # False whuffie: a deposit on or before an ask that came less than burst_window_days after the
        # sender's first deposit or vouch is part of a burst.
        first_gave = min(([events[self.deposit_at[0]].date] if deposits else []) + [v.date for v in vouches[:1]],
                         default=None)
        credit, recent, in_burst = self._credit(deposits, asks, at_micros, first_gave)
        vouch = [v.weight * policy.vouch_credit * _kept_one(_age_days(at, v.date), policy.deposit_half_life_days, floor)
                 for v in vouches]

        debit = self._debit(asks, at_micros)
        for f in favours:
            # The mirror of a `helped` deposit, so it is treated the same way (recent ones weigh more), and
            # then costs withdrawal_multiplier times as much: earned slowly, spent quickly.
            age = _age_days(at, f.date)
            multiplier = policy.recent_help_multiplier if age < policy.recent_days else 1.0
            debit.append(f.weight * policy.withdrawal_multiplier * policy.deposit_weight["helped"] * multiplier
                         * _kept_one(age, policy.withdrawal_half_life_days, floor))
        window = timedelta(days=policy.repeat_window_days) // _MICROSECOND
        return Standing(
            # fsum: one correctly rounded sum, so adding a deposit can never lower the balance by rounding.
            balance=math.fsum([*credit, *vouch, *(-x for x in debit)]),
            deposits=math.fsum(credit),
            withdrawals=math.fsum(debit),
            vouch_credit=math.fsum(vouch),
            recent_help=recent,
            vouched=len(vouches),
            asks=asks,
            # asks less than a window before ``at``: the dates are sorted, so a bisection counts them
            asks_in_window=asks - bisect.bisect_right(self.ask_micros_list, at_micros - window, 0, asks),
            declined_count=bisect.bisect_left(self.declined_at, end),
            favours=len(favours),
            burst_discounted=in_burst,
            gave=self._gave(deposits),
            first_seen=events[0].date if end else None,
            first_ask=events[self.ask_at[0]].date if asks else None,
            last_gave=events[self.deposit_at[deposits - 1]].date if deposits else None,
            at=at,
            history=[] if history is None else history,
        )

    def _credit(self, deposits: int, asks: int, at_micros: int, first_gave: datetime | None,
                ) -> tuple[list[float], int, int]:
        """What the first ``deposits`` deposits are worth at ``at_micros``, how many of them are recent
        help, and how many were counted at the burst factor."""
        import numpy as np

        if not deposits:  # someone who only asked: no array work
            return [], 0, 0
        policy = self.policy
        ages = _days(at_micros - self.deposit_micros[:deposits])
        credit = self.deposit_base[:deposits] * _kept(ages, policy.deposit_half_life_days, policy.long_term_floor)
        recent = self.deposit_helps[:deposits] & (ages < policy.recent_days)
        credit = np.where(recent, credit * policy.recent_help_multiplier, credit)
        in_burst = 0
        if first_gave is not None:
            burst_end = _micros(first_gave + timedelta(days=policy.burst_window_days))
            ask_times = np.append(self.ask_micros[:asks], at_micros)
            # the first ask on or after each deposit (``at`` itself when none came after it)
            following = ask_times[np.searchsorted(ask_times, self.deposit_micros[:deposits], side="left")]
            bursting = following < burst_end
            credit = np.where(bursting, credit * policy.burst_factor, credit)
            in_burst = int(np.count_nonzero(bursting))
        return credit.tolist(), int(np.count_nonzero(recent)), in_burst

    def _debit(self, asks: int, at_micros: int) -> list[float]:
        """What the first ``asks`` asks cost at ``at_micros``."""
        if not asks:
            return []
        ask_ages = _days(at_micros - self.ask_micros[:asks])
        return (self.ask_base[:asks] * _kept(ask_ages, self.policy.withdrawal_half_life_days,
                                             self.policy.long_term_floor)).tolist()

    def _gave(self, deposits: int) -> dict[str, int]:
        """Counts by kind of the first ``deposits`` deposits, most frequent first, ties in the order each
        kind first appeared (what Counter.most_common gives)."""
        counts = self.gave_counts[:, deposits].tolist()
        order = sorted((row for row, n in enumerate(counts) if n), key=lambda row: -counts[row])
        return {self.gave_kinds[row]: counts[row] for row in order}


def _kept_one(age: float, half_life: float, floor: float) -> float:
    return max(floor, 0.5 ** (age / half_life))
