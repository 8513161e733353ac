"""Fitting the policy to the user: how often it agrees with the yes and no answers they actually gave
(run.learn.answered_asks), and the policy, among a small grid around it, that agrees most.

Two knobs move: every ask's cost, and every tie's credit, each scaled by one factor. They are what
differs most between people (how freely someone says yes; how much closeness counts), and two knobs
cannot be fitted to a few dozen answers the way twenty could. Ties in agreement go to the policy
closest to the one given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from classifier.policy import Policy
from classifier.recommend.decide import recommend
from classifier.run.learn import AnsweredAsk
from classifier.weigh.people import People
from classifier.weigh.standing import standing
from classifier.weigh.tie import infer_tie

FACTORS: tuple[float, ...] = (0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0)
MIN_ANSWERS = 10
"""Fewer answers than this and no fitted policy is proposed: the default is as good a guess."""


@dataclass(frozen=True)
class Agreement:
    agreed: int
    answers: int
    said_yes: int
    yes_agreed: int

    @property
    def share(self) -> float:
        return self.agreed / self.answers if self.answers else 0.0


def agreement(asks: Sequence[AnsweredAsk], policy: Policy, people: People | None = None) -> Agreement:
    """How often ``policy`` recommends accept exactly when the user said yes."""
    people = people or People()
    agreed = yes = yes_agreed = 0
    for ask in asks:
        weighed = standing(ask.events, ask.date, policy, with_history=False)
        declared = people.declared_tie([ask.sender])
        tie = infer_tie(ask.events, ask.date, policy, *(declared or ()))
        accepted = recommend(ask.label, {}, weighed if weighed.first_seen else None, policy, tie=tie).action == "accept"
        agreed += accepted == ask.granted
        yes += ask.granted
        yes_agreed += ask.granted and accepted
    return Agreement(agreed, len(asks), yes, yes_agreed)


def scaled(policy: Policy, cost: float, credit: float) -> Policy:
    """``policy`` with every ask cost times ``cost`` and every tie credit times ``credit``."""
    return replace(policy, ask_cost={k: v * cost for k, v in policy.ask_cost.items()},
                   tie_credit={k: v * credit for k, v in policy.tie_credit.items()})


@dataclass(frozen=True)
class Fit:
    policy: Policy
    cost_factor: float
    credit_factor: float
    before: Agreement
    after: Agreement


def fit(asks: Sequence[AnsweredAsk], policy: Policy, people: People | None = None) -> Fit:
    """The policy of the grid (FACTORS for cost and credit) that agrees most with the user's answers."""
    before = agreement(asks, policy, people)
    best = (before.agreed, 0.0, 1.0, 1.0, before)
    for cost in FACTORS:
        for credit in FACTORS:
            found = agreement(asks, scaled(policy, cost, credit), people)
            distance = -(abs(math.log(cost)) + abs(math.log(credit)))
            if (found.agreed, distance) > best[:2]:
                best = (found.agreed, distance, cost, credit, found)
    _, _, cost, credit, after = best
    return Fit(scaled(policy, cost, credit), cost, credit, before, after)
