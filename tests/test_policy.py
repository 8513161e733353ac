"""The policy file, and recommend(): its contract and its monotonicity (hypothesis)."""

from __future__ import annotations

import tomllib
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.labels import ACTIONS, ASK_LABELS, CLOSE_TIES, DEPOSIT_KINDS, LABELS, TIE_LEVELS
from classifier.weigh.events import Event
from classifier.policy import DEFAULT_POLICY_PATH, Policy, allowed_keys, load_policy, policy_as_toml, policy_docs
from classifier.recommend.decide import action_rank, recommend
from classifier.weigh.standing import Standing, standing
from classifier.weigh.tie import infer_tie

AT = datetime(2024, 6, 1, tzinfo=UTC)
SENDER = "sam@example.org"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- the file


def test_defaults_are_the_packaged_file(policy: Policy) -> None:
    raw = tomllib.loads(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    assert policy.deposit_half_life_days == raw["deposit_half_life_days"] == 365.0
    assert dict(policy.ask_cost) == raw["ask_cost"]
    assert set(policy.deposit_weight) == set(DEPOSIT_KINDS)
    assert set(policy.ask_cost) == {*LABELS, "unlabelled"}


def test_every_key_has_a_comment_in_the_packaged_file() -> None:
    docs = policy_docs()
    undocumented = [key for key in [*allowed_keys(), "deposit_weight", "ask_cost"] if len(docs.get(key, "")) < 15]
    assert undocumented == []


def test_override_key_by_key_including_one_table_entry(tmp_path: Path, policy: Policy) -> None:
    path = write(tmp_path, "burst_factor = 0.25\nnet_taker_asks = 3\n[ask_cost]\ncold_pitch = 6\n")
    custom = load_policy(path)
    assert custom.burst_factor == 0.25 and custom.net_taker_asks == 3
    assert custom.ask_cost["cold_pitch"] == 6.0
    assert custom.ask_cost["charity_ask"] == policy.ask_cost["charity_ask"]  # the rest of the table kept
    assert custom.deposit_half_life_days == policy.deposit_half_life_days
    assert replace(custom, burst_factor=policy.burst_factor, net_taker_asks=policy.net_taker_asks,
                   ask_cost=policy.ask_cost) == policy


def test_unknown_keys_are_named_with_the_allowed_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "half_life = 10\n[ask_cost]\npitch = 2\n")
    with pytest.raises(ValueError) as error:
        load_policy(path)
    message = str(error.value)
    assert "unknown policy key(s) half_life, ask_cost.pitch" in message
    assert "deposit_half_life_days" in message and "ask_cost.cold_pitch" in message
    assert str(path) in message


@pytest.mark.parametrize(("text", "expected"), [
    ("burst_factor = nan", "burst_factor = nan is not allowed; expected a number from 0 to 1"),
    ("vouch_credit = inf", "vouch_credit = inf is not allowed; expected a number >= 0"),
    ("[deposit_weight]\nhelped = nan", "deposit_weight.helped = nan is not allowed"),
    ("burst_factor = 1.5", "burst_factor = 1.5 is not allowed; expected a number from 0 to 1"),
    ("deposit_half_life_days = 0", "deposit_half_life_days = 0 is not allowed; expected a number > 0"),
    ("repeat_escalation = 0.5", "repeat_escalation = 0.5 is not allowed; expected a number from 1 to 10"),
    ("recent_help_multiplier = 0.9", "expected a number >= 1"),
    ("vouch_credit = \"lots\"", "vouch_credit = 'lots' is not allowed"),
    ("vouch_credit = true", "vouch_credit = True is not allowed"),
    ("net_taker_asks = 2.5", "net_taker_asks = 2.5 is not allowed; expected a whole number >= 0"),
    ("promotion_words = \"retweet\"", "expected a list of non-empty strings"),
    ("ask_cost = 3", "ask_cost must be a table [ask_cost]"),
    ("[ask_cost]\nspam = -1", "ask_cost.spam = -1 is not allowed; expected a number >= 0"),
    ("withdrawal_half_life_days = 100", "expected at least deposit_half_life_days (365)"),
    ("this is = not toml [", "not valid TOML"),
])
def test_bad_values_are_refused_by_name(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ValueError) as error:
        load_policy(write(tmp_path, text + "\n"))
    assert expected in str(error.value)


def test_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_policy(tmp_path / "nope.toml")


