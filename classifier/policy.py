"""The policy: every weight and threshold (from TOML), and the recommendation that uses them.

``recommend`` is pure: a label, its probabilities, a sender's Standing and a Policy in; an action with
its reasons out. It never reads the ledger, so it can be tested with literals.
"""

from __future__ import annotations

import json
import math
import os
import re
import textwrap
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .events import DEPOSIT_KINDS
from .labels import LABELS, check_label
from .standing import Standing, ask_cost, promotion_hits, repeat_multiplier, times

DEFAULT_POLICY_PATH = Path(__file__).resolve().with_name("policy.toml")
ASK_COST_KEYS: tuple[str, ...] = (*LABELS, "unlabelled")
ACTION_ORDER: dict[str, int] = {"decline": 0, "educate": 1, "accept": 2}
"""How good an action is for the sender; the monotonicity tests compare these."""

# How each key is checked: (kind, description for the error).
_CHECKS = {
    "positive": (lambda v: v > 0, "a number > 0"),
    "non_negative": (lambda v: v >= 0, "a number >= 0"),
    "fraction": (lambda v: 0 <= v <= 1, "a number from 0 to 1"),
    "at_least_one": (lambda v: v >= 1, "a number >= 1"),
    "escalation": (lambda v: 1 <= v <= 10, "a number from 1 to 10"),
    "finite": (lambda v: True, "a finite number"),
}


def _key(check: str) -> Any:
    return field(metadata={"check": check})


@dataclass(frozen=True)
class Policy:
    """Every tunable number; the meaning of each key is documented in classifier/policy.toml."""

    deposit_half_life_days: float = _key("positive")
    withdrawal_half_life_days: float = _key("positive")
    long_term_floor: float = _key("fraction")
    recent_days: float = _key("non_negative")
    recent_help_multiplier: float = _key("at_least_one")
    burst_window_days: float = _key("non_negative")
    burst_factor: float = _key("fraction")
    vouch_credit: float = _key("non_negative")
    withdrawal_multiplier: float = _key("at_least_one")
    repeat_window_days: float = _key("non_negative")
    repeat_escalation: float = _key("escalation")
    promotion_multiplier: float = _key("at_least_one")
    promotion_words: tuple[str, ...] = _key("words")
    net_taker_asks: int = _key("count")
    net_taker_balance: float = _key("finite")
    review_below: float = _key("fraction")
    review_margin: float = _key("fraction")
    deposit_weight: Mapping[str, float] = _key("table")
    ask_cost: Mapping[str, float] = _key("table")


_TABLE_KEYS: dict[str, tuple[str, ...]] = {"deposit_weight": DEPOSIT_KINDS, "ask_cost": ASK_COST_KEYS}


def allowed_keys() -> list[str]:
    """Every key a policy file may set, tables as ``table.key``."""
    keys: list[str] = []
    for f in fields(Policy):
        if f.name in _TABLE_KEYS:
            keys.extend(f"{f.name}.{k}" for k in _TABLE_KEYS[f.name])
        else:
            keys.append(f.name)
    return keys


def load_policy(path: str | os.PathLike[str] | None = None) -> Policy:
    """The packaged defaults, overridden key by key by the TOML file at ``path`` when given."""
    data = _read_toml(DEFAULT_POLICY_PATH)
    if path is not None:
        data = _merge(data, _read_toml(Path(path)), str(path))
    return _build(data, str(path or DEFAULT_POLICY_PATH))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fp:
            return tomllib.load(fp)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML: {error}") from None


