"""Reply drafts: which recommendations get one, what they say, that they are short and personal,
that the user's own templates and sign-off are used, and that sender input cannot break them."""

from __future__ import annotations

import re

import pytest

from classifier.labels import ASK_LABELS, LABELS
from classifier.recommend.decide import reply_for
from classifier.recommend.replies import (REPLY_KINDS, clean, draft_reply, first_name, template_path, templates_dir,
                                          user_templates_dir)


@pytest.mark.parametrize("label", ASK_LABELS)
def test_educate_drafts_thank_explain_and_suggest_a_way_in(label: str) -> None:
    reply = draft_reply("educate", label, "Ada Lovelace", "Our launch")
    assert reply is not None and reply.startswith("Hi Ada,")  # the first name, as a person writes
    lowered = reply.lower()
    assert "thank" in lowered
    assert re.search(r"come to know|people i know|know someone well|don't know this one", lowered)
    assert re.search(r"introduc|someone we both know|bring us together", lowered)  # a way to build one
    assert '"Our launch"' in reply and "$" not in reply


@pytest.mark.parametrize("label", ASK_LABELS)
def test_a_plain_no_is_two_lines(label: str) -> None:
    reply = draft_reply("decline", label, "Ada", "Following up")
    assert reply is not None and reply.startswith("Hi Ada,") and "$" not in reply
    body = [line for line in reply.splitlines()[1:] if line.strip()]
    assert len(body) == 1 and len(body[0]) < 120  # greeting and one short line: a no a person would send


@pytest.mark.parametrize("label", ASK_LABELS)
def test_accept_drafts_say_yes(label: str) -> None:
    reply = draft_reply("accept", label, "Ada", "a favour")
    assert reply is not None and re.search(r"happy to|of course|take a proper look", reply.lower())


def test_someone_who_asks_again_after_a_no_gets_a_different_reply() -> None:
    first = draft_reply("decline", "cold_pitch", "Ada", "x")
    again = draft_reply("decline_again", "cold_pitch", "Ada", "x")
    assert first != again and "As I said before" in (again or "")


def test_a_personal_no_for_someone_close_is_not_the_lesson() -> None:
    reply = draft_reply("decline_personal", "friend_favour", "Chidinma Okafor", "saturday?") or ""
    assert reply.startswith("Hi Chidinma,") and "sorry" in reply.lower()
    assert "know someone well" not in reply and "build" not in reply


def test_no_reply_when_none_is_due() -> None:
    assert draft_reply(None, "cold_pitch", "Ada", "Hello") is None  # mass mail, scams
    for kind in REPLY_KINDS:
        assert draft_reply(kind, "spam", "Ada", "WIN NOW") is None
        assert draft_reply(kind, "no_ask", "Ada", "Hello") is None


def test_every_template_is_a_kind_for_a_label_or_for_all() -> None:
    names = {p.name for p in templates_dir().glob("*.txt")}
    allowed = {f"{k}_{label}.txt" for k in REPLY_KINDS for label in ASK_LABELS} | {f"{k}.txt" for k in REPLY_KINDS}
    assert names <= allowed
    for kind in REPLY_KINDS:
        for label in ASK_LABELS:
            assert template_path(kind, label).is_file(), (kind, label)


def test_missing_name_and_subject_read_naturally() -> None:
    reply = draft_reply("educate", "cold_pitch", None, "")
    assert reply is not None and reply.startswith("Hi there,")
    assert "me." in reply and '""' not in reply


@pytest.mark.parametrize(("name", "first"), [("Dr Aisha Bello", "Aisha"), ("Bello, Aisha", "Aisha"), ("Aisha", "Aisha"),
                                             ("Homes First Trust", ""), ("Press Office", ""), ("pat@pr.example", ""),
                                             ("", ""), ("Prof. Kenji Watanabe", "Kenji")])
def test_first_names(name: str, first: str) -> None:
    assert first_name(name) == first


def test_an_organisation_is_greeted_as_there() -> None:
    assert (draft_reply("decline", "charity_ask", "Homes First Trust", "Appeal") or "").startswith("Hi there,")


