"""One contract over every input format: the same messages come out of each."""

import csv
import json
import mailbox
import subprocess
import sys
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from classifier.parse.message import parse_date
from classifier.parse.sources import FormatError, Unreadable, detect_format, iter_messages

MESSAGES = [
    ("ana@example.com", "2026-03-02T09:15:00+00:00", "Quick favour", "Could you read my cover letter tonight?"),
    ("pr@brightwave.example", "2026-03-04T14:00:00+00:00", "Exclusive: new app", "We'd love you to cover our launch."),
    ("news@citylab.example", "2026-03-05T07:30:00+00:00", "This week in housing", "Five stories worth reading."),
]


def _email(sender, date, subject, text, index):
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, "maya@okafor-letters.example", subject
    mail["Date"] = format_datetime(parse_date(date))
    mail["Message-ID"] = f"<m{index}@example.com>"
    mail.set_content(text)
    return mail


def _write(fmt: str, folder: Path) -> Path:
    mails = [_email(*m, i) for i, m in enumerate(MESSAGES)]
    if fmt == "mbox":
        box = mailbox.mbox(folder / "inbox.mbox")
        for mail in mails:
            box.add(mail)
        box.close()
        return folder / "inbox.mbox"
    if fmt == "maildir":
        box = mailbox.Maildir(folder / "Mail", create=True)
        for i, mail in enumerate(mails):
            # Maildir keys are random; the file names fix the order so the contract can compare.
            (folder / "Mail" / "cur" / f"{i:04d}.local:2,S").write_bytes(mail.as_bytes())
        return folder / "Mail"
    if fmt == "eml-folder":
        (folder / "emls").mkdir()
        for i, mail in enumerate(mails):
            (folder / "emls" / f"{i:02d}.eml").write_bytes(mail.as_bytes())
        return folder / "emls"
    if fmt == "csv":
        with open(folder / "messages.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["id", "sender", "date", "subject", "text"])
            for i, (sender, date, subject, text) in enumerate(MESSAGES):
                writer.writerow([f"<m{i}@example.com>", sender, date, subject, text])
        return folder / "messages.csv"
    if fmt == "outlook":
        with open(folder / "outlook.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["Subject", "Body", "From: (Name)", "From: (Address)", "From: (Type)", "To: (Name)"])
            for sender, _, subject, text in MESSAGES:
                writer.writerow([subject, text, "Someone", sender, "SMTP", "Maya"])
        return folder / "outlook.csv"
    if fmt == "jsonl":
        with open(folder / "messages.jsonl", "w", encoding="utf-8") as f:
            for i, (sender, date, subject, text) in enumerate(MESSAGES):
                f.write(json.dumps({"id": f"<m{i}@example.com>", "sender": sender, "date": date,
                                    "subject": subject, "text": text, "channel": "email"}) + "\n")
        return folder / "messages.jsonl"
    raise AssertionError(fmt)


@pytest.mark.parametrize("fmt", ["mbox", "maildir", "eml-folder", "csv", "outlook", "jsonl"])
def test_every_format_yields_the_same_messages(fmt, tmp_path):
    messages = list(iter_messages(_write(fmt, tmp_path)))
    assert [(m.sender, m.subject, m.text.strip()) for m in messages] == [(s, subj, t) for s, _, subj, t in MESSAGES]
    if fmt == "outlook":
        assert all(m.date is None and "no_date" in m.flags for m in messages)  # Outlook exports no dates
    else:
        assert [m.date for m in messages] == [parse_date(d) for _, d, _, _ in MESSAGES]
        assert [m.id for m in messages] == [f"<m{i}@example.com>" for i in range(len(MESSAGES))]
    assert len({m.origin for m in messages}) == len(messages)


def test_one_eml_file(tmp_path):
    path = tmp_path / "one.eml"
    path.write_bytes(_email(*MESSAGES[0], 0).as_bytes())
    [message] = iter_messages(path)
    assert message.sender == "ana@example.com"


@pytest.mark.parametrize("fmt", ["mbox", "jsonl", "csv"])
def test_stdin_is_read_like_a_file(fmt, tmp_path):
    path = _write(fmt, tmp_path)
    code = ("import sys; from classifier.parse.sources import iter_messages; "
            "print('|'.join(m.subject for m in iter_messages('-')))")
    out = subprocess.run([sys.executable, "-c", code], stdin=open(path, "rb"), capture_output=True, check=True)
    assert out.stdout.decode().strip() == "|".join(m[2] for m in MESSAGES)


def test_format_is_told_from_content_when_the_name_says_nothing(tmp_path):
    path = _write("mbox", tmp_path).rename(tmp_path / "export")
    assert detect_format(path) == "mbox"


def test_an_unknown_format_names_the_allowed_ones(tmp_path):
    with pytest.raises(FormatError, match=r"unknown format 'pst'; expected one of mbox, maildir, eml, csv, jsonl"):
        list(iter_messages(_write("mbox", tmp_path), fmt="pst"))


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FormatError, match="no such file"):
        list(iter_messages(tmp_path / "nope.mbox"))


def test_a_broken_jsonl_line_is_reported_with_its_position_and_the_rest_are_read(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"id": "a", "text": "hi"}\n{not json\n{"id": "c", "text": "there"}\n', encoding="utf-8")
    items = list(iter_messages(path))
    assert [type(i).__name__ for i in items] == ["Message", "Unreadable", "Message"]
    assert items[1].origin == "m.jsonl#1"


def test_an_mbox_keeps_from_lines_inside_bodies(tmp_path):
    mail = _email("a@example.com", "2026-01-01", "s", "hello\n\nFrom here on, we are friends\n", 0)
    box = mailbox.mbox(tmp_path / "x.mbox")
    box.add(mail)
    box.add(_email("b@example.com", "2026-01-02", "t", "second", 1))
    box.close()
    messages = list(iter_messages(tmp_path / "x.mbox"))
    assert len(messages) == 2 and "From here on" in messages[0].text


def test_a_truncated_mbox_still_yields_what_it_holds(tmp_path):
    path = _write("mbox", tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 30])
    messages = [m for m in iter_messages(path) if not isinstance(m, Unreadable)]
    assert len(messages) == len(MESSAGES)


# ---------------------------------------------------------------- the block splitter equals the line-by-line one

import io as _io

from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.parse.sources import RawMail, _split_mbox


def _split_mbox_by_lines(stream, name):
    """The first splitter, line by line, kept as the reference: (raw bytes or the reason, origin) per record."""
    def message(lines, index):
        raw = b"".join(line[1:] if line.startswith(b">From ") else line for line in lines)
        return (raw if raw.strip() else "empty message", f"{name}#{index}")

    index, lines, previous_blank, out = 0, [], True, []
    for line in stream:
        if line.startswith(b"From ") and (previous_blank or _ENVELOPE_LINE.fullmatch(line)) and lines:
            out.append(message(lines, index))
            index, lines = index + 1, []
            previous_blank = False
            continue
        if line.startswith(b"From ") and not lines:
            previous_blank = False
            continue
        lines.append(line)
        previous_blank = line in (b"\n", b"\r\n")
    if lines:
        out.append(message(lines, index))
    return out


import re as _re

# An envelope line as mbox writers make it (a day, a month, a time, a year), also without a blank line before it.
_ENVELOPE_LINE = _re.compile(rb"From \S+ +\w{3} +\w{3} +\d+ +[\d:]+( +\S+)? +\d{4}( +\S+)?\s*")
_LINES = [b"From a@b Mon\n", b"From a@b Mon Jan  1 10:00:00 2024\n", b"From - Tue Feb 12 08:01:02 +0000 2019\r\n",
          b"From \n", b">From b\n", b">>From c\n", b"\n", b"\r\n", b"text\n", b"x\r\n",
          b"From", b"abc From d\n", b" From e\n", b"\rFrom f\n", b">From", b"From g"]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_LINES), max_size=14), st.integers(1, 9))
