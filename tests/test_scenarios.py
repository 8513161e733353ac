"""Scenarios from the principles in DOMAIN.md: concrete dated histories, and what should happen.

Each test tells one small story with the default policy. They are the acceptance tests of the
ledger + standing + policy chain; when a policy change breaks one, the story says why it mattered.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from classifier.weigh.events import Event
from classifier.weigh.ledger import Ledger
from classifier.policy import Policy
from classifier.recommend.decide import Recommendation, recommend
from classifier.recommend.replies import draft_reply
from classifier.weigh.standing import Standing, standing

SENDER = "riley@example.org"


def E(day: str, kind: str, **kw) -> Event:
    return Event(SENDER, day, kind, **kw)


def monthly(kind: str, start: str, months: int) -> list[Event]:
    first = datetime.fromisoformat(start).replace(tzinfo=UTC)
    return [Event(SENDER, first + timedelta(days=30 * i), kind) for i in range(months)]


def assess(history: list[Event], label: str, text: str, at: str, policy: Policy,
           probabilities: dict[str, float] | None = None) -> tuple[Recommendation, Standing]:
    s = standing(history, datetime.fromisoformat(at).replace(tzinfo=UTC), policy)
    return recommend(label, probabilities or {label: 0.9}, s, policy, text), s


def said(r: Recommendation, fragment: str) -> bool:
    return any(fragment in reason for reason in r.reasons)


# ---------------------------------------------------------------- deposits come first


def test_long_time_contributor_who_finally_asks_is_accepted(policy: Policy) -> None:
    """Three years of sharing and commenting, never asked for anything; now: retweet my book launch."""
    history = monthly("shared", "2021-05-01", 36) + monthly("engaged", "2021-05-10", 36) + [E("2022-09-14", "met")]
    r, s = assess(history, "cold_pitch", "My book is out! Could you retweet the launch post?", "2024-05-02", policy)
    assert r.action == "accept"
    assert s.asks == 0 and s.balance > r.cost == 8.0
    assert said(r, "covers the cost of this ask")


def test_strangers_flattering_first_pitch_is_educated(policy: Policy) -> None:
    """'Huge fan!' from someone the ledger has never seen: not a yes, but not a no either."""
    r, s = assess([], "cold_pitch", "Huge fan of your newsletter!! Would you share our app with your readers?",
                  "2024-05-02", policy)
    assert r.action == "educate"
    assert s.first_seen is None
    assert said(r, "Asking is not a crime")
    reply = draft_reply(r.reply, "cold_pitch", "Jo Park", "Partnership?")
    assert reply is not None and reply.startswith("Hi Jo,") and "come to know" in reply


def test_repeat_pitcher_who_was_declined_is_declined(policy: Policy) -> None:
    """Pitched in March (declined), again in April (declined), and again at the end of April."""
    history = [E("2024-03-10", "asked", label="cold_pitch", note="review our SaaS tool"), E("2024-03-11", "declined"),
               E("2024-04-05", "asked", label="cold_pitch", note="following up on our tool"),
               E("2024-04-06", "declined")]
    r, s = assess(history, "cold_pitch", "Just bumping this to the top of your inbox", "2024-04-28", policy)
    assert r.action == "decline"
    assert s.asks_in_window == 2 and s.declined_count == 2
    assert said(r, "They keep asking without giving back") and said(r, "each repeat costs more")
    assert r.reply == "decline_again"  # told no before: the short "as I said before"
    assert "As I said before" in (draft_reply(r.reply, "cold_pitch", "Sam", "bump") or "")


def test_second_ask_is_still_educated_third_in_the_window_is_declined(policy: Policy) -> None:
    """Once is fine, twice is a follow-up; it is the repetition inside a short window that annoys."""
    first = [E("2024-04-01", "asked", label="cold_pitch")]
    second, _ = assess(first, "cold_pitch", "", "2024-04-20", policy)
    assert second.action == "educate"
    third, s = assess(first + [E("2024-04-20", "asked", label="cold_pitch")], "cold_pitch", "", "2024-05-10", policy)
    assert third.action == "decline" and s.asks_in_window == 2


def test_an_ask_spaced_far_from_the_last_is_not_a_repeat(policy: Policy) -> None:
    history = [E("2022-01-10", "asked", label="cold_pitch"), E("2022-11-10", "asked", label="cold_pitch")]
    r, s = assess(history, "cold_pitch", "", "2024-05-01", policy)
    assert s.asks_in_window == 0
    assert r.action == "educate"  # a net taker only when the asks crowd together or were declined


# ---------------------------------------------------------------- it decays; what have you done lately


def test_old_friend_with_years_old_deposits_gets_a_small_favour(policy: Policy) -> None:
    """Met and helped each other a lot in 2016-17, little since. The long record still counts."""
    history = [E("2016-03-01", "met"), E("2016-06-01", "helped"), E("2016-09-01", "helped"),
               E("2017-01-15", "introduced"), E("2017-05-20", "helped"), E("2017-08-02", "referred")]
    r, s = assess(history, "friend_favour", "Any advice on moving to Lisbon?", "2024-05-01", policy)
    assert r.action == "accept"
    assert "last 6 years ago" in s.summary()


def test_old_friend_asking_to_promote_is_educated_not_declined(policy: Policy) -> None:
    """The same old friend asks to put a product in front of the user's audience: a bigger ask than
    the long-faded record covers, but no reason for a no."""
    history = [E("2016-03-01", "met"), E("2016-06-01", "helped"), E("2016-09-01", "helped"),
               E("2017-01-15", "introduced"), E("2017-05-20", "helped"), E("2017-08-02", "referred")]
    r, _ = assess(history, "friend_favour", "Could you share my new startup with your followers?", "2024-05-01",
                  policy)
    assert r.action == "educate"
    assert said(r, "lend your audience")


def test_the_same_friend_had_they_stayed_in_touch_would_be_accepted(policy: Policy) -> None:
    old = [E("2016-03-01", "met"), E("2016-06-01", "helped"), E("2016-09-01", "helped")]
    recent = [E("2024-01-10", "shared"), E("2024-02-20", "helped"), E("2024-04-02", "engaged")]
    faded, s_faded = assess(old, "friend_favour", "please share my launch", "2024-05-01", policy)
    kept, s_kept = assess(old + recent, "friend_favour", "please share my launch", "2024-05-01", policy)
    assert (faded.action, kept.action) == ("educate", "accept")
    assert s_kept.recent_help == 1 and said(kept, "which counts strongly")


def test_one_help_three_years_ago_is_not_enough_for_a_favour(policy: Policy) -> None:
    r, s = assess([E("2021-04-01", "helped")], "friend_favour", "Could you read my thesis draft?", "2024-05-01",
                  policy)
    assert r.action == "educate"
    assert 0 < s.balance < r.cost


# ---------------------------------------------------------------- not a bank account; false whuffie


def test_burst_of_likes_before_a_sales_ask_counts_for_little(policy: Policy) -> None:
    """Twelve likes in five days from a new account, then: 'quick demo of our CRM?'"""
    likes = [Event(SENDER, datetime(2024, 4, 25, 9, tzinfo=UTC) + timedelta(hours=10 * i), "engaged")
             for i in range(12)]
    r, s = assess(likes, "cold_pitch", "Loved your recent posts! Quick demo of our CRM?", "2024-05-01", policy)
    assert r.action == "educate"
    assert s.burst_discounted == 12 and s.balance < 1.0
    assert said(r, "came in a burst just before asking")


def test_the_same_likes_long_before_the_ask_are_worth_more_than_a_burst(policy: Policy) -> None:
    """The deliberate exception to 'older deposits are worth less': deposits clustered right before a
    first ask are discounted as false whuffie; the same deposits made a year earlier are a real record."""
    def likes(start: str) -> list[Event]:
        first = datetime.fromisoformat(start).replace(tzinfo=UTC)
        return [Event(SENDER, first + timedelta(days=i), "engaged") for i in range(6)]
    _, burst = assess(likes("2024-04-20"), "cold_pitch", "", "2024-05-01", policy)
    _, earlier = assess(likes("2023-04-20"), "cold_pitch", "", "2024-05-01", policy)
    assert earlier.burst_discounted == 0 and burst.burst_discounted == 6
    assert earlier.balance > 3 * burst.balance


def test_hit_and_run_asker_who_comes_back_is_declined(policy: Policy) -> None:
    """A flurry of shares, an ask a week later (declined), silence for a year, then a new ask."""
    history = [E("2023-01-02", "shared"), E("2023-01-03", "engaged"), E("2023-01-04", "shared"),
               E("2023-01-10", "asked", label="cold_pitch", note="promote my course"), E("2023-01-11", "declined")]
    r, s = assess(history, "cold_pitch", "New course launching, can you mention it?", "2024-02-01", policy)
    assert s.burst_discounted == 3 and s.balance < 0
    assert r.action == "decline"


def test_declined_stranger_who_then_engages_for_months_is_not_declined(policy: Policy) -> None:
    """Educated once, they took the advice: months of real engagement before asking again."""
    history = [E("2023-06-01", "asked", label="cold_pitch"), E("2023-06-02", "declined"),
               *monthly("engaged", "2023-07-01", 9), *monthly("shared", "2023-07-15", 9), E("2024-02-10", "helped")]
    r, s = assess(history, "cold_pitch", "Would you take a look at our new release?", "2024-05-01", policy)
    assert s.burst_discounted == 0 and s.declined_count == 1
    assert r.action == "accept" and s.balance > r.cost


# ---------------------------------------------------------------- vouching and reciprocity


def test_vouched_stranger_gets_a_favour(policy: Policy) -> None:
    """Dana, whom the user trusts, vouched for them last week; they ask for an intro."""
    r, s = assess([E("2024-04-24", "vouched", note="by dana@example.org")], "friend_favour",
                  "Dana suggested I ask: could you introduce me to your editor?", "2024-05-01", policy)
    assert r.action == "accept"
    assert s.vouched == 1 and said(r, "vouched for them")


def test_vouched_stranger_asking_to_promote_is_educated(policy: Policy) -> None:
    r, _ = assess([E("2024-04-24", "vouched", note="by dana@example.org")], "cold_pitch",
                  "Dana said you might retweet our launch?", "2024-05-01", policy)
    assert r.action == "educate"
    assert not said(r, "no relationship with yet")  # someone vouched: not a stranger


def test_recent_help_from_the_sender_counts_strongly(policy: Policy) -> None:
    """A reader who fixed the user's broken site last month asks them to read a draft."""
    history = [E("2023-11-01", "engaged"), E("2024-04-02", "helped", note="fixed my RSS feed")]
    r, s = assess(history, "friend_favour", "Would you read my draft post?", "2024-05-01", policy)
    assert r.action == "accept"
    assert s.recent_help == 1 and said(r, "helped you once in the last 90 days")


