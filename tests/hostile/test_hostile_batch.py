"""`triage score` under hostile input: one bad record never ends the job, an output that cannot be
written is said at once and never left half-written, and repeated Message-IDs forge no history
(issue 18, items 3, 4, 5 and 12)."""

from __future__ import annotations

import csv
import json
import mailbox
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifier.run.batch import score
from classifier.run.job import ScoreOptions

from cli_run import ROOT, one_line_error, run_triage

SAMPLE = ROOT / "data" / "sample" / "inbox.mbox"


def _rows(path: Path) -> list[dict]:
    # split on "\n" only: JSON strings may hold U+0085 or U+2028, which str.splitlines also splits on
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


def _nested_multipart(depth: int) -> bytes:
    body = b"Content-Type: text/plain\n\nCould you share my launch with your readers?\n"
    for level in range(depth):
        boundary = f"b{level}".encode()
        body = (b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\n\n--' + boundary + b"\n" + body
                + b"--" + boundary + b"--\n")
    return b"From: deep@example.org\nSubject: deep\nMIME-Version: 1.0\n" + body


# ---------------------------------------------------------------- 3. one bad record never ends the job


def test_an_mbox_date_in_the_year_9999_is_a_flag_not_the_end(tmp_path, no_ledger):
    mbox = tmp_path / "dates.mbox"
    mbox.write_bytes(b"From a@b Mon Jan  1 00:00:00 2024\nFrom: x@y.example\nDate: Fri, 31 Dec 9999 23:59:59 -1200\n"
                     b"Subject: hi\n\nhello, can you help me move on Saturday?\n\n"
                     b"From a@b Mon Jan  1 00:00:00 2024\nFrom: z@y.example\nDate: Mon, 2 Mar 2026 10:00:00 +0000\n"
                     b"Subject: ok\n\nthanks for yesterday\n")
    run = run_triage("score", str(mbox), "-o", str(tmp_path / "out.jsonl"), "--quiet", env=no_ledger)
    assert run.returncode == 0
    rows = _rows(tmp_path / "out.jsonl")
    assert len(rows) == 2 and rows[0]["date"] is None and "bad_date" in rows[0]["flags"]


def test_bad_jsonl_records_are_flags_or_skipped_with_their_position(tmp_path, no_ledger):
    lines = [
        {"id": "far", "sender": "a@example.org", "text": "hi", "date": "9999-12-31T23:00:00-01:00"},
        {"id": "early", "sender": "a@example.org", "text": "hi", "date": "0001-01-01T00:30:00+01:00"},
        {"id": "folders", "text": "x", "folders": 5},
        {"id": "types", "text": "x", "date": 17, "subject": ["a"], "sender": {"a": 1}, "channel": None},
    ]
    text = "".join(json.dumps(line) + "\n" for line in lines)
    text += "[" * 100_000 + "]" * 100_000 + "\n"  # deeper than any parser's recursion
    text += '{"id": "last", "text": "still read"}\n'
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    run = run_triage("score", str(path), "-o", str(tmp_path / "out.jsonl"), env=no_ledger)
    assert run.returncode == 3  # some records skipped, listed in the summary
    assert b"bad.jsonl#4: not a message: JSON nested too deeply" in run.stderr
    rows = {row["id"]: row for row in _rows(tmp_path / "out.jsonl")}
    assert set(rows) == {"far", "early", "folders", "types", "last"}
    assert "bad_date" in rows["far"]["flags"] and "bad_date" in rows["early"]["flags"]
    assert "bad_folders" in rows["folders"]["flags"] and "bad_date" in rows["types"]["flags"]


def test_a_thousand_level_multipart_is_read_as_text_and_flagged(tmp_path, no_ledger):
    folder = tmp_path / "mails"
    folder.mkdir()
    (folder / "deep.eml").write_bytes(_nested_multipart(1000))
    (folder / "plain.eml").write_bytes(b"From: p@example.org\nSubject: hi\n\nSee you Tuesday!\n")
    run = run_triage("score", str(folder), "-o", str(tmp_path / "out.jsonl"), "--jobs", "2", "--quiet", env=no_ledger)
    assert run.returncode == 0
    rows = {row["sender"]: row for row in _rows(tmp_path / "out.jsonl")}
    assert set(rows) == {"deep@example.org", "p@example.org"}
    assert "mime_too_deep" in rows["deep@example.org"]["flags"]


def test_an_mbox_without_blank_lines_before_its_separators_is_split_like_the_stdlib(tmp_path, no_ledger):
    text = "".join(f"From s{i}@x.example Mon Jan  {i + 1:2d} 10:00:00 2024\nFrom: s{i}@x.example\nSubject: m{i}\n\n"
                   f"body {i}\n" for i in range(11))
    path = tmp_path / "tight.mbox"
    path.write_text(text)
    assert len(mailbox.mbox(path)) == 11
    run = run_triage("score", str(path), "-o", str(tmp_path / "out.jsonl"), "--quiet", env=no_ledger)
    assert run.returncode == 0 and len(_rows(tmp_path / "out.jsonl")) == 11


