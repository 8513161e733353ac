"""The plain-Python tally that standing.Timeline replaced: one loop per event, exactly as it was (f2f32ae).

Kept as the reference that the Timeline's array arithmetic must equal bit for bit
(tests/test_standing.py). Not used by the package.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from datetime import datetime, timedelta

from classifier.labels import DEPOSIT_KINDS, HELP_KINDS
from classifier.weigh.events import Event
from classifier.policy import Policy
from classifier.weigh.standing import SECONDS_PER_DAY, Standing, _age_days, ask_cost

_DEPOSIT_KINDS = frozenset(DEPOSIT_KINDS)


def reference_standing(events: list[Event], at: datetime, policy: Policy) -> Standing:
    past = sorted([e for e in events if e.date < at], key=lambda e: (e.date, e.id))
    return _tally(past, at, policy)


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
        debit.append(a.weight * cost * escalation ** min(repeats, 20) * max(floor, 0.5 ** (age / half_life)))
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
