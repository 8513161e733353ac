"""How close a relationship is, and what that changes: tie evidence, declared ties, address books,
mass mail, impersonation, and the recommendations they lead to."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from classifier.classify.signals import is_bump, kinship, mass_mail_cues, warmth
from classifier.parse.contacts import read_contacts, tie_of_groups
from classifier.parse.message import parse_bytes
from classifier.policy import Policy
from classifier.recommend.decide import Delivery, recommend
from classifier.weigh import people as people_store
from classifier.weigh.events import Event
from classifier.weigh.ledger import Ledger
from classifier.weigh.people import People, name_key
from classifier.weigh.standing import standing
from classifier.weigh.tie import WARM_FROM_THEM, WARM_FROM_YOU, Tie, infer_tie

AT = datetime(2026, 6, 1, tzinfo=UTC)
SIS = "chidi@example.org"


def E(days_before: float, kind: str, **kw) -> Event:
    return Event(SIS, AT - timedelta(days=days_before), kind, **kw)


def weigh(events: list[Event], label: str, policy: Policy, text: str = "", **kw):
    s = standing(events, AT, policy)
    return recommend(label, {label: 0.9}, s if s.first_seen else None, policy, text,
                     tie=kw.pop("tie", None) or infer_tie(events, AT, policy), **kw)


# ---------------------------------------------------------------- the words


@pytest.mark.parametrize(("text", "warm"), [
    ("Done. Brutality level: medium.\n\nMx\n", True), ("KEYS!!!\n\nC xxx", True), ("love you, C", True),
    ("Thanks so much x", True), ("I would love to feature you in our gift guide", False),
    ("Best,\nTom", False), ("> love you\n\nno thanks", False), ("Box 12 x 4 cm", False)])
def test_warm_words(text: str, warm: bool) -> None:
    assert warmth(text) is warm


@pytest.mark.parametrize(("text", "kin"), [
    ("Amara my darling\n\nDid you get home?\n\nlove, Mum", True), ("Home safe Mummy, sorry!", True),
    ("sis the recipe cards are broken", True), ("Of course Ma. Sunday morning.", True), ("Mijo, Abuela is 89", True),
    ("My mum is ill, so I cannot come", False), ("I told my Mum, she laughed", False), ("Ma'am, your order", False),
    ("Hi Maya, my dad loved your piece", False), ("Yes, come grab it at 8.", False)])
def test_words_that_speak_as_family(text: str, kin: bool) -> None:
    assert kinship(text) is kin


def test_mass_mail_cues_and_chasers() -> None:
    assert mass_mail_cues("", "Hi {{first_name}}, quick one") == ["mail-merge placeholders"]
    assert mass_mail_cues("FOR IMMEDIATE RELEASE", "text\n###\n") == ["a press release"]
    assert mass_mail_cues("", "Dear [Client Name], our launch") == ["mail-merge placeholders"]
    assert mass_mail_cues("", "To unsubscribe from these emails, click here") == ["an unsubscribe link"]
    assert mass_mail_cues("Coffee?", "Are you free Thursday?") == []
    assert is_bump("Just bumping this to the top of your inbox!") and is_bump("Circling back on the below.")
    assert not is_bump("> just bumping this\n\nno thanks") and not is_bump("Can you help me move?")


def test_list_headers_are_read_as_bulk_evidence_never_spam() -> None:
    raw = (b"From: News <news@list.example>\r\nTo: me@example.org\r\nList-Id: <news.list.example>\r\n"
           b"List-Unsubscribe: <mailto:u@list.example>\r\nPrecedence: bulk\r\nSubject: Issue 4\r\n\r\nHello\r\n")
    assert parse_bytes(raw).bulk == ["a List-Unsubscribe header", "a List-Id header", "Precedence: bulk"]
    crowd = ", ".join(f"p{i}@example.org" for i in range(12)).encode()
    assert parse_bytes(b"From: a@b.example\r\nTo: " + crowd + b"\r\n\r\nhi\r\n").bulk == ["12 recipients"]
    hidden = b"From: a@b.example\r\nTo: undisclosed-recipients:;\r\n\r\nhi\r\n"
    assert parse_bytes(hidden).bulk == ["undisclosed recipients"]
    assert parse_bytes(b"From: a@b.example\r\nTo: me@example.org\r\n\r\nhi\r\n").bulk == []


# ---------------------------------------------------------------- the tie


def test_a_stranger_has_no_tie_and_says_so(policy: Policy) -> None:
    tie = infer_tie([], AT, policy)
    assert tie == Tie() and tie.level == "stranger"
    assert "no relationship" in tie.sentence()


def test_warm_words_both_ways_make_a_close_tie(policy: Policy) -> None:
    events = [E(200, "engaged"), E(200, "warm", note=WARM_FROM_THEM), E(100, "corresponded"),
              E(100, "warm", note=WARM_FROM_YOU)]
    tie = infer_tie(events, AT, policy)
    assert tie.level == "close" and tie.you_wrote == 1 and tie.they_wrote == 1  # one message each, whatever it made
    assert "warm words in 2 messages" in tie.sentence()


def test_words_of_family_both_ways_make_family_but_not_from_one_side_only(policy: Policy) -> None:
    family = [E(300, "engaged"), E(300, "kin", note=WARM_FROM_THEM), E(299, "corresponded")]
    assert infer_tie(family, AT, policy).level == "family"
    impersonator = [E(3, "kin", note=WARM_FROM_THEM), E(3, "asked", label="friend_favour")]
    assert infer_tie(impersonator, AT, policy).level == "stranger"  # "Mijo its mom" from a new address


def test_asks_never_make_a_tie_and_old_silence_weakens_one(policy: Policy) -> None:
    asks = [E(d, "asked", label="friend_favour") for d in range(1, 40, 3)] + [E(2, "favour_granted")]
    assert infer_tie(asks, AT, policy).level == "stranger"
    exchange = [e for d in (900, 880, 860, 840, 820, 800, 780, 760) for e in (E(d, "engaged"), E(d - 1, "corresponded"))]
    fresh = infer_tie([Event(SIS, e.date + timedelta(days=750), e.kind) for e in exchange], AT, policy)
    quiet = infer_tie(exchange, AT, policy)
    assert fresh.score > quiet.score and quiet.quiet_years >= 2 and "nothing for 2 years" in quiet.sentence()


def test_a_declared_tie_wins_and_names_who_declared_it(policy: Policy) -> None:
    tie = infer_tie([], AT, policy, "family", "contacts.vcf")
    assert tie.level == "family" and tie.sentence() == "They are family (from contacts.vcf)."
    assert infer_tie([], AT, policy, "close").sentence() == "They are close (you said so)."
    with pytest.raises(ValueError, match="unknown tie 'cousin'; expected one of family, close"):
        infer_tie([], AT, policy, "cousin")


# ---------------------------------------------------------------- what the tie changes


def test_a_sister_who_owes_you_is_still_accepted(policy: Policy) -> None:
    """Maya once helped with her CV (a favour granted costs); her sister's small ask is still a yes."""
    events = [E(150, "asked", label="friend_favour"), E(149, "favour_granted"), E(140, "engaged")]
    stranger = weigh(events, "friend_favour", policy, "Free Saturday at 11? Brunch on me")
    family = weigh(events, "friend_favour", policy, "Free Saturday at 11? Brunch on me",
                   tie=infer_tie(events, AT, policy, "family"))
    assert stranger.action == "educate" and family.action == "accept" and family.reply == "accept"
    assert any("not held against them" in reason for reason in family.reasons)


