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
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from operator import attrgetter, lt
from typing import TYPE_CHECKING

from .events import DEPOSIT_KINDS, HELP_KINDS, Event, parse_date

if TYPE_CHECKING:
    from .policy import Policy

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
    normalised = re.sub(r"\s+", " ", text.lower())
    return list(dict.fromkeys(m.group(1) for m in _promotion_pattern(tuple(words)).finditer(normalised)))


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


def standing(events: Iterable[Event], at: datetime | date | str, policy: Policy, *,
             with_history: bool = True) -> Standing:
    """The standing of the sender whose ``events`` (all aliases together) are given, at ``at``.

    Only events strictly before ``at`` count: the message being judged must not vouch for itself.
    ``with_history=False`` skips the balance-over-time points (a chart needs them, a batch does not:
    they cost a tally per event).
    """
    at = parse_date(at)
    past = [e for e in events if e.date < at]
    dates = [e.date for e in past]
    if not all(map(lt, dates, dates[1:])):  # in date order with no ties: already in (date, id) order
        past.sort(key=attrgetter("date", "id"))
    history: list[tuple[datetime, float]] = []
    for end, moment in _day_ends(past) if with_history else ():
        history.append((moment, _tally(past[:end], moment, policy).balance))
    result = _tally(past, at, policy)
    return replace(result, history=[*history, (at, result.balance)])


def _day_ends(past: list[Event]) -> Iterable[tuple[int, datetime]]:
    """(index after the last event at that moment, moment) for each distinct event time."""
    for index, event in enumerate(past):
        if index + 1 == len(past) or past[index + 1].date != event.date:
            yield index + 1, event.date


def _age_days(at: datetime, then: datetime) -> float:
    return (at - then).total_seconds() / SECONDS_PER_DAY


def _tally(past: list[Event], at: datetime, policy: Policy) -> Standing:
    """Standing at ``at`` from ``past`` (sorted, none after ``at``)."""
    deposits: list[Event] = []
    vouches: list[Event] = []
    asks: list[Event] = []
    favours: list[Event] = []
    declined = 0
    for e in past:  # one pass: the kinds are disjoint (events.KINDS)
        if e.kind in _DEPOSIT_KINDS:
            deposits.append(e)
        elif e.kind == "asked":
            asks.append(e)
        elif e.kind == "vouched":
            vouches.append(e)
        elif e.kind == "favour_granted":
            favours.append(e)
        elif e.kind == "declined":
            declined += 1

    # The loops below run for every event of every message a batch weighs (thousands for a busy
    # sender), so the policy's numbers are read once and the arithmetic is written out inline; it is
    # the same arithmetic, in the same order, as kept() and _age_days() spell out.
    floor = policy.long_term_floor

    def kept(age: float, half_life: float) -> float:
        return max(floor, 0.5 ** (age / half_life))

    # False whuffie: a deposit on or before an ask that came less than burst_window_days after the
    # sender's first deposit or vouch is part of a burst.
    first_gave = min((e.date for e in deposits + vouches), default=None)
    ask_times = [a.date for a in asks] + [at]
    burst_end = first_gave + timedelta(days=policy.burst_window_days) if first_gave else None

    credit: list[float] = []
    recent_help = burst = 0
    weights, half_life = policy.deposit_weight, policy.deposit_half_life_days
    recent_days, recent_multiplier = policy.recent_days, policy.recent_help_multiplier
    for d in deposits:
        age = (at - d.date).total_seconds() / SECONDS_PER_DAY
        value = d.weight * weights[d.kind] * max(floor, 0.5 ** (age / half_life))
        if d.kind in HELP_KINDS and age < recent_days:
            value *= recent_multiplier
            recent_help += 1
        if burst_end is not None:
            i = bisect.bisect_left(ask_times, d.date)  # the first ask on or after this deposit
            if i < len(ask_times) and ask_times[i] < burst_end:
                value *= policy.burst_factor
                burst += 1
        credit.append(value)
    vouch = [v.weight * policy.vouch_credit * kept(_age_days(at, v.date), policy.deposit_half_life_days)
             for v in vouches]

    debit: list[float] = []
    window = timedelta(days=policy.repeat_window_days)
    ask_dates = ask_times[:-1]
    costs: dict[tuple[str | None, str], float] = {}
    escalation, half_life = policy.repeat_escalation, policy.withdrawal_half_life_days
    for i, a in enumerate(asks):
        # earlier asks less than a window before this one (asks are in date order)
        repeats = i - bisect.bisect_right(ask_dates, a.date - window, 0, i)
        cost = costs.get((a.label, a.note))
        if cost is None:
            cost = costs[a.label, a.note] = ask_cost(a.label, a.note, policy)
        age = (at - a.date).total_seconds() / SECONDS_PER_DAY
        debit.append(a.weight * cost * escalation ** repeats * max(floor, 0.5 ** (age / half_life)))
    for f in favours:
        # The mirror of a `helped` deposit, so it is treated the same way (recent ones weigh more), and
        # then costs withdrawal_multiplier times as much: earned slowly, spent quickly.
        age = _age_days(at, f.date)
        recent = policy.recent_help_multiplier if age < policy.recent_days else 1.0
        debit.append(f.weight * policy.withdrawal_multiplier * policy.deposit_weight["helped"] * recent
                     * kept(age, policy.withdrawal_half_life_days))

    return Standing(
        # fsum: one correctly rounded sum, so adding a deposit can never lower the balance by rounding.
        balance=math.fsum([*credit, *vouch, *(-x for x in debit)]),
        deposits=math.fsum(credit),
        withdrawals=math.fsum(debit),
        vouch_credit=math.fsum(vouch),
        recent_help=recent_help,
        vouched=len(vouches),
        asks=len(asks),
        asks_in_window=sum(1 for a in asks if at - a.date < window),
        declined_count=declined,
        favours=len(favours),
        burst_discounted=burst,
        gave=dict(Counter(d.kind for d in deposits).most_common()),
        first_seen=past[0].date if past else None,
        first_ask=asks[0].date if asks else None,
        last_gave=deposits[-1].date if deposits else None,
        at=at,
    )