def _merge(defaults: dict[str, Any], override: dict[str, Any], source: str) -> dict[str, Any]:
    """``defaults`` with ``override`` laid over it key by key; unknown keys are collected and refused."""
    merged = {name: dict(value) if isinstance(value, dict) else value for name, value in defaults.items()}
    unknown: list[str] = []
    for name, value in override.items():
        if name not in merged:
            unknown.append(name)
        elif isinstance(merged[name], dict):
            if not isinstance(value, dict):
                raise ValueError(f"{source}: {name} must be a table [{name}] with keys "
                                 f"{', '.join(_TABLE_KEYS[name])}; got {value!r}")
            unknown.extend(f"{name}.{k}" for k in value if k not in merged[name])
            merged[name].update(value)
        else:
            merged[name] = value
    if unknown:
        raise ValueError(f"{source}: unknown policy key(s) {', '.join(unknown)}; "
                         f"allowed keys: {', '.join(allowed_keys())}")
    return merged


def _number(value: Any, name: str, check: str, source: str) -> float:
    test, wanted = _CHECKS[check]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or not test(value):
        raise ValueError(f"{source}: {name} = {value!r} is not allowed; expected {wanted}")
    return float(value)


def _build(data: dict[str, Any], source: str) -> Policy:
    """Check every value and make the Policy; errors name the key, the value and what is allowed."""
    missing = [f.name for f in fields(Policy) if f.name not in data]
    unknown = [name for name in data if name not in {f.name for f in fields(Policy)}]
    if missing or unknown:
        raise ValueError(f"{source}: policy keys missing ({', '.join(missing) or 'none'}) or unknown "
                         f"({', '.join(unknown) or 'none'}); allowed keys: {', '.join(allowed_keys())}")
    values: dict[str, Any] = {}
    for f in fields(Policy):
        value, check = data[f.name], f.metadata["check"]
        if check == "table":
            table = {k: _number(value.get(k), f"{f.name}.{k}", "non_negative", source) for k in _TABLE_KEYS[f.name]}
            values[f.name] = table
        elif check == "words":
            if not isinstance(value, list) or not all(isinstance(w, str) and w.strip() for w in value):
                raise ValueError(f"{source}: {f.name} = {value!r} is not allowed; expected a list of non-empty strings")
            values[f.name] = tuple(w.strip().lower() for w in value)
        elif check == "count":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{source}: {f.name} = {value!r} is not allowed; expected a whole number >= 0")
            values[f.name] = value
        else:
            values[f.name] = _number(value, f.name, check, source)
    if values["withdrawal_half_life_days"] < values["deposit_half_life_days"]:
        # Otherwise an old favour granted would end up weighing less than the same old deposit.
        raise ValueError(f"{source}: withdrawal_half_life_days = {values['withdrawal_half_life_days']:g} is not "
                         f"allowed; expected at least deposit_half_life_days "
                         f"({values['deposit_half_life_days']:g}): withdrawals weigh more than deposits")
    return Policy(**values)


def policy_docs() -> dict[str, str]:
    """key -> its comment in the packaged policy.toml (the comment lines right above the key)."""
    docs: dict[str, str] = {}
    comment: list[str] = []
    table = ""
    for line in DEFAULT_POLICY_PATH.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        header = re.fullmatch(r"\[([a-z_]+)\]", stripped)
        key = re.match(r"([a-z_]+)\s*=", line)  # keys start the line; array items are indented
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("#").strip())
        elif header:
            table = header.group(1)
            docs[table], comment = " ".join(comment), []
        elif key:
            docs[f"{table}.{key.group(1)}" if table else key.group(1)], comment = " ".join(comment), []
        elif not stripped:
            comment = []
    return docs


def _toml_value(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "[\n" + "".join(f"    {json.dumps(v, ensure_ascii=False)},\n" for v in value) + "]"
    return repr(value)


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, width=100, initial_indent="# ", subsequent_indent="# ") or ["#"]