def test_policy_as_toml_reads_back_unchanged_and_is_commented(tmp_path: Path, policy: Policy) -> None:
    custom = replace(policy, burst_factor=0.3, promotion_words=("boost", 'say "hi"'),
                     ask_cost={**policy.ask_cost, "spam": 9.5})
    text = policy_as_toml(custom)
    assert load_policy(write(tmp_path, text)) == custom
    assert "# ...count only this share of their weight" in text
    assert all(len(line) <= 100 for line in text.splitlines() if line.startswith("#"))
    keys = [line.split(" =")[0] for line in text.splitlines() if " = " in line and not line.startswith("#")]
    assert len(keys) == len(allowed_keys())


def test_nothing_is_read_at_import_time() -> None:
    import classifier.policy as module
    assert not any(isinstance(value, Policy) for value in vars(module).values())


# ---------------------------------------------------------------- recommend: the contract


def test_spam_is_declined_even_from_a_generous_friend(policy: Policy) -> None:
    friend = standing([Event(SENDER, AT - timedelta(days=d), "helped") for d in (10, 100, 400)], AT, policy)
    r = recommend("spam", {"spam": 0.95, "no_ask": 0.05}, friend, policy)
    assert r.action == "decline" and not r.needs_review
    assert any("whoever sends it" in reason for reason in r.reasons)


def test_no_ask_is_none(policy: Policy) -> None:
    r = recommend("no_ask", {"no_ask": 0.9}, None, policy)
    assert (r.action, r.cost) == ("none", 0.0)


@pytest.mark.parametrize("label", ASK_LABELS)
def test_unknown_sender_is_educated_never_declined(policy: Policy, label: str) -> None:
    for s in (None, Standing()):
        r = recommend(label, {label: 0.9}, s, policy, "please retweet our launch to your followers")
        assert r.action == "educate"
        assert r.reasons[0] == "You have no history with them."


@pytest.mark.parametrize(("probabilities", "review"), [
    ({"cold_pitch": 0.9, "spam": 0.1}, False),
    ({"cold_pitch": 0.55, "spam": 0.45}, True),   # below review_below
    ({"cold_pitch": 0.62, "spam": 0.38}, False),
    ({"cold_pitch": 0.61, "charity_ask": 0.0, "spam": 0.5}, True),  # top two closer than review_margin
    ({}, False),                                   # a label set by hand
])
def test_needs_review(policy: Policy, probabilities: dict[str, float], review: bool) -> None:
    r = recommend("cold_pitch", probabilities, None, policy)
    assert r.needs_review is review
    assert any("check" in reason for reason in r.reasons) is review


@pytest.mark.parametrize(("probabilities", "message"), [
    ({"pitch": 0.9}, "unknown label 'pitch' in probabilities"),
    ({"spam": float("nan")}, "probability of spam is nan"),
    ({"spam": 1.2}, "probability of spam is 1.2"),
])
def test_bad_probabilities_are_refused(policy: Policy, probabilities: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        recommend("spam", probabilities, None, policy)


def test_bad_label_is_refused(policy: Policy) -> None:
    with pytest.raises(ValueError, match="unknown label 'pitch'"):
        recommend("pitch", {}, None, policy)


def test_every_action_is_known() -> None:
    assert set(ACTIONS) >= {"accept", "educate", "decline", "none"}
    assert action_rank("decline") < action_rank("educate") < action_rank("accept")
    with pytest.raises(ValueError, match="action 'none' has no rank"):
        action_rank("none")


# ---------------------------------------------------------------- recommend: monotone (hypothesis)

# Days before the ask, drawn at three scales so that bursts, repeat windows and old records all turn up.
DAYS = st.one_of(st.floats(0.01, 15), st.floats(15, 200), st.floats(200, 3000))
WEIGHTS = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(min_value=0, max_value=5))
TEXTS = st.sampled_from(["", "Could you share our launch with your followers?", "help me move on Saturday"])


def at_days(kind: str, days: float, weight: float = 1.0, **kw) -> Event:
    return Event(SENDER, AT - timedelta(days=days), kind, weight=weight, **kw)


deposits = st.builds(at_days, st.sampled_from(DEPOSIT_KINDS), DAYS, WEIGHTS)
asks = st.builds(lambda d, w, label, note: at_days("asked", d, w, label=label, note=note),
                 DAYS, WEIGHTS, st.sampled_from([None, *LABELS]), TEXTS)
