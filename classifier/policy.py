"""The policy file: every weight, half-life, cost and threshold, with its meaning.

The defaults are policy.toml beside this module (package data); a user's file overrides any key. Both
the weighing (weigh.standing) and the recommending (recommend.decide) read their numbers from here,
and nothing is read at import time.
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

from classifier.labels import DEPOSIT_KINDS, LABELS, TIE_LEVELS

DEFAULT_POLICY_PATH = Path(__file__).resolve().with_name("policy.toml")
ASK_COST_KEYS: tuple[str, ...] = (*LABELS, "unlabelled")

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
    tie_close_points: float = _key("positive")
    tie_acquaintance_points: float = _key("positive")
    ties_without_debt: tuple[str, ...] = _key("ties")
    deposit_weight: Mapping[str, float] = _key("table")
    ask_cost: Mapping[str, float] = _key("table")
    tie_credit: Mapping[str, float] = _key("table")


_TABLE_KEYS: dict[str, tuple[str, ...]] = {"deposit_weight": DEPOSIT_KINDS, "ask_cost": ASK_COST_KEYS,
                                           "tie_credit": TIE_LEVELS}


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
        elif check == "ties":
            if not isinstance(value, list) or not all(isinstance(w, str) and w in TIE_LEVELS for w in value):
                raise ValueError(f"{source}: {f.name} = {value!r} is not allowed; expected a list of ties from "
                                 f"{', '.join(TIE_LEVELS)}")
            values[f.name] = tuple(value)
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
    credits = [values["tie_credit"][tie] for tie in TIE_LEVELS]  # closest first
    if any(closer < farther for closer, farther in zip(credits, credits[1:])):
        raise ValueError(f"{source}: tie_credit = {values['tie_credit']} is not allowed; expected credits that never "
                         f"grow as ties get farther ({' >= '.join(TIE_LEVELS)})")
    forgiven = [tie in values["ties_without_debt"] for tie in TIE_LEVELS]
    if any(farther and not closer for closer, farther in zip(forgiven, forgiven[1:])):
        raise ValueError(f"{source}: ties_without_debt = {list(values['ties_without_debt'])} is not allowed; a tie's "
                         f"debts can be forgiven only if every closer tie's are too ({', '.join(TIE_LEVELS)})")
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