def test_a_close_friend_asking_too_much_gets_a_personal_no_never_the_lesson(policy: Policy) -> None:
    events = [E(d, "asked", label="friend_favour", note="promote my shop to your readers") for d in (40, 30, 20, 10, 5)]
    r = weigh(events, "friend_favour", policy, "could you share my shop with your readers?",
              tie=infer_tie(events, AT, policy, "close"))
    assert r.action == "decline" and r.reply == "decline_personal"
    assert any("A kind, personal no, not a lesson" in reason for reason in r.reasons)


def test_mass_mail_is_declined_with_no_reply_unless_the_sender_is_close(policy: Policy) -> None:
    mass = Delivery(mass=("a List-Unsubscribe header",))
    r = weigh([], "charity_ask", policy, "Give today", delivery=mass)
    assert r.action == "decline" and r.reply is None and "no reply needed" in r.reasons[-1]
    one_to_one = weigh([], "charity_ask", policy, "Give today")
    assert one_to_one.action == "educate"  # a stranger's personal charity ask is still not declined
    friend = weigh([], "charity_ask", policy, "sponsor my run", delivery=mass, tie=infer_tie([], AT, policy, "close"))
    assert friend.action == "accept"
    chaser = weigh([E(7, "asked", label="cold_pitch")], "cold_pitch", policy, "just bumping this",
                   delivery=Delivery(bump=True))
    assert chaser.action == "decline" and chaser.reply is None and "chaser" in chaser.reasons[-1]


