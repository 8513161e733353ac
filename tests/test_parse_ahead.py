"""Parsing ahead while the model loads: the parsed chunks and the records after them are the export,
each record once and in order, however early the child is stopped; a failed child costs nothing."""

import mailbox
import os
import signal
import subprocess
import sys
import time
from email.message import EmailMessage

import pytest

from classifier.run import pool
from classifier.run.pool import ParseAhead, records_after
from classifier.parse.sources import iter_messages, iter_records


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
    monkeypatch.setattr(pool, "parsed", lambda record: time.sleep(60))  # the forked child hangs...
    ahead = ParseAhead([str(source)], None, None, tmp_path / "ahead", chunk=10)
    os.kill(ahead._process.pid, signal.SIGKILL)  # ...and dies
    chunks, ids, rest = _parsed_then_rest(ahead, source)
    assert chunks == [] and ids == [] and rest == [m.id for m in iter_messages(source)]


def test_the_child_stops_when_the_job_that_started_it_is_killed(tmp_path):
    # The job's process dies without stopping it (kill -9): the child must not parse the rest of a
    # large export on its own.
    source = _mbox(tmp_path / "in.mbox", 200)
    code = ("import os, sys, time\n"
            "from classifier.run import pool\n"
            "real = pool.parsed\n"
            "pool.parsed = lambda record: (time.sleep(0.05), real(record))[1]\n"
            f"ahead = pool.ParseAhead([{str(source)!r}], None, None, {str(tmp_path / 'ahead')!r}, 10)\n"
            "print(ahead._process.pid, flush=True)\n"
            "os._exit(0)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    child = int(run.stdout)
    deadline = time.monotonic() + 10  # 200 messages at 0.05 s would take 10 s; it stops after one
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
    assert (tmp_path / "ahead").stat().st_size < 20_000  # a chunk or two at most, not all 200 messages


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # an exited child not yet reaped is a zombie: not running
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"