def test_friend_who_has_asked_a_lot_lately_is_no_longer_accepted(policy: Policy) -> None:
    """A good friend, but three favours in five weeks: the fourth ask is not covered."""
    friend = [E("2022-02-01", "met"), *monthly("engaged", "2022-03-01", 20), E("2023-05-01", "helped")]
    asks = [E("2024-03-20", "asked", label="friend_favour"), E("2024-03-21", "favour_granted"),
            E("2024-04-05", "asked", label="friend_favour"), E("2024-04-06", "favour_granted"),
            E("2024-04-22", "asked", label="friend_favour"), E("2024-04-23", "favour_granted")]
    first, _ = assess(friend, "friend_favour", "Could you help me move on Saturday?", "2024-03-20", policy)
    fourth, s = assess(friend + asks, "friend_favour", "Could you help me move on Saturday?", "2024-05-01", policy)
    assert first.action == "accept"
    # Three granted favours outweigh a modest record: by the numbers they now take more than they
    # give. Weighed as a stranger here (no tie given): a net taker, a short no.
    assert fourth.action == "decline" and s.asks_in_window == 3 and s.favours == 3
    assert fourth.cost == pytest.approx(2.5 * 1.5**3) and fourth.reply == "decline"


# ---------------------------------------------------------------- content matters; charity is different


