"""Reply drafts: which actions get one, what they say, and that sender input cannot break them."""

from __future__ import annotations

import re

import pytest

from classifier.labels import ACTIONS, ASK_LABELS, LABELS
from classifier.replies import TEMPLATES_DIR, clean, draft_reply, template_path


@pytest.mark.parametrize("label", ASK_LABELS)
def test_educate_drafts_thank_explain_and_suggest(label: str) -> None:
    reply = draft_reply("educate", label, "Ada", "Our launch")
    assert reply is not None and reply.startswith("Hi Ada,")
    lowered = reply.lower()
    assert "thank" in lowered
    assert re.search(r"relationship|people i know|someone we both know", lowered)
    assert re.search(r"introduc|someone we both know|bring us together", lowered)  # a way to build one
    assert '"Our launch"' in reply
    assert "$" not in reply


@pytest.mark.parametrize("label", ASK_LABELS)
def test_decline_drafts_are_kind(label: str) -> None:
    reply = draft_reply("decline", label, "Ada", "Following up")
    assert reply is not None and reply.startswith("Hi Ada,") and "$" not in reply
    assert "thank" in reply.lower()


@pytest.mark.parametrize("action", ACTIONS)
def test_no_reply_to_spam(action: str) -> None:
    assert draft_reply(action, "spam", "Ada", "WIN NOW") is None


@pytest.mark.parametrize(("action", "label"), [("accept", "cold_pitch"), ("none", "no_ask"), ("educate", "no_ask"),
                                               ("accept", "friend_favour")])
def test_no_reply_when_none_is_due(action: str, label: str) -> None:
    assert draft_reply(action, label, "Ada", "Hello") is None


def test_every_reply_template_exists_and_no_other() -> None:
    expected = {template_path(a, l).name for a in ("educate", "decline") for l in ASK_LABELS}
    assert {p.name for p in TEMPLATES_DIR.glob("*.txt")} == expected


def test_missing_name_and_subject_read_naturally() -> None:
    reply = draft_reply("educate", "cold_pitch", None, "")
    assert reply is not None and reply.startswith("Hi there,")
    assert "write." in reply and '""' not in reply


def test_reply_prefixes_are_dropped_from_the_subject() -> None:
    reply = draft_reply("educate", "friend_favour", "Ada", "Re: FWD: re:  Coffee next week?")
    assert reply is not None and 'about "Coffee next week?"' in reply


def test_control_characters_and_template_syntax_in_inputs_are_inert() -> None:
    name = "Eve\x1b[31m\u202eevil\r\nBcc: all@example.org"
    reply = draft_reply("educate", "cold_pitch", name, "${name} $about \x00launch\u200b")
    assert reply is not None
    assert "\x1b" not in reply and "\u202e" not in reply and "\x00" not in reply and "\u200b" not in reply
    first_line = reply.splitlines()[0]
    assert first_line == "Hi Eve [31m evil Bcc: all@example.org,"
    assert '"${name} $about launch"' in reply  # substituted once, never re-expanded


def test_long_inputs_are_trimmed() -> None:
    assert len(clean("x" * 500, 80)) == 80 and clean("x" * 500, 80).endswith("…")
    assert clean("  a \t b  ", 80) == "a b"


@pytest.mark.parametrize(("action", "label", "message"), [("reply", "cold_pitch", "unknown action 'reply'"),
                                                          ("educate", "pitch", "unknown label 'pitch'")])
def test_bad_action_or_label(action: str, label: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        draft_reply(action, label, "Ada", "x")


def test_labels_are_the_shared_ones() -> None:
    assert set(ASK_LABELS) < set(LABELS)


def test_an_edited_template_is_read_again_and_a_missing_one_is_an_error(tmp_path, monkeypatch) -> None:
    import classifier.replies as replies

    monkeypatch.setattr(replies, "TEMPLATES_DIR", tmp_path)
    path = replies.template_path("educate", "cold_pitch")
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
