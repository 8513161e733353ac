"""The recommendation: an action, its reasons and the reply it calls for, from a label, the model's
probabilities, the sender's standing, how close the tie is, how the message was sent, and the policy.

``recommend`` is pure: it never reads the ledger, so it can be tested with literals. The rules, in order:

1. a message that claims to be someone you know, from an address you never used with them, asking for
   money or codes, is declined as a scam; spam is declined whoever sends it; no ask, nothing to weigh;
2. mass-sent mail (a list, a press release, a campaign, a chaser) from anyone you are not close to is
   declined with no reply needed: a lesson each would be 23 replies where a person writes 5;
3. an ask is accepted when the sender's standing plus the credit of the tie covers its cost;
4. otherwise someone you are close to, or work with, gets a kind, personal no, never the "build a
   relationship first" lesson; a net taker is declined; anyone else gets that lesson (educate).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from classifier.labels import KNOWN_TIES, LABELS, check_label
from classifier.policy import Policy
from classifier.weigh.standing import Standing, ask_cost, promotion_hits, repeat_multiplier, times
from classifier.weigh.tie import Tie

ACTION_ORDER: dict[str, int] = {"decline": 0, "educate": 1, "accept": 2}
"""How good an action is for the sender; the monotonicity tests compare these."""


@dataclass(frozen=True)
class Recommendation:
    """One action and why, in sentences a person understands."""

    action: str
    reasons: list[str]
    needs_review: bool
    cost: float = 0.0
    """What this ask costs the sender's standing (0 when there is no ask)."""
    reply: str | None = None
    """The kind of reply due (a recommend.replies template: accept, educate, decline, decline_again,
    decline_personal), or None when none is: no ask, spam, scams and mass mail get no answer."""


@dataclass(frozen=True)
class Delivery:
    """How the message reached you, beyond its words: evidence it was mass-sent (headers and words, in
    plain words), whether it chases an earlier message, and who it claims to be when that is someone
    you know at another address (weigh.people.impersonation)."""

    mass: tuple[str, ...] = ()
    bump: bool = False
    impersonates: str = ""


def recommend(label: str, probabilities: Mapping[str, float], standing: Standing | None, policy: Policy,
              ask_text: str = "", *, tie: Tie | None = None, delivery: Delivery | None = None) -> Recommendation:
    """Weigh the ask (``label``, with ``ask_text``: subject and text) against the sender's standing and
    tie (see the module's rules).

    ``probabilities`` maps labels to the model's probabilities (may be empty when the label was set by
    hand); ``standing`` None means an unknown sender, ``tie`` None a stranger, ``delivery`` None a
    one-to-one message. For a fixed tie and delivery, more deposits never make the action worse and
    more asks never make it better (decline < educate < accept).
    """
    check_label(label)
    review, review_reasons = _review(probabilities, policy)
    s = standing if standing is not None else Standing()
    t = tie if tie is not None else Tie()
    d = delivery if delivery is not None else Delivery()
    if d.impersonates:
        return Recommendation("decline", [
            f"It claims to be {d.impersonates}, from an address you have never used with them, and asks for "
            "money, details or codes: a likely scam. Check with them another way before doing anything."]
            + review_reasons, review)
    if label == "spam":
        reasons = ["It reads as spam, and spam is declined whoever sends it."]
        if s.deposits > 0 or t.known:
            reasons.append("Their history with you does not change that: the content is the problem, not the sender "
                           "(an account can be hacked).")
        return Recommendation("decline", reasons + review_reasons, review)
    if label == "no_ask":
        reasons = ["There is no ask in this message, so there is nothing to weigh."]
        if d.mass:
            reasons.append(f"It is list or bulk mail ({', '.join(d.mass)}): no reply needed.")
        return Recommendation("none", reasons + review_reasons, review)

    tie_sentence = [t.sentence()] if t.level != "stranger" or t.you_wrote or t.they_wrote else []
    if (d.mass or d.bump) and not t.known:
        how = f"sent to many people ({', '.join(d.mass)})" if d.mass else "a chaser for an earlier message"
        return Recommendation("decline", [_history_sentence(s), *tie_sentence,
                                          f"It is {how}: no reply needed, and no lesson either."]
                              + review_reasons, review, reply=None)

    cost, cost_reasons = _price(label, ask_text, s, policy)
    credit = policy.tie_credit[t.level]
    reasons = [_history_sentence(s), *tie_sentence] + cost_reasons + _credit_sentences(s, policy)
    first_ask = s.asks == 0 and s.declined_count == 0
    net_taker = (not first_ask and s.balance <= policy.net_taker_balance
                 and (s.declined_count > 0 or s.asks_in_window >= policy.net_taker_asks))
    balance = s.balance
    if t.level in policy.ties_without_debt and balance < 0:
        balance = 0.0
        reasons.append(f"What {t.level} take is not held against them (standing {s.balance:+.1f} counts as 0); "
                       "only how much they asked lately does.")
    if balance + credit >= cost:
        action, reply = "accept", "accept"
        if credit:
            reasons.append(f"Their standing ({balance:+.1f}) and your tie (+{credit:g}) cover the cost of this "
                           f"ask ({cost:.1f}).")
        else:
            reasons.append(f"Their standing ({s.balance:+.1f}) covers the cost of this ask ({cost:.1f}).")
    elif t.known:
        action, reply = "decline", "decline_personal"
        recent = f"they asked {times(s.asks_in_window)} in the last {policy.repeat_window_days:g} days, and " \
            if s.asks_in_window else ""
        reasons.append(f"This one is too much right now: {recent}their standing ({balance:+.1f}) with your tie "
                       f"(+{credit:g}) does not cover it ({cost:.1f}). A kind, personal no, not a lesson.")
    elif net_taker:
        action, reply = "decline", "decline_again" if s.declined_count else "decline"
        declined = f", and you declined them {times(s.declined_count)} before" if s.declined_count else ""
        reasons.append(f"They keep asking without giving back (standing {s.balance:+.1f}){declined}.")
    else:
        action, reply = "educate", "educate"
        reasons.append(_educate_sentence(label, s, cost, first_ask, credit))
    return Recommendation(action, reasons + review_reasons, review, cost, reply)