def test_friend_who_sends_spam_is_declined(policy: Policy) -> None:
    """An old friend's account forwards a crypto giveaway: the content decides, not the history."""
    history = [E("2019-01-01", "met"), *monthly("helped", "2023-01-01", 12)]
    r, s = assess(history, "spam", "Claim your free crypto now!!!", "2024-05-01", policy)
    assert s.balance > 10
    assert r.action == "decline" and said(r, "whoever sends it")
    assert r.reply is None and draft_reply("decline", "spam", "Old Friend", "free crypto") is None  # no answer


def test_strangers_charity_ask_is_not_declined(policy: Policy) -> None:
    r, _ = assess([], "charity_ask", "We're raising money for the food bank, please share our page",
                  "2024-05-01", policy)
    assert r.action == "educate"
    assert said(r, "charity ask is not declined")
    assert "cause" in (draft_reply(r.reply, "charity_ask", "Lee", "Food bank appeal") or "")


def test_friends_charity_ask_is_accepted(policy: Policy) -> None:
    history = [E("2023-02-01", "met"), E("2023-06-01", "helped"), *monthly("engaged", "2023-08-01", 8)]
    r, _ = assess(history, "charity_ask", "I'm running the half marathon for the hospice, could you sponsor me?",
                  "2024-05-01", policy)
    assert r.action == "accept"


