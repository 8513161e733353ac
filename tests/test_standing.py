"""standing(): each rule of DOMAIN.md, checked with exact numbers on small dated histories."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.weigh.events import Event
from classifier.policy import Policy, load_policy
from classifier.weigh.standing import Standing, _promotion_pattern, ask_cost, promotion_hits, standing

AT = datetime(2024, 6, 1, tzinfo=UTC)
SENDER = "sam@example.org"


@pytest.fixture(scope="module")
def flat(policy: Policy) -> Policy:
    """The defaults with decay, floors, reciprocity and false-whuffie switched off, one rule at a time
    switched back on by each test, so the arithmetic is exact."""
    return replace(policy, deposit_half_life_days=1e12, withdrawal_half_life_days=1e12, long_term_floor=0.0,
                   recent_help_multiplier=1.0, burst_factor=1.0)


def e(kind: str, days_ago: float, **kw) -> Event:
    return Event(SENDER, AT - timedelta(days=days_ago), kind, **kw)


def test_never_seen_is_the_empty_standing(policy: Policy) -> None:
    s = standing([], AT, policy)
    assert (s.balance, s.deposits, s.withdrawals, s.asks, s.first_seen) == (0.0, 0.0, 0.0, 0, None)
    assert s.summary() == "no history" and Standing().summary() == "no history"
    assert s.history == [(AT, 0.0)]


def test_deposits_halve_every_half_life(flat: Policy) -> None:
    p = replace(flat, deposit_half_life_days=365.0)
    assert standing([e("shared", 0.0001)], AT, p).balance == pytest.approx(1.5, rel=1e-6)
    assert standing([e("shared", 365)], AT, p).balance == pytest.approx(0.75)
    assert standing([e("shared", 730)], AT, p).balance == pytest.approx(0.375)


def test_old_deposits_keep_a_floor(flat: Policy) -> None:
    p = replace(flat, deposit_half_life_days=365.0, long_term_floor=0.2)
    assert standing([e("helped", 3650)], AT, p).balance == pytest.approx(3.0 * 0.2)
    assert standing([e("helped", 365)], AT, p).balance == pytest.approx(1.5)  # above the floor


def test_weight_scales_a_deposit(flat: Policy) -> None:
    assert standing([e("engaged", 1, weight=4)], AT, flat).balance == pytest.approx(2.0)
    assert standing([e("engaged", 1, weight=0)], AT, flat).balance == 0.0


def test_only_events_strictly_before_at_count(policy: Policy) -> None:
    on_the_dot = Event(SENDER, AT, "helped")
    just_before = Event(SENDER, AT - timedelta(seconds=1), "helped")
    assert standing([on_the_dot], AT, policy).first_seen is None
    assert standing([on_the_dot, just_before], AT, policy).first_seen == just_before.date
    assert standing([e("helped", -3)], AT, policy).balance == 0.0  # a future event


@pytest.mark.parametrize("days_ago", [1, 60, 200, 1000, 5000])
def test_a_favour_granted_outweighs_the_same_help_received(policy: Policy, days_ago: float) -> None:
    """Earned slowly, spent quickly: at every age, with the recent bonus and the floor in play."""
    base = [e("met", 4000)]  # an old acquaintance, so that the burst rule stays out of it
    received = standing([*base, e("helped", days_ago)], AT, policy).deposits - standing(base, AT, policy).deposits
    granted = standing([*base, e("favour_granted", days_ago)], AT, policy).withdrawals
    assert received > 0
    assert granted >= policy.withdrawal_multiplier * received * (1 - 1e-12)
    assert standing([*base, e("helped", days_ago), e("favour_granted", days_ago)], AT, policy).balance < \
        standing(base, AT, policy).balance


def test_ask_cost_by_label(flat: Policy) -> None:
    costs = {label: standing([e("asked", 1, label=label)], AT, flat).withdrawals
             for label in ("cold_pitch", "charity_ask", "friend_favour", "spam", "no_ask")}
    assert costs == pytest.approx({"cold_pitch": 4.0, "charity_ask": 2.0, "friend_favour": 2.5, "spam": 8.0,
                                   "no_ask": 0.0})
    assert standing([e("asked", 1)], AT, flat).withdrawals == pytest.approx(3.0)  # unlabelled


def test_a_recorded_ask_to_promote_costs_more(flat: Policy) -> None:
    plain = standing([e("asked", 1, label="friend_favour", note="help me move a sofa")], AT, flat)
    promo = standing([e("asked", 1, label="friend_favour", note="share my new post with your followers")], AT, flat)
    assert promo.withdrawals == pytest.approx(2 * plain.withdrawals) == 5.0


@pytest.mark.parametrize(("text", "cost"), [
    ("", 4.0),
    ("Would you be open to a quick call about our analytics tool?", 4.0),
    ("Could you RT this for us?", 8.0),
    ("Please share our launch", 8.0),
    ("We'd love it if you retweeted the announcement", 8.0),
    ("a short testimonial for our landing page", 8.0),
    ("would you mention it to your audience?", 8.0),
    ("Help us spread\nthe   word!", 8.0),
    ("our shareholder letter is attached", 4.0),  # whole words only
    ("the article reshared widely", 4.0),
])
def test_ask_cost_raises_for_promotion(policy: Policy, text: str, cost: float) -> None:
    assert ask_cost("cold_pitch", text, policy) == cost


def test_ask_cost_unlabelled_and_unknown(policy: Policy) -> None:
    assert ask_cost(None, "", policy) == 3.0
    with pytest.raises(ValueError, match="unknown ask label 'pitch'; expected one of cold_pitch"):
        ask_cost("pitch", "", policy)


def test_promotion_hits_in_order_of_appearance(policy: Policy) -> None:
    hits = promotion_hits("Please retweet and share with your followers, then retweet again", policy.promotion_words)
    assert hits == ["retweet", "share", "your followers"]


def _promotion_hits_by_regex(text: str, words) -> list[str]:
    """The first implementation: whitespace collapsed by a regex, kept as the reference."""
    if not text or not words:
        return []
    normalised = re.sub(r"\s+", " ", text.lower())
    return list(dict.fromkeys(m.group(1) for m in _promotion_pattern(tuple(words)).finditer(normalised)))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["Share", "shared", "shout", "out", "shout-out", "RT", "start", "your", "list",
                                 "signal", "boost", "x", "#", "é", "ﬁ"]), max_size=8),
       st.lists(st.sampled_from([" ", "  ", "\n", "\t", "\u2003", "\x1c", "", ",", "-"]), min_size=8, max_size=8))
def test_promotion_hits_equal_the_regex_reference(pieces: list[str], gaps: list[str]) -> None:
    text = gaps[0] + "".join(piece + gap for piece, gap in zip(pieces, gaps[1:] + gaps))
    words = load_policy().promotion_words
    assert promotion_hits(text, words) == _promotion_hits_by_regex(text, words)
    hits = promotion_hits(text, words)
    hits.append("mutated")  # a caller's list is its own: the cache behind it is untouched
    assert promotion_hits(text, words) == _promotion_hits_by_regex(text, words)


def test_repeated_asks_cost_progressively_more(flat: Policy) -> None:
    asks = [e("asked", 30, label="cold_pitch"), e("asked", 20, label="charity_ask"),
            e("asked", 10, label="friend_favour")]
    s = standing(asks, AT, flat)
    assert s.withdrawals == pytest.approx(4.0 + 2.0 * 1.5 + 2.5 * 1.5**2)  # the later ask pays for the earlier
    assert s.asks == 3 and s.asks_in_window == 3


def test_asks_far_apart_are_not_repeats(flat: Policy) -> None:
    s = standing([e("asked", 400, label="cold_pitch"), e("asked", 200, label="cold_pitch")], AT, flat)
    assert s.withdrawals == pytest.approx(8.0)
    assert s.asks_in_window == 0


def test_withdrawals_decay_more_slowly_than_deposits(policy: Policy) -> None:
    ask = standing([e("asked", 730, label="cold_pitch")], AT, policy)
    assert ask.withdrawals == pytest.approx(4.0 * 0.5)
    deposit = standing([e("met", 730)], AT, policy)
    assert deposit.deposits == pytest.approx(2.0 * 0.25)


def test_burst_before_the_ask_from_a_newcomer_counts_little(flat: Policy) -> None:
    p = replace(flat, burst_factor=0.1)
    burst = [e("engaged", d) for d in (9, 7, 5, 3, 1)]
    s = standing(burst, AT, p)
    assert s.burst_discounted == 5
    assert s.deposits == pytest.approx(5 * 0.5 * 0.1)
    known = standing([e("met", 700), *burst], AT, p)
    assert known.burst_discounted == 0
    assert known.deposits == pytest.approx(2.0 + 5 * 0.5)


def test_hit_and_run_burst_stays_discounted_later(flat: Policy) -> None:
    """Likes, an ask a week later, then silence: a year on, those likes still were not credit;
    what they gave after that ask counts in full."""
    p = replace(flat, burst_factor=0.1)
    history = [e("engaged", 400), e("engaged", 399), e("asked", 395, label="cold_pitch"), e("shared", 300)]
    s = standing(history, AT, p)
    assert s.burst_discounted == 2
    assert s.deposits == pytest.approx(2 * 0.5 * 0.1 + 1.5)


def test_a_vouch_is_starting_credit_that_decays(policy: Policy) -> None:
    fresh = standing([e("vouched", 0.001, note="by Dana")], AT, policy)
    assert fresh.vouch_credit == pytest.approx(4.0, rel=1e-4) and fresh.vouched == 1
    assert fresh.deposits == 0 and fresh.balance == pytest.approx(4.0, rel=1e-4)
    old = standing([e("vouched", 365)], AT, policy)
    assert old.vouch_credit == pytest.approx(2.0)
    assert standing([e("vouched", 1, weight=0.5)], AT, policy).vouch_credit < 2.0


def test_a_vouch_protects_later_deposits_from_the_burst_rule(policy: Policy) -> None:
    likes = [e("engaged", d) for d in (5, 4, 3)]
    assert standing(likes, AT, policy).burst_discounted == 3
    assert standing([e("vouched", 90), *likes], AT, policy).burst_discounted == 0


def test_recent_help_counts_strongly(flat: Policy) -> None:
    p = replace(flat, recent_help_multiplier=2.0, recent_days=90)
    assert standing([e("met", 700), e("helped", 30)], AT, p).deposits == pytest.approx(2 + 6)
    assert standing([e("met", 700), e("helped", 120)], AT, p).deposits == pytest.approx(2 + 3)
    s = standing([e("met", 700), e("introduced", 10), e("referred", 20), e("engaged", 5)], AT, p)
    assert s.recent_help == 2
    assert s.deposits == pytest.approx(2 + 6 + 6 + 0.5)


def test_declines_and_favours_are_counted(policy: Policy) -> None:
    s = standing([e("asked", 20), e("declined", 19), e("asked", 10), e("declined", 9), e("favour_granted", 5)],
                 AT, policy)
    assert (s.declined_count, s.favours, s.asks) == (2, 1, 2)


def test_summary_in_plain_words(policy: Policy) -> None:
    history = [e("helped", 100), e("shared", 90), e("shared", 80),
               e("asked", 40, label="friend_favour"), e("declined", 39), e("asked", 20), e("declined", 19),
               e("asked", 5)]
    s = standing(history, AT, policy)
    assert s.summary() == "gave 3 times (shared, helped), asked 3 times in 40 days, declined twice"
    assert "last" not in s.summary()  # gave within the last half year: nothing to remark on


def test_summary_for_an_old_friend_and_a_single_ask(policy: Policy) -> None:
    s = standing([e("met", 2300), e("helped", 2200), e("asked", 12), e("favour_granted", 11), e("vouched", 2400)],
                 AT, policy)
    assert s.summary() == ("gave twice (met, helped), last 6 years ago, asked once, 12 days ago, "
                           "you did them 1 favour, vouched for once")


def test_history_has_a_point_per_event_time_and_ends_at_the_balance(policy: Policy) -> None:
    history = [e("met", 700), e("helped", 500), e("shared", 500), e("asked", 100, label="cold_pitch")]
    s = standing(history, AT, policy)
    assert [d for d, _ in s.history] == [AT - timedelta(days=700), AT - timedelta(days=500),
                                         AT - timedelta(days=100), AT]
    assert s.history[-1][1] == s.balance
    assert s.history[1][1] > s.history[0][1]  # help and share added on that day
    assert s.history[2][1] < s.history[1][1]  # the ask took some


def test_order_of_events_does_not_matter(policy: Policy) -> None:
    history = [e(k, d, label=("cold_pitch" if k == "asked" else None))
               for k, d in [("met", 400), ("helped", 30), ("asked", 20), ("engaged", 3), ("asked", 2),
                            ("declined", 1), ("vouched", 500)]]
    shuffled = history[:]
    random.Random(7).shuffle(shuffled)
    assert standing(shuffled, AT, policy) == standing(history, AT, policy)


def test_at_must_carry_a_timezone_and_may_be_a_date(policy: Policy) -> None:
    with pytest.raises(ValueError, match="no timezone"):
        standing([], datetime(2024, 6, 1), policy)
    assert standing([e("met", 1)], "2024-06-01", policy).at == AT


def test_an_earlier_ask_or_decline_is_not_history_for_the_burst_rule(policy: Policy) -> None:
    """Asking is not giving: someone who asked long ago and now likes a burst of posts is still new."""
    likes = [e("engaged", 3), e("engaged", 2)]
    assert standing([e("asked", 200), e("declined", 199), *likes], AT, policy).burst_discounted == 2


# ---------------------------------------------------------------- the Timeline equals the plain tally


from classifier.labels import KINDS
from classifier.weigh.standing import Timeline
from standing_reference import reference_standing

_BOUNDARY_HOURS = [0, 1, 24, 24 * 30, 24 * 30 + 1, 24 * 60, 24 * 60 + 1, 24 * 90, 24 * 120, -1]
"""Ties, the burst, repeat and recent windows (30, 60, 90 days) to the hour, and events after AT."""
_EVENT = st.builds(
    lambda kind, hours, weight, label, note: Event(
        SENDER, AT - timedelta(hours=hours), kind, weight=weight,
        label=label if kind == "asked" else None, note=note),
    st.sampled_from(["asked", "asked", "helped", "engaged", *KINDS]),
    st.one_of(st.sampled_from(_BOUNDARY_HOURS), st.integers(-48, 24 * 1500)),
    st.sampled_from([0.0, 0.5, 1.0, 2.0, 1.25]),
    st.sampled_from([None, "cold_pitch", "charity_ask", "friend_favour", "spam"]),
    st.sampled_from(["", "please share my launch", "retweet this", "coffee?"]))


def _fields(s: Standing) -> tuple:
    return (s.balance, s.deposits, s.withdrawals, s.vouch_credit, s.recent_help, s.vouched, s.asks,
            s.asks_in_window, s.declined_count, s.favours, s.burst_discounted, list(s.gave.items()),
            s.first_seen, s.first_ask, s.last_gave, s.at)


@settings(max_examples=1000, deadline=None)
@given(st.lists(_EVENT, max_size=40), st.one_of(st.sampled_from([0, 1, -1]), st.integers(-24 * 30, 24 * 30)))
def test_timeline_equals_the_plain_tally_bit_for_bit(events, shift_hours):
    policy = load_policy()
    at = AT + timedelta(hours=shift_hours)
    assert _fields(standing(events, at, policy, with_history=False)) == _fields(reference_standing(events, at, policy))


def test_one_timeline_serves_every_moment_like_a_fresh_tally(policy: Policy):
    rng = random.Random(5)
    events = []
    for _ in range(600):
        kind = rng.choice(KINDS)
        events.append(Event(SENDER, AT - timedelta(hours=rng.randint(0, 24 * 900)), kind,
                            label=rng.choice(["spam", "cold_pitch"]) if kind == "asked" else None))
    timeline = Timeline(events, policy)
    for days in (-900, -400, -30, -1, 0, 10):
        at = AT + timedelta(days=days)
        assert _fields(standing(timeline, at, policy, with_history=False)) == \
            _fields(reference_standing(events, at, policy))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.floats(0, 20 * 365, allow_nan=False), max_size=60),
       st.sampled_from([365.0, 730.0, 30.0, 0.5, 1e-3]),
       st.one_of(st.sampled_from([0.0, 0.2, 0.5, 1.0, 2 ** -1074]), st.floats(0, 1)))
def test_kept_skips_the_powers_that_fall_below_the_floor_with_the_same_result(ages, half_life, floor):
    import numpy as np

    from classifier.weigh.standing import _kept

    plain = [max(floor, 0.5 ** (age / half_life)) for age in ages]
    assert _kept(np.array(ages, dtype=np.float64), half_life, floor).tolist() == plain