# A record for every input format, from parts hypothesis chooses: any date (the far past and future, any
# zone), any nesting, any type in any JSON field.
_dates = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                 timezones=st.timezones() | st.just(None)).map(lambda d: d.isoformat()),
    st.sampled_from(["Fri, 31 Dec 9999 23:59:59 -1200", "Mon, 1 Jan 0001 00:00:00 +1400", "31 Dec 1969 23:59:59 -0000",
                     "not a date", "", "9999-12-31T23:00:00-01:00", "0001-01-01T00:30:00+01:00"]),
)
_json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                         max_size=3), max_leaves=8)
_record = st.fixed_dictionaries({
    "date": _dates, "depth": st.sampled_from([0, 1, 3, 70, 400]), "sender": st.sampled_from(
        ["a@example.org", "Bea <bea@example.org>", "", "not an address", "=cmd@evil.example"]),
    "text": st.text(max_size=200), "subject": st.text(max_size=40),
    "odd": st.dictionaries(st.sampled_from(["id", "date", "folders", "folder", "subject", "sender", "channel",
                                            "sender_name"]), _json_values, max_size=3),
})


def _email_bytes(record: dict) -> bytes:
    head = f"From: {record['sender']}\nDate: {record['date']}\nSubject: {record['subject']!r}\n".encode()
    if record["depth"]:
        return head + _nested_multipart(record["depth"]).split(b"MIME-Version: 1.0\n", 1)[1]
    return head + b"\n" + record["text"].encode("utf-8", "surrogatepass")


def _write(fmt: str, records: list[dict], folder: Path) -> Path:
    if fmt == "mbox":
        path = folder / "x.mbox"
        path.write_bytes(b"".join(b"From x@y Mon Jan  1 00:00:00 2024\n" + _email_bytes(r).replace(b"\nFrom ", b"\n>From ")
                                  + b"\n\n" for r in records))
    elif fmt == "maildir":
        path = folder / "maildir"
        box = mailbox.Maildir(path)
        for record in records:
            box.add(_email_bytes(record))
    elif fmt == "eml":
        path = folder / "emls"
        path.mkdir()
        for i, record in enumerate(records):
            (path / f"{i}.eml").write_bytes(_email_bytes(record))
    elif fmt == "csv":
        path = folder / "x.csv"
        with open(path, "w", newline="", encoding="utf-8", errors="surrogatepass") as f:
            writer = csv.writer(f)
            writer.writerow(["sender", "date", "subject", "text"])
            for r in records:
                writer.writerow([r["sender"], r["date"], r["subject"], r["text"]])
    else:
        path = folder / "x.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps({"sender": r["sender"], "date": r["date"], "subject": r["subject"],
                                    "text": r["text"], **r["odd"]}) + "\n")
    return path


@pytest.mark.parametrize("fmt", ["mbox", "maildir", "eml", "csv", "jsonl"])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                 HealthCheck.function_scoped_fixture])
@given(records=st.lists(_record, min_size=1, max_size=6))
def test_any_dates_nesting_and_field_types_never_end_the_job(fmt, records, tmp_path_factory):
    folder = tmp_path_factory.mktemp(fmt)
    try:
        source = _write(fmt, records, folder)
    except UnicodeEncodeError:  # text hypothesis made that no UTF-8 file can hold
        return
    out = folder / "out.jsonl"
    summary = score(ScoreOptions(inputs=[str(source)], output=str(out), jobs=1))
    rows = _rows(out)
    assert summary.exit_code in (0, 3)
    assert len(rows) + sum(summary.not_scored.values()) + len(summary.unreadable) == len(records)


# ---------------------------------------------------------------- 4. output that cannot be written


def test_an_output_that_is_a_folder_is_refused_before_anything_is_read(tmp_path, no_ledger):
    started = time.monotonic()
    run = run_triage("score", str(SAMPLE), "-o", str(tmp_path), env=no_ledger)
    assert run.returncode == 2 and "is a folder" in one_line_error(run)
    assert time.monotonic() - started < 10  # said before the model loads and the export is read


def test_an_output_in_a_missing_folder_is_refused(tmp_path, no_ledger):
    run = run_triage("score", str(SAMPLE), "-o", str(tmp_path / "nope" / "out.jsonl"), env=no_ledger)
    assert run.returncode == 2 and "no folder" in one_line_error(run)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_full_disk_is_one_line_and_exit_1(fmt, no_ledger):
    run = run_triage("score", str(SAMPLE), "-o", "/dev/full", "--format", fmt, "--quiet", env=no_ledger)
    assert run.returncode == 1 and "No space left on device" in one_line_error(run)


def test_a_failed_run_leaves_an_existing_output_as_it_was(tmp_path, no_ledger):
    out = tmp_path / "out.jsonl"
    out.write_text("yesterday's rows\n")
    run = run_triage("score", str(tmp_path / "missing.mbox"), "-o", str(out), env=no_ledger)
    assert run.returncode == 2
    assert out.read_text() == "yesterday's rows\n" and os.listdir(tmp_path) == ["out.jsonl"]