def test_list_mail_with_no_ask_says_no_reply_is_needed(policy: Policy) -> None:
    r = weigh([], "no_ask", policy, delivery=Delivery(mass=("a List-Id header",)))
    assert r.action == "none" and "list or bulk mail (a List-Id header)" in r.reasons[-1]


def test_an_impersonator_is_declined_whatever_the_label(policy: Policy) -> None:
    r = weigh([], "friend_favour", policy, delivery=Delivery(impersonates="Tunde Adebayo, whom you know at t@a.example"))
    assert r.action == "decline" and r.reply is None and "likely scam" in r.reasons[0]


def test_people_tell_an_impersonator_from_the_person() -> None:
    people = People()
    people.know("tunde@adebayo.example", "Tunde Adebayo")
    ask = "Are you free? I need you to get me four Amazon gift cards for a client, urgently."
    assert people.impersonates("tunde@adebayo.example", "Tunde Adebayo", ask) == ""  # the real address
    found = people.impersonates("tunde.office@quick.example", "TUNDE  Adébayo", ask)
    assert found == "TUNDE Adébayo, whom you know at tunde@adebayo.example"
    assert people.impersonates("tunde.office@quick.example", "Tunde Adebayo", "lunch on Friday?") == ""  # no money
    assert people.impersonates("x@quick.example", "Tunde", ask) == ""  # one name is shared by too many people
    assert name_key("Dr. Tunde Adebayo") == "tunde adebayo" and name_key("Tunde") is None


# ---------------------------------------------------------------- declared ties and address books