def test_the_block_splitter_equals_the_line_splitter(lines, block):
    data = b"".join(lines)
    expected = _split_mbox_by_lines(_io.BytesIO(data), "m")
    got = [(r.raw if isinstance(r, RawMail) else r.reason, r.origin)
           for r in _split_mbox(_io.BytesIO(data), "m", block=block)]
    assert got == expected
    assert all(isinstance(r, (RawMail, Unreadable)) for r in _split_mbox(_io.BytesIO(data), "m"))


def test_a_lone_surrogate_escaped_in_jsonl_becomes_a_replacement_character_and_is_flagged(tmp_path):
    # JSON can escape half of a UTF-16 pair; no UTF-8 output can hold it (it used to stop the run).
    path = tmp_path / "m.jsonl"
    path.write_text('{"id": "a", "subject": "hi \\ud800 there", "text": "share this? \\udc80", '
                    '"folders": ["x\\udfff"]}\n'
                    '{"id": "b", "text": "a pair is one character: \\ud83d\\ude00"}\n', encoding="utf-8")
    first, second = iter_messages(path)
    assert (first.subject, first.text, first.folders) == ("hi \ufffd there", "share this? \ufffd", ["x\ufffd"])
    assert "lone_surrogates" in first.flags
    assert second.text == "a pair is one character: \U0001F600" and "lone_surrogates" not in second.flags