@pytest.fixture(scope="module")
def long_export(tmp_path_factory) -> Path:
    """The sample inbox forty times over: a job that runs for seconds."""
    path = tmp_path_factory.mktemp("long") / "long.mbox"
    data = SAMPLE.read_bytes()
    path.write_bytes(data * 40)
    return path


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_an_interrupted_run_leaves_no_output_and_no_spool(sig, code, word, long_export, tmp_path, no_ledger):
    spool_home = tmp_path / "tmp"
    spool_home.mkdir()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    job = subprocess.Popen([sys.executable, "-m", "classifier", "score", str(long_export), "-o",
                            str(out_dir / "rows.jsonl"), "--jobs", "2", "--quiet"], stderr=subprocess.PIPE,
                           env={**os.environ, **no_ledger, "TMPDIR": str(spool_home)}, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any((spool_home / d / "spool.jsonl").exists()
                                                   for d in os.listdir(spool_home)):
        time.sleep(0.05)
    assert job.poll() is None, "the job ended before it could be interrupted"
    time.sleep(0.5)  # mid-read
    if sig == signal.SIGINT:
        os.killpg(job.pid, sig)  # Ctrl-C reaches the whole foreground process group
    else:
        job.send_signal(sig)
    _, err = job.communicate(timeout=60)
    assert job.returncode == code
    assert err.decode().strip().splitlines() == [f"triage: {word}; no output file was left behind"]
    assert os.listdir(out_dir) == [] and os.listdir(spool_home) == []


# ---------------------------------------------------------------- 5. repeated Message-IDs


def _mail(sender: str, to: str, date: str, subject: str, text: str, message_id: str, in_reply_to: str = "",
          labels: str = "Inbox") -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Date"], mail["Subject"], mail["Message-ID"] = sender, to, date, subject, message_id
    mail["X-Gmail-Labels"] = labels
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
    mail.set_content(text)
    return b"From x@y Mon Jan  1 00:00:00 2024\n" + mail.as_bytes().replace(b"\nFrom ", b"\n>From ") + b"\n"


PITCHES = [f"Would you feature our new budgeting app, version {i}, in your newsletter this week?" for i in range(50)]


def _pitch_export(path: Path, copies: int) -> Path:
    """One PR sender's pitches that all reuse one Message-ID, and the owner's single reply to it."""
    parts = [_mail("pat@brightpr.example", "maya@letters.example", f"Mon, {1 + i % 27} Feb 2026 {9 + i // 27}:00:00 +0000",
                   "Feature?", PITCHES[i], "<same@brightpr.example>") for i in range(copies)]
    parts.append(_mail("maya@letters.example", "pat@brightpr.example", "Sat, 28 Feb 2026 10:00:00 +0000",
                       "Re: Feature?", "Thanks Pat, I'll have a look.", "<reply@letters.example>",
                       "<same@brightpr.example>", "Sent"))
    parts.append(_mail("pat@brightpr.example", "maya@letters.example", "Tue, 3 Mar 2026 10:00:00 +0000",
                       "Feature now?", "Could you feature our budgeting app this week? A short mention is fine.",
                       "<next@brightpr.example>"))
    path.write_bytes(b"".join(parts))
    return path


def test_a_reused_message_id_does_not_multiply_the_owners_reply(tmp_path, no_ledger):
    last = {}
    for copies in (1, 50):
        export = _pitch_export(tmp_path / f"pitches-{copies}.mbox", copies)
        out = tmp_path / f"out-{copies}.jsonl"
        assert run_triage("score", str(export), "-o", str(out), "--quiet", env=no_ledger).returncode == 0
        last[copies] = next(row for row in _rows(out) if row["id"] == "<next@brightpr.example>")
    # Fifty pitches are fifty asks, and the owner's one reply to "their" id still earns no deposit.
    assert last[50]["standing"]["deposits"] == last[1]["standing"]["deposits"] == 0
    assert last[50]["standing"]["asks"] == 50 and last[50]["action"] != "accept"


def test_an_export_repeated_many_times_counts_its_history_once(tmp_path, no_ledger):
    once, many = tmp_path / "once.jsonl", tmp_path / "many.jsonl"
    repeated = tmp_path / "repeated.mbox"
    repeated.write_bytes(SAMPLE.read_bytes() * 20)
    assert run_triage("score", str(SAMPLE), "-o", str(once), "--quiet", env=no_ledger).returncode == 0
    run = run_triage("score", str(repeated), "-o", str(many), "--jobs", "2", env=no_ledger)
    assert run.returncode == 0
    first, all_rows = _rows(once), _rows(many)
    assert len(all_rows) == 20 * len(first)
    decision = lambda row: (row["id"], row["label"], row["action"], row["standing"], row["reasons"])  # noqa: E731
    assert [decision(r) for r in all_rows] == [decision(r) for r in first] * 20
    assert b"messages repeat an earlier one" in run.stderr and b"counted once as history" in run.stderr