def test_message_without_an_ask_needs_nothing(policy: Policy) -> None:
    r, _ = assess([E("2024-04-01", "asked", label="cold_pitch"), E("2024-04-02", "declined")], "no_ask",
                  "Thanks for the talk yesterday!", "2024-05-01", policy)
    assert r.action == "none"


def test_an_uncertain_label_is_flagged_but_still_weighed(policy: Policy) -> None:
    r, _ = assess([], "friend_favour", "", "2024-05-01", policy,
                  probabilities={"friend_favour": 0.48, "cold_pitch": 0.44, "spam": 0.08})
    assert r.action == "educate" and r.needs_review
    assert said(r, "check it before acting")


# ---------------------------------------------------------------- through the ledger


def test_ledger_history_across_aliases_and_the_message_itself_not_counted(tmp_path: Path, policy: Policy,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Deposits were recorded under a Twitter handle, the ask comes by e-mail; the ask itself was
    recorded at the message's own time, which must not make it look like a repeat."""
    monkeypatch.setenv("TRIAGE_LEDGER", str(tmp_path / "ledger.db"))
    message_date = datetime(2024, 5, 1, 12, tzinfo=UTC)
    with Ledger() as ledger:
        ledger.record_many([Event("https://twitter.com/RileyQ", f"2023-{m:02d}-15", "shared") for m in range(1, 13)])
        ledger.record(Event("Riley Q <Riley@Example.org>", message_date, "asked", label="cold_pitch",
                            note="retweet my launch"))
        before_alias = standing(ledger.events("riley@example.org", before=message_date), message_date, policy)
        ledger.alias("riley@example.org", "twitter:@rileyq")
        s = standing(ledger.events("riley@example.org", before=message_date), message_date, policy)
    assert before_alias.first_seen is None
    assert s.asks == 0 and sum(s.gave.values()) == 12
    r = recommend("cold_pitch", {"cold_pitch": 0.9}, s, policy, "Could you retweet my launch?")
    assert r.action == "accept"


def test_unknown_sender_through_the_ledger_is_educated(tmp_path: Path, policy: Policy) -> None:
    with Ledger(tmp_path / "ledger.db") as ledger:
        s = standing(ledger.events(None), datetime(2024, 5, 1, tzinfo=UTC), policy)
    assert recommend("friend_favour", {"friend_favour": 0.8}, s, policy).action == "educate"
