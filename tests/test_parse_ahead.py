"""Parsing ahead while the model loads: the parsed chunks and the records after them are the export,
each record once and in order, however early the child is stopped; a failed child costs nothing."""

import mailbox
import os
import signal
import time
from email.message import EmailMessage

import pytest

from classifier import parse_ahead
from classifier.parse_ahead import ParseAhead, records_after
from classifier.sources import iter_messages, iter_records


def _mbox(path, n: int):
    box = mailbox.mbox(path)
    for i in range(n):
        mail = EmailMessage()
        mail["From"], mail["Subject"] = f"sender{i % 7}@example.com", f"note {i}"
        mail["Date"], mail["Message-ID"] = "Mon, 2 Mar 2026 10:00:00 +0000", f"<m{i}@example.com>"
        mail.set_content(f"Message number {i}. Could you look at this when you have a minute?")
        if i % 3 == 0:
            mail.add_alternative(f"<p>Message number <b>{i}</b>.</p>", subtype="html")
        box.add(mail)
    box.close()
    return path


def _parsed_then_rest(ahead: ParseAhead, source):
    chunks = ahead.finish()
    ids = [m.id for chunk in chunks for m in chunk.load()]
    rest = [m.id for m in (r.parse() for r in records_after(chunks, iter_records(source)))]
    return chunks, ids, rest


@pytest.mark.parametrize("stop_after_bytes", [0, 1])
def test_chunks_parsed_ahead_and_the_records_after_them_are_the_export_in_order(tmp_path, stop_after_bytes):
    source = _mbox(tmp_path / "in.mbox", 400)
    ahead = ParseAhead([str(source)], None, None, tmp_path / "ahead", chunk=50)
    out = tmp_path / "ahead"
    while stop_after_bytes and (not out.exists() or out.stat().st_size < stop_after_bytes):
        time.sleep(0.001)  # at least one chunk written, then stopped
    chunks, ids, rest = _parsed_then_rest(ahead, source)
    assert ids + rest == [m.id for m in iter_messages(source)]
    assert all(chunk.records == 50 for chunk in chunks[:-1])
    assert sum(len(c) for c in chunks) == len(ids)
    if stop_after_bytes:
        assert ids


def test_an_input_the_child_cannot_read_leaves_it_to_the_main_process(tmp_path):
    ahead = ParseAhead([str(tmp_path / "missing.mbox")], None, None, tmp_path / "ahead", chunk=50)
    assert ahead.finish() == []


def test_a_child_that_dies_is_as_if_nothing_was_parsed_ahead(tmp_path, monkeypatch):
    source = _mbox(tmp_path / "in.mbox", 50)
    monkeypatch.setattr(parse_ahead, "parsed", lambda record: time.sleep(60))  # the forked child hangs...
    ahead = ParseAhead([str(source)], None, None, tmp_path / "ahead", chunk=10)
    os.kill(ahead._process.pid, signal.SIGKILL)  # ...and dies
    chunks, ids, rest = _parsed_then_rest(ahead, source)
    assert chunks == [] and ids == [] and rest == [m.id for m in iter_messages(source)]