takings = st.one_of(asks, st.builds(at_days, st.sampled_from(["favour_granted", "declined"]), DAYS, WEIGHTS))
vouches = st.builds(at_days, st.just("vouched"), DAYS, WEIGHTS)
histories = st.lists(st.one_of(deposits, takings, vouches), max_size=12)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """Any valid policy, not only the defaults: monotonicity must not depend on the numbers chosen."""
    base = load_policy()
    deposit_half_life = draw(st.floats(30, 2000))
    return replace(
        base,
        deposit_half_life_days=deposit_half_life,
        withdrawal_half_life_days=deposit_half_life * draw(st.floats(1, 3)),
        long_term_floor=draw(st.floats(0, 1)),
        recent_days=draw(st.floats(0, 365)),
        recent_help_multiplier=draw(st.floats(1, 4)),
        burst_window_days=draw(st.floats(0, 120)),
        burst_factor=draw(st.floats(0, 1)),
        vouch_credit=draw(st.floats(0, 10)),
        withdrawal_multiplier=draw(st.floats(1, 3)),
        repeat_window_days=draw(st.floats(0, 365)),
        repeat_escalation=draw(st.floats(1, 3)),
        promotion_multiplier=draw(st.floats(1, 4)),
        net_taker_asks=draw(st.integers(0, 4)),
        net_taker_balance=draw(st.floats(-10, 10)),
        tie_close_points=draw(st.floats(1, 20)),
        tie_acquaintance_points=draw(st.floats(0.5, 10)),
        # credits that never grow as ties get farther, debts forgiven for the closest few (as load_policy checks)
        tie_credit=dict(zip(TIE_LEVELS, sorted(draw(st.lists(st.floats(0, 40), min_size=5, max_size=5)), reverse=True))),
        ties_without_debt=TIE_LEVELS[:draw(st.integers(0, len(TIE_LEVELS)))],
    )


def rank(events: list[Event], label: str, text: str, policy: Policy) -> int:
    r = recommend(label, {label: 0.9}, standing(events, AT, policy), policy, text)
    return action_rank(r.action)


@settings(max_examples=400, deadline=None)
@given(histories, st.lists(deposits, min_size=1, max_size=6), st.sampled_from(ASK_LABELS), TEXTS, policies())
def test_adding_deposits_never_makes_the_action_worse(history, extra, label, text, policy) -> None:
    assert rank(history + extra, label, text, policy) >= rank(history, label, text, policy)


@settings(max_examples=400, deadline=None)
@given(histories, st.lists(takings, min_size=1, max_size=6), st.sampled_from(ASK_LABELS), TEXTS, policies())
def test_adding_asks_never_makes_the_action_better(history, extra, label, text, policy) -> None:
    assert rank(history + extra, label, text, policy) <= rank(history, label, text, policy)


@settings(max_examples=400, deadline=None)
@given(st.lists(deposits, max_size=8), st.lists(st.one_of(takings, vouches), max_size=6),
       DAYS, st.sampled_from(ASK_LABELS), TEXTS, policies())
def test_ageing_the_same_deposits_never_makes_the_action_better(gifts, others, shift, label, text, policy) -> None:
    """The same deposits made ``shift`` days earlier. The sender is known from long before any ask
    (the anchor), so the false-whuffie rule is not in play: that rule deliberately values a burst
    right before an ask below the same deposits made long before (see test_scenarios)."""
    anchor = at_days("met", 3000 + policy.burst_window_days + 1)
    older = [replace(g, date=g.date - timedelta(days=shift)) for g in [anchor, *gifts]]
    assert rank(older + others, label, text, policy) <= rank([anchor, *gifts] + others, label, text, policy)


# The same three properties one level down, on the balance itself: stricter than the action (which
# only changes at thresholds), so a rule that bends the wrong way is caught even when no action flips.


@settings(max_examples=400, deadline=None)
@given(histories, st.lists(deposits, min_size=1, max_size=6), policies())
def test_adding_deposits_never_lowers_the_balance(history, extra, policy) -> None:
    before, after = standing(history, AT, policy), standing(history + extra, AT, policy)
    assert after.balance >= before.balance
    assert after.asks_in_window == before.asks_in_window


@settings(max_examples=400, deadline=None)
@given(histories, st.lists(takings, min_size=1, max_size=6), policies())
def test_adding_asks_never_raises_the_balance(history, extra, policy) -> None:
    before, after = standing(history, AT, policy), standing(history + extra, AT, policy)
    assert after.balance <= before.balance
    assert after.asks_in_window >= before.asks_in_window
    assert after.declined_count >= before.declined_count


@settings(max_examples=400, deadline=None)
@given(st.lists(deposits, max_size=8), st.lists(st.one_of(takings, vouches), max_size=6),
       DAYS, policies())
def test_ageing_the_same_deposits_never_raises_the_balance(gifts, others, shift, policy) -> None:
    anchor = at_days("met", 3000 + policy.burst_window_days + 1)
    older = [replace(g, date=g.date - timedelta(days=shift)) for g in [anchor, *gifts]]
    assert standing(older + others, AT, policy).balance <= standing([anchor, *gifts] + others, AT, policy).balance