def _review(probabilities: Mapping[str, float], policy: Policy) -> tuple[bool, list[str]]:
    """Whether the label is too uncertain to act on without a look, and why."""
    for name, p in probabilities.items():
        if name not in LABELS:
            raise ValueError(f"unknown label {name!r} in probabilities; expected one of {', '.join(LABELS)}")
        if isinstance(p, bool) or not isinstance(p, int | float) or not math.isfinite(p) or not 0 <= p <= 1:
            raise ValueError(f"probability of {name} is {p!r}; expected a number from 0 to 1")
    if not probabilities:
        return False, []
    ranked = sorted(probabilities.values(), reverse=True)
    top, second = ranked[0], (ranked[1] if len(ranked) > 1 else 0.0)
    if top < policy.review_below:
        return True, [f"The label is uncertain (top probability {top:.2f}); check it before acting."]
    if top - second < policy.review_margin:
        return True, [f"Two labels are close ({top:.2f} and {second:.2f}); check the label before acting."]
    return False, []


def _price(label: str, ask_text: str, s: Standing, policy: Policy) -> tuple[float, list[str]]:
    """The cost of this ask, and the sentences that explain it."""
    cost = ask_cost(label, ask_text, policy) * repeat_multiplier(s.asks_in_window, policy)
    reasons = []
    hits = promotion_hits(ask_text, policy.promotion_words)
    if hits and policy.promotion_multiplier > 1:
        reasons.append(f"It asks you to lend your audience or reputation ({', '.join(hits[:3])}), "
                       f"which costs {policy.promotion_multiplier:g} times more.")
    if s.asks_in_window and policy.repeat_escalation > 1:
        reasons.append(f"They already asked {times(s.asks_in_window)} in the last {policy.repeat_window_days:g} "
                       f"days, and each repeat costs more.")
    return cost, reasons


def _history_sentence(s: Standing) -> str:
    if s.first_seen is None:
        return "You have no history with them."
    return f"Your history with them: {s.summary()}."


def _credit_sentences(s: Standing, policy: Policy) -> list[str]:
    sentences = []
    if s.vouched:
        sentences.append(f"Someone you trust vouched for them, which gives them starting credit "
                         f"({s.vouch_credit:+.1f}).")
    if s.burst_discounted:
        sentences.append(f"{s.burst_discounted} of their deposits came in a burst just before asking, with no "
                         f"earlier history, so they count for little.")
    if s.recent_help:
        sentences.append(f"They helped you {times(s.recent_help)} in the last {policy.recent_days:g} days, "
                         f"which counts strongly.")
    return sentences


def _educate_sentence(label: str, s: Standing, cost: float, first_ask: bool, credit: float) -> str:
    stranger = first_ask and s.deposits <= 0 and s.vouch_credit <= 0 and credit <= 0
    if stranger and label == "charity_ask":
        return ("A stranger's charity ask is not declined; a kind reply leaves the door open without "
                "lending your name to a cause you do not know yet.")
    if stranger:
        return ("This is a first ask from someone you have no relationship with yet. Asking is not a crime, "
                "so a kind reply that explains how to build one is better than a no.")
    with_tie = f" with your tie (+{credit:g})" if credit else ""
    return (f"Their standing ({s.balance:+.1f}){with_tie} does not cover the cost of this ask ({cost:.1f}), so a "
            f"kind reply that explains how to build the relationship is better than a yes.")


def reply_for(action: str, tie: str = "stranger") -> str | None:
    """The reply a person's own choice of ``action`` calls for (a reply kind), given how close the
    sender is: a no to someone close is a personal one."""
    if action == "decline":
        return "decline_personal" if tie in KNOWN_TIES else "decline"
    return action if action in ("accept", "educate") else None


def action_rank(action: str) -> int:
    """decline 0 < educate 1 < accept 2 (for comparing recommendations of an ask)."""
    if action not in ACTION_ORDER:
        raise ValueError(f"action {action!r} has no rank; expected one of {', '.join(ACTION_ORDER)}")
    return ACTION_ORDER[action]