def test_the_users_sign_off_ends_every_draft() -> None:
    reply = draft_reply("accept", "friend_favour", "Ada", "x", signature="Best,\nMaya") or ""
    assert reply.endswith("Best,\nMaya\n")
    evil = draft_reply("accept", "friend_favour", "Ada", "x", signature="Maya\x1b[2J\u202e") or ""
    assert "\x1b" not in evil and "\u202e" not in evil


def test_reply_prefixes_are_dropped_from_the_subject() -> None:
    reply = draft_reply("educate", "friend_favour", "Ada", "Re: FWD: re:  Coffee next week?")
    assert reply is not None and 'about "Coffee next week?"' in reply


def test_control_characters_and_template_syntax_in_inputs_are_inert() -> None:
    name = "Eve\x1b[31m\u202eevil\r\nBcc: all@example.org"
    reply = draft_reply("educate", "cold_pitch", name, "${name} $about \x00launch\u200b")
    assert reply is not None
    assert "\x1b" not in reply and "\u202e" not in reply and "\x00" not in reply and "\u200b" not in reply
    assert reply.splitlines()[0] == "Hi there,"  # a "name" holding an address is no name to greet
    assert '"${name} $about launch"' in reply  # substituted once, never re-expanded
    reply = draft_reply("educate", "cold_pitch", "Eve\x1b[31m\u202eevil\r\nBcc", "x") or ""
    assert reply.splitlines()[0] == "Hi Eve,"  # a control sequence cannot reach the greeting


def test_long_inputs_are_trimmed() -> None:
    assert len(clean("x" * 500, 80)) == 80 and clean("x" * 500, 80).endswith("…")
    assert clean("  a \t b  ", 80) == "a b"


@pytest.mark.parametrize(("kind", "label", "message"), [("reply", "cold_pitch", "unknown reply kind 'reply'"),
                                                        ("educate", "pitch", "unknown label 'pitch'")])
def test_bad_kind_or_label(kind: str, label: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        draft_reply(kind, label, "Ada", "x")


def test_labels_are_the_shared_ones() -> None:
    assert set(ASK_LABELS) < set(LABELS)


def test_the_reply_for_an_action_chosen_by_hand() -> None:
    assert reply_for("decline", "family") == "decline_personal" and reply_for("decline", "stranger") == "decline"
    assert reply_for("accept") == "accept" and reply_for("educate") == "educate" and reply_for("none") is None


def test_the_users_own_templates_come_first_file_by_file(tmp_path, monkeypatch) -> None:
    (tmp_path / "decline.txt").write_text("Dear $first_name, no. $signature\n", encoding="utf-8")
    folder = user_templates_dir(tmp_path)
    assert draft_reply("decline", "cold_pitch", "Ada B", "x", signature="M", folder=folder) == "Dear Ada, no. M\n"
    assert "Of course" in (draft_reply("accept", "charity_ask", "Ada", "x", folder=folder) or "")  # the package's
    monkeypatch.setenv("OUTREACH_TEMPLATES", str(tmp_path))
    assert user_templates_dir() == tmp_path
    with pytest.raises(FileNotFoundError, match="templates folder .*nope.* does not exist"):
        user_templates_dir(tmp_path / "nope")


def test_an_edited_template_is_read_again_and_a_missing_one_is_an_error(tmp_path, monkeypatch) -> None:
    import classifier.recommend.replies as replies

    monkeypatch.setattr(replies, "templates_dir", lambda: tmp_path)
    path = tmp_path / "educate_cold_pitch.txt"
    path.write_text("Hi $name, first wording.\n", encoding="utf-8")
    assert draft_reply("educate", "cold_pitch", "Ada", "x") == "Hi Ada, first wording.\n"
    path.write_text("Hi $name, the second, longer wording.\n", encoding="utf-8")  # as a long-running filter sees it
    assert draft_reply("educate", "cold_pitch", "Ada", "x") == "Hi Ada, the second, longer wording.\n"
    path.unlink()
    with pytest.raises(FileNotFoundError, match="no reply template .*educate_cold_pitch.txt"):
        draft_reply("educate", "cold_pitch", "Ada", "x")
    path.mkdir()  # not a file
    with pytest.raises(FileNotFoundError, match="no reply template"):
        draft_reply("educate", "cold_pitch", "Ada", "x")