@settings(max_examples=200, deadline=None)
@given(histories, st.sampled_from(LABELS), TEXTS, policies())
def test_first_asks_are_never_declined_unless_spam(history, label, text, policy) -> None:
    """Courage is not a crime: whatever someone gave, their first ask is never declined."""
    first = [e for e in history if e.kind not in ("asked", "declined")]
    action = recommend(label, {label: 0.9}, standing(first, AT, policy), policy, text).action
    assert action != "decline" or label == "spam"
    assert action == "none" if label == "no_ask" else action in ("accept", "educate", "decline")


def test_policy_fields_all_have_a_check() -> None:
    assert all("check" in f.metadata for f in fields(Policy))


# ---------------------------------------------------------------- ties (weigh.tie) keep the properties

TIE_RANK = {level: rank for rank, level in enumerate(reversed(TIE_LEVELS))}  # stranger 0 ... family 4
evidence = st.builds(lambda kind, d, note: at_days(kind, d, note=note), st.sampled_from(["warm", "kin", "replied"]),
                     DAYS, st.sampled_from(["from you", "from them"]))
lives = st.lists(st.one_of(deposits, takings, vouches, evidence), max_size=14)


def tie_rank(events: list[Event], policy: Policy) -> int:
    return TIE_RANK[infer_tie(events, AT, policy).level]


def rank_with_tie(events: list[Event], label: str, text: str, policy: Policy, tie: str) -> int:
    declared = infer_tie(events, AT, policy, tie)
    r = recommend(label, {label: 0.9}, standing(events, AT, policy), policy, text, tie=declared)
    return action_rank(r.action)


@settings(max_examples=300, deadline=None)
@given(lives, st.lists(deposits, min_size=1, max_size=6), policies())
def test_more_deposits_never_weaken_a_tie(history, extra, policy) -> None:
    assert tie_rank(history + extra, policy) >= tie_rank(history, policy)


@settings(max_examples=300, deadline=None)
@given(lives, st.lists(takings, min_size=1, max_size=6), policies())
def test_asks_favours_and_declines_never_change_a_tie(history, extra, policy) -> None:
    assert tie_rank(history + extra, policy) == tie_rank(history, policy)


@settings(max_examples=300, deadline=None)
@given(lives, st.lists(deposits, min_size=1, max_size=6), st.sampled_from(ASK_LABELS), TEXTS, policies(),
       st.sampled_from(TIE_LEVELS))
def test_for_any_tie_adding_deposits_never_makes_the_action_worse(history, extra, label, text, policy, tie) -> None:
    assert rank_with_tie(history + extra, label, text, policy, tie) >= rank_with_tie(history, label, text, policy, tie)


@settings(max_examples=300, deadline=None)
@given(lives, st.lists(takings, min_size=1, max_size=6), st.sampled_from(ASK_LABELS), TEXTS, policies(),
       st.sampled_from(TIE_LEVELS))
def test_for_any_tie_adding_asks_never_makes_the_action_better(history, extra, label, text, policy, tie) -> None:
    assert rank_with_tie(history + extra, label, text, policy, tie) <= rank_with_tie(history, label, text, policy, tie)


@settings(max_examples=300, deadline=None)
@given(lives, st.sampled_from(ASK_LABELS), TEXTS, policies(), st.sampled_from(TIE_LEVELS), st.sampled_from(TIE_LEVELS))
def test_a_closer_tie_never_turns_an_accept_into_anything_else(history, label, text, policy, a, b) -> None:
    closer, farther = (a, b) if TIE_RANK[a] >= TIE_RANK[b] else (b, a)
    if rank_with_tie(history, label, text, policy, farther) == action_rank("accept"):
        assert rank_with_tie(history, label, text, policy, closer) == action_rank("accept")


@settings(max_examples=200, deadline=None)
@given(lives, st.sampled_from(ASK_LABELS), TEXTS, policies(), st.sampled_from(CLOSE_TIES))
def test_close_ties_never_get_the_lesson(history, label, text, policy, tie) -> None:
    declared = infer_tie(history, AT, policy, tie)
    r = recommend(label, {label: 0.9}, standing(history, AT, policy), policy, text, tie=declared)
    assert r.action in ("accept", "decline") and r.reply in ("accept", "decline_personal")


@pytest.mark.parametrize(("text", "expected"), [
    ("[tie_credit]\nstranger = 50.0\n", "tie_credit = .* never grow as ties get farther"),
    ('ties_without_debt = ["acquaintance"]\n', "forgiven only if every closer tie's are too"),
    ('ties_without_debt = ["cousin"]\n', "expected a list of ties from family, close"),
])
def test_tie_settings_that_would_favour_strangers_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        load_policy(write(tmp_path, text))