def policy_as_toml(policy: Policy) -> str:
    """The policy as a TOML file, each key under its documentation; load_policy reads it back unchanged."""
    docs = policy_docs()
    lines = ["# The effective outreach-triage policy (defaults with any --policy file applied).", ""]
    tables: list[str] = []
    for f in fields(Policy):
        value = getattr(policy, f.name)
        if f.name in _TABLE_KEYS:
            tables += [*_comment(docs.get(f.name, "")), f"[{f.name}]"]
            for k in _TABLE_KEYS[f.name]:
                tables += [*_comment(docs.get(f"{f.name}.{k}", "")), f"{k} = {_toml_value(value[k])}"]
            tables.append("")
        else:
            lines += [*_comment(docs.get(f.name, "")), f"{f.name} = {_toml_value(value)}", ""]
    return "\n".join(lines + tables).rstrip() + "\n"


# ---------------------------------------------------------------- recommendation


@dataclass(frozen=True)
class Recommendation:
    """One action and why, in sentences a person understands."""

    action: str
    reasons: list[str]
    needs_review: bool
    cost: float = 0.0
    """What this ask costs the sender's standing (0 when there is no ask)."""


def recommend(label: str, probabilities: Mapping[str, float], standing: Standing | None, policy: Policy,
              ask_text: str = "") -> Recommendation:
    """Weigh the ask (``label``, with ``ask_text``: subject and text) against the sender's standing.

    ``probabilities`` maps labels to the model's probabilities (may be empty when the label was set by
    hand); ``standing`` None means an unknown sender. Order of goodness: decline < educate < accept.
    """
    check_label(label)
    review, review_reasons = _review(probabilities, policy)
    s = standing if standing is not None else Standing()
    if label == "spam":
        reasons = ["It reads as spam, and spam is declined whoever sends it."]
        if s.deposits > 0:
            reasons.append("Their earlier deposits do not change that: the content is the problem, not the sender.")
        return Recommendation("decline", reasons + review_reasons, review)
    if label == "no_ask":
        return Recommendation("none", ["There is no ask in this message, so there is nothing to weigh."]
                              + review_reasons, review)

    cost, cost_reasons = _price(label, ask_text, s, policy)
    reasons = [_history_sentence(s)] + cost_reasons + _credit_sentences(s, policy)
    first_ask = s.asks == 0 and s.declined_count == 0
    net_taker = (not first_ask and s.balance <= policy.net_taker_balance
                 and (s.declined_count > 0 or s.asks_in_window >= policy.net_taker_asks))
    if s.balance >= cost:
        action = "accept"
        reasons.append(f"Their standing ({s.balance:+.1f}) covers the cost of this ask ({cost:.1f}).")
    elif net_taker:
        action = "decline"
        declined = f", and you declined them {times(s.declined_count)} before" if s.declined_count else ""
        reasons.append(f"They keep asking without giving back (standing {s.balance:+.1f}){declined}.")
    else:
        action = "educate"
        reasons.append(_educate_sentence(label, s, cost, first_ask))
    return Recommendation(action, reasons + review_reasons, review, cost)


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


def _educate_sentence(label: str, s: Standing, cost: float, first_ask: bool) -> str:
    stranger = first_ask and s.deposits <= 0 and s.vouch_credit <= 0
    if stranger and label == "charity_ask":
        return ("A stranger's charity ask is not declined; a kind reply leaves the door open without "
                "lending your name to a cause you do not know yet.")
    if stranger:
        return ("This is a first ask from someone you have no relationship with yet. Asking is not a crime, "
                "so a kind reply that explains how to build one is better than a no.")
    return (f"Their standing ({s.balance:+.1f}) does not cover the cost of this ask ({cost:.1f}), so a kind "
            f"reply that explains how to build the relationship is better than a yes.")


def action_rank(action: str) -> int:
    """decline 0 < educate 1 < accept 2 (for comparing recommendations of an ask)."""
    if action not in ACTION_ORDER:
        raise ValueError(f"action {action!r} has no rank; expected one of {', '.join(ACTION_ORDER)}")
    return ACTION_ORDER[action]


__all__ = ["Policy", "Recommendation", "action_rank", "allowed_keys", "load_policy",
           "policy_as_toml", "policy_docs", "recommend"]