def test_ties_are_declared_cleared_and_count_for_every_alias(tmp_path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.alias("chidi@example.org", "twitter:@chidi")
        assert people_store.set_tie(ledger, "Chidi@Example.org", "family") == "chidi@example.org"
        people = people_store.load_people(ledger)
        assert people.declared_tie(["twitter:@chidi"]) == ("family", "you")
        people_store.set_tie(ledger, "chidi@example.org", None)
        assert people_store.load_people(ledger).declared_tie(["chidi@example.org"]) is None
        with pytest.raises(ValueError, match="unknown tie 'sister'"):
            people_store.set_tie(ledger, "chidi@example.org", "sister")


VCARD = """BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Chidinma Okafor\r\nN:Okafor;Chidinma;;;\r\nEMAIL;TYPE=INTERNET:chidi@example.org\r
EMAIL:Chidi.Work@School.example\r\nCATEGORIES:Family,myContacts\r\nEND:VCARD\r
BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ben Carver\r\nEMAIL:ben@harbourside.example\r\nEND:VCARD\r
BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No Address\r\nTEL:0000\r\nEND:VCARD\r\n"""
GOOGLE = ("Name,Given Name,Family Name,Group Membership,E-mail 1 - Type,E-mail 1 - Value,E-mail 2 - Value\n"
          "Declan Murphy,Declan,Murphy,* myContacts ::: Friends,* Home,declan@cork.example,\n"
          "Marcus Reid,Marcus,Reid,* myContacts ::: Coworkers,Work,marcus@buses.example ::: m@reid.example,\n")
OUTLOOK = ("First Name,Last Name,E-mail Address,E-mail 2 Address,Categories\n"
           "Priya,Raman,priya@raman.example,,Network\n")


def test_address_books_of_three_kinds(tmp_path) -> None:
    (tmp_path / "c.vcf").write_text(VCARD, encoding="utf-8")
    (tmp_path / "google.csv").write_text(GOOGLE, encoding="utf-8")
    (tmp_path / "outlook.csv").write_text(OUTLOOK, encoding="utf-8")
    vcf = read_contacts(tmp_path / "c.vcf")
    assert [(c.name, c.addresses, c.tie) for c in vcf] == [
        ("Chidinma Okafor", ("chidi@example.org", "chidi.work@school.example"), "family"),
        ("Ben Carver", ("ben@harbourside.example",), "acquaintance")]  # the card with no address is left out
    google = read_contacts(tmp_path / "google.csv")
    assert [(c.name, c.addresses, c.tie) for c in google] == [
        ("Declan Murphy", ("declan@cork.example",), "close"),
        ("Marcus Reid", ("marcus@buses.example", "m@reid.example"), "colleague")]
    assert [(c.name, c.tie) for c in read_contacts(tmp_path / "outlook.csv")] == [("Priya Raman", "acquaintance")]
    assert tie_of_groups(["Network"]) == "acquaintance"  # "work" only as a word
    (tmp_path / "odd.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not an address book this reads"):
        read_contacts(tmp_path / "odd.csv")


def test_importing_contacts_keeps_what_you_declared_yourself(tmp_path, capsys) -> None:
    from classifier.frontends.cli_ledger import ledger_contacts, ledger_tie

    (tmp_path / "c.vcf").write_text(VCARD, encoding="utf-8")
    db = tmp_path / "l.db"
    assert ledger_tie("ben@harbourside.example", "close", ledger_path=db) == 0
    assert ledger_contacts(str(tmp_path / "c.vcf"), ledger_path=db) == 0
    assert "2 contacts, 2 addresses with a tie from c.vcf" in capsys.readouterr().out
    with Ledger(db) as ledger:
        people = people_store.load_people(ledger)
    assert people.declared_tie(["ben@harbourside.example"]) == ("close", "you")
    assert people.declared_tie(["chidi.work@school.example"]) == ("family", "c.vcf")
    assert people.names["chidinma okafor"] == {"chidi@example.org", "chidi.work@school.example"}


# ---------------------------------------------------------------- the sample inbox, learned once


@pytest.fixture(scope="module")
def learned(tmp_path_factory, classifier):
    from classifier.run.learn import learn

    db = tmp_path_factory.mktemp("learn") / "ledger.db"
    sample = Path(__file__).parent.parent / "data" / "sample" / "inbox.mbox"
    with Ledger(db) as ledger:
        first = learn([str(sample)], ledger, classifier)
        again = learn([str(sample)], ledger, classifier)
    return db, first, again


def test_learning_an_export_records_its_history_once(learned) -> None:
    db, first, again = learned
    assert first.me == ["maya@okafor-letters.example"] and first.messages == 261
    assert first.new_events == first.events > 200 and again.new_events == 0 and again.named == 0
    with Ledger(db) as ledger:
        kinds = {e.kind for e in ledger.events("chidi.okafor@mailbox.example")}
        names = {row["sender"]: row["name"] for row in people_store.listed(ledger)}
    assert {"asked", "favour_granted", "warm", "kin"} <= kinds  # her asks, Maya's yes, "Mx", "ring Mummy"
    assert names["tunde@adebayo.example"] == "Tunde Adebayo"


def _sample_message(subject: str) -> bytes:
    import mailbox

    sample = Path(__file__).parent.parent / "data" / "sample" / "inbox.mbox"
    [message] = [m for m in mailbox.mbox(str(sample)) if m["Subject"] == subject]
    return message.as_bytes()


def test_the_filter_weighs_with_what_was_learned(learned) -> None:
    from classifier.frontends.mailfilter import FilterOptions, run_filter

    db, _, _ = learned
    out, err = io.BytesIO(), io.StringIO()
    assert run_filter(_sample_message("saturday?"), FilterOptions(ledger=str(db)), out, err) == 0
    headers = out.getvalue().split(b"\n\n", 1)[0]
    assert b"X-Outreach-Review: yes" in headers  # her sister ("Mx", "ring Mummy"): never filed away by a rule
    out = io.BytesIO()
    run_filter(_sample_message("Are you available?"), FilterOptions(ledger=str(db), action_only=True), out, err)
    assert out.getvalue() == b"decline\n"  # the display-name spoof of Tunde, whom Maya writes to
    out = io.BytesIO()
    run_filter(_sample_message("saturday?"), FilterOptions(ledger=str(db), action_only=True), out, err)
    assert out.getvalue() == b"review\n"  # no Sieve rule matches it: it stays in the inbox


def test_policy_fit_compares_the_policy_with_your_own_answers(classifier, policy) -> None:
    from classifier.run.fit import agreement, fit, scaled
    from classifier.run.learn import answered_asks, read_export

    sample = Path(__file__).parent.parent / "data" / "sample" / "inbox.mbox"
    with read_export([str(sample)], classifier) as export:
        asks = answered_asks(export.history)
    assert len(asks) >= 10 and {a.granted for a in asks} == {True, False}
    assert all(e.date < a.date for a in asks for e in a.events)  # only what came before the ask
    result = fit(asks, policy)
    assert result.after.agreed >= result.before.agreed == agreement(asks, policy).agreed
    assert result.policy == scaled(policy, result.cost_factor, result.credit_factor)
    stingy = agreement(asks, scaled(policy, 50, 0))  # costs no one can cover: never a yes
    assert stingy.yes_agreed == 0 and stingy.agreed == stingy.answers - stingy.said_yes


def test_the_cli_learns_declares_and_fits(tmp_path, capsys) -> None:
    from classifier.frontends.cli import main

    sample = str(Path(__file__).parent.parent / "data" / "sample" / "inbox.mbox")
    db = str(tmp_path / "l.db")
    assert main(["ledger", "learn", sample, "--ledger", db]) == 0
    assert "recorded" in capsys.readouterr().out
    assert main(["ledger", "tie", "chidi.okafor@mailbox.example", "family", "--ledger", db]) == 0
    assert main(["ledger", "tie", "chidi.okafor@mailbox.example", "--ledger", db]) == 2
    assert "give a tie" in capsys.readouterr().err
    assert main(["ledger", "show", "chidi.okafor@mailbox.example", "--ledger", db]) == 0
    assert "tie: family. They are family (you said so)." in capsys.readouterr().out
    out = tmp_path / "fitted.toml"
    assert main(["policy", "fit", sample, "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "asks you answered" in err and "agrees with you on" in err
    from classifier.policy import load_policy
    load_policy(out)  # a valid policy file


# ---------------------------------------------------------------- story inboxes: two years of relationships


STORIES = Path(__file__).parent / "stories"


def _scored_story(story: str, tmp_path: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    import csv
    import sys

    sys.path.insert(0, str(STORIES))
    try:
        from to_mbox import write_mbox
    finally:
        sys.path.pop(0)
    from classifier.run.batch import score
    from classifier.run.job import ScoreOptions

    mbox = write_mbox(story, tmp_path / f"{story}.mbox")
    out = tmp_path / f"{story}.jsonl"
    score(ScoreOptions(inputs=[str(mbox)], output=str(out), history=str(STORIES / story / "history.jsonl"),
                       signature="x"))
    rows = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    with open(STORIES / story / "expected.csv", encoding="utf-8") as fp:
        expected = {row["id"]: row for row in csv.DictReader(fp)}
    return rows, expected


@pytest.mark.parametrize(("story", "at_least"), [("amara-eze", 0.85), ("tomas-reyes", 0.8)])
def test_a_story_inbox_gets_the_actions_a_sensible_person_would_take(story, at_least, tmp_path) -> None:
    rows, expected = _scored_story(story, tmp_path)
    agreed = [rows[i]["action"] == e["expected_action"] for i, e in expected.items()]
    assert sum(agreed) / len(agreed) >= at_least, f"{sum(agreed)} of {len(agreed)}"
    family = [rows[i] for i, e in expected.items()
              if e["relationship"].split(" (")[0] in ("mother", "mom", "sister", "brother")]
    assert family and all(r["action"] != "educate" and r["tie"] in ("family", "close") for r in family)
    assert sum(r["tie"] == "family" for r in family) >= len(family) - 1  # once they have written as family
    for row in rows.values():
        if row["tie"] in ("family", "close"):
            assert row["action"] != "educate", row["subject"]  # never the lesson for someone close
    spoofs = [rows[i] for i, e in expected.items() if e["relationship"].startswith("impersonator")]
    assert spoofs and all(r["action"] == "decline" and r["reply"] is None for r in spoofs)


def test_a_broken_address_book_is_refused_without_echoing_its_lines(tmp_path, capsys) -> None:
    from classifier.frontends.cli_ledger import ledger_contacts

    (tmp_path / "bin.vcf").write_bytes(b"\x00\x01 password=hunter2\n")
    assert ledger_contacts(str(tmp_path / "bin.vcf"), ledger_path=tmp_path / "l.db") == 2
    err = capsys.readouterr().err
    assert "no contact with an e-mail address" in err and "hunter2" not in err
    (tmp_path / "half.vcf").write_text(VCARD.replace("FN:Ben Carver", "FN:Ben Carver\r\nSECRET LINE hunter2"),
                                       encoding="utf-8")
    assert ledger_contacts(str(tmp_path / "half.vcf"), ledger_path=tmp_path / "l.db") == 0  # the readable cards count
    captured = capsys.readouterr()
    assert "hunter2" not in captured.err + captured.out
