"""`triage score`: history from the export, no leaks from the future, every output format, bad input."""

import csv
import json
import mailbox
import os
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from classifier.run.batch import score
from literals import FRIEND, HISTORY, LIFT, PITCHES
from classifier.run.pool import Workers, worker_state
from classifier.run.job import ScoreOptions
from classifier.frontends.cli import main

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
SAMPLE = HERE.parent / "data" / "sample"

MESSAGES = [
    *PITCHES, FRIEND[0],
    {"id": "s1", "sender": "ana-stranger@example.org", "date": "2026-03-21T11:00:00+00:00", "subject": "", "text": LIFT},
    FRIEND[1],
]


def _write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture()
def inputs(tmp_path):
    return _write_jsonl(tmp_path / "messages.jsonl", MESSAGES), _write_jsonl(tmp_path / "history.jsonl", HISTORY)


def _score(tmp_path, messages: Path, **options) -> list[dict]:
    out = tmp_path / "out.jsonl"
    score(ScoreOptions(inputs=[str(messages)], output=str(out), **options))
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def _golden_view(rows):
    """What the golden file pins: the decision and its words, not the probabilities of one model."""
    return [{k: row[k] for k in ("id", "label", "action", "reasons", "reply")} | {"standing": row["standing"]}
            for row in rows]


def test_golden_output_of_a_small_jsonl_with_history(inputs, tmp_path):
    messages, history = inputs
    rows = _golden_view(_score(tmp_path, messages, history=str(history)))
    golden = GOLDEN / "score_small.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert rows == json.loads(golden.read_text(encoding="utf-8"))


def test_history_changes_the_recommendation(inputs, tmp_path):
    messages, history = inputs
    rows = {r["id"]: r for r in _score(tmp_path, messages, history=str(history))}
    assert rows["f1"]["label"] == rows["s1"]["label"] == "friend_favour"
    assert rows["f1"]["action"] == "accept"  # a friend who helped recently
    assert rows["s1"]["action"] == "educate"  # the same words from a stranger
    assert [rows[i]["action"] for i in ("p1", "p2", "p3")][0] == "educate"
    assert rows["p3"]["action"] == "decline"  # the third pitch in two weeks sees the first two
    assert rows["n1"]["action"] == "none"


def test_no_future_leaks_in_whatever_order_the_export_holds_them(inputs, tmp_path):
    messages, history = inputs
    forward = {r["id"]: r for r in _score(tmp_path, messages, history=str(history))}
    backward_file = _write_jsonl(tmp_path / "backward.jsonl", MESSAGES[::-1])
    backward = _score(tmp_path, backward_file, history=str(history))
    assert [r["id"] for r in backward] == [m["id"] for m in MESSAGES[::-1]]  # output keeps input order
    for row in backward:
        assert row["action"] == forward[row["id"]]["action"]
        assert row["standing"] == forward[row["id"]]["standing"]
    assert forward["p1"]["standing"]["asks"] == 0  # the later pitches are not history for the first


def test_scoring_never_writes_to_the_ledger(inputs, tmp_path):
    from classifier.weigh.ledger import Ledger

    messages, _ = inputs
    db = tmp_path / "ledger.db"
    Ledger(db).close()
    before = db.read_bytes()
    _score(tmp_path, messages, ledger=str(db))
    assert db.read_bytes() == before  # not a byte of the ledger changed
    with Ledger(db) as ledger:
        assert ledger.count() == 0


def test_csv_output_neutralises_spreadsheet_formulas(tmp_path):
    hostile = [{"id": "=1+1", "sender": "x@example.com", "date": "2026-01-01", "subject": "=HYPERLINK(\"http://e.example\")",
                "text": "@SUM(A1) -2+3 please donate to our cause"},
               {"id": "t", "sender": "y@example.com", "date": "2026-01-02", "subject": "\tTAB", "text": "+hello"}]
    out = tmp_path / "out.csv"
    code = main(["score", str(_write_jsonl(tmp_path / "h.jsonl", hostile)), "-o", str(out), "--quiet", "--jobs", "1"])
    assert code == 0
    with open(out, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            for value in row.values():
                assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert "'=HYPERLINK" in out.read_text(encoding="utf-8")


def test_parquet_output_has_the_same_rows(inputs, tmp_path):
    import pyarrow.parquet as pq

    messages, history = inputs
    rows = _score(tmp_path, messages, history=str(history))
    out = tmp_path / "out.parquet"
    score(ScoreOptions(inputs=[str(messages)], output=str(out), format="parquet", history=str(history)))
    table = pq.read_table(out).to_pylist()
    assert [(r["id"], r["label"], r["action"]) for r in table] == [(r["id"], r["label"], r["action"]) for r in rows]


def test_several_processes_give_the_same_output_in_the_same_order(inputs, tmp_path):
    messages, history = inputs
    one = _score(tmp_path, messages, history=str(history), jobs=1)
    two = _score(tmp_path, messages, history=str(history), jobs=2)
    assert one == two


def _many_messages(path: Path, n: int) -> Path:
    rows = [dict(message, id=f"{message['id']}-{i}", date=message["date"].replace("2026-03", f"2026-{1 + i % 9:02}"))
            for i in range(n // len(MESSAGES) + 1) for message in MESSAGES][:n]
    return _write_jsonl(path, rows)


def test_workers_started_afresh_or_forked_after_a_partial_parse_ahead_give_the_same_output(tmp_path, monkeypatch):
    import classifier.run.batch as batch

    messages = _many_messages(tmp_path / "many.jsonl", 700)
    one = _score(tmp_path, messages, jobs=1)

    class StoppedEarly(batch.ParseAhead):  # stopped once its first chunk is written: the rest is read as usual
        def __init__(self, *args):
            super().__init__(*args)
            while not args[3].exists() or args[3].stat().st_size == 0:
                time.sleep(0.001)
            self.stopped_with = self.finish()

    started = []
    monkeypatch.setattr(batch, "ParseAhead", lambda *args: started.append(StoppedEarly(*args)) or started[-1])
    monkeypatch.setattr(batch, "can_fork", lambda: True)  # (earlier tests may leave tqdm's monitor thread)
    forked = _score(tmp_path, messages, jobs=2)
    assert 0 < sum(len(c) for c in started[0].stopped_with) < 700
    monkeypatch.setattr(batch, "can_fork", lambda: False)
    spawned = _score(tmp_path, messages, jobs=2)
    assert len(one) == 700 and forked == one and spawned == one


def test_workers_are_not_forked_while_another_thread_runs():
    # In a fresh process: earlier tests may leave threads (tqdm's monitor) in this one.
    code = ("import threading; from classifier.run.pool import can_fork; alone = can_fork(); "
            "release = threading.Event(); thread = threading.Thread(target=release.wait); thread.start(); "
            "print(alone, can_fork()); release.set()")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["True", "False"]


def _broken_mbox(path: Path) -> Path:
    good = EmailMessage()
    good["From"], good["Subject"], good["Date"] = "a@example.com", "hi", "Mon, 2 Mar 2026 10:00:00 +0000"
    good.set_content("Could you read my draft this week?")
    parts = [
        good.as_bytes(),
        b"From: \x00bad\r\nSubject: =?x-unknown?q?broken?=\r\nContent-Type: multipart/mixed; boundary=Z\r\n\r\n--Z\r\n"
        b"Content-Type: text/plain; charset=x-unknown\r\n\r\ncaf\xe9 sponsor my run please\r\n--Z",  # truncated
        b"Content-Type: text/html\r\n\r\n<p>win a <b>prize</b> now</p><script>x()</script>",
        b"From: c@example.com\r\n\r\n" + b"\xff\xfe" * 1000,
    ]
    with open(path, "wb") as f:
        for index, raw in enumerate(parts):
            f.write(b"From MAILER-DAEMON Mon Mar  2 10:00:00 2026\n" + raw.replace(b"\r\n", b"\n") + b"\n\n")
        f.write(b"From MAILER-DAEMON Mon Mar  2 10:00:00 2026\n\n\n")  # an empty message at the end
    return path


def test_malformed_messages_are_scored_and_flagged_and_the_run_goes_on(tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    code = main(["score", str(_broken_mbox(tmp_path / "broken.mbox")), "-o", str(out), "--jobs", "1"])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 4
    assert code == 3  # the empty message could not be read: reported, counted, not fatal
    err = capsys.readouterr().err
    assert "skipped 1 unreadable" in err and "broken.mbox#4" in err
    flags = {f for r in rows for f in r["flags"]}
    assert {"nul_bytes", "html_only"} <= flags or {"unknown_charset", "html_only"} <= flags


def test_a_jsonl_message_with_an_escaped_lone_surrogate_is_scored_not_fatal(tmp_path):
    # "\ud800" is valid JSON but no UTF-8 output can hold it: the run stopped when writing the row.
    path = tmp_path / "m.jsonl"
    path.write_text('{"id": "s1", "sender": "a@example.com", "date": "2026-01-01T09:00:00+00:00", '
                    '"subject": "hi \\ud800", "text": "Could you share my launch post? \\udc80"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["score", str(path), "-o", str(out), "--jobs", "1", "--quiet"]) == 0
    [row] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert row["subject"] == "hi \ufffd" and "lone_surrogates" in row["flags"]


def test_a_missing_file_or_unknown_format_is_a_one_line_error_with_exit_2(tmp_path, capsys):
    assert main(["score", str(tmp_path / "missing.mbox"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.mbox" in err
    assert main(["score", str(_write_jsonl(tmp_path / "m.jsonl", MESSAGES)), "--input-format", "pst", "--quiet"]) == 2
    assert "expected one of mbox, maildir, eml, csv, jsonl" in capsys.readouterr().err


def test_an_input_of_no_known_format_is_reported_before_the_model_loads(tmp_path, capsys, monkeypatch):
    import classifier.run.batch as batch

    def no_load(*args):
        raise AssertionError("the model was loaded for an input that cannot be read")

    monkeypatch.setattr(batch.Triage, "load", no_load)
    weird = tmp_path / "notes.dat"
    weird.write_text("hello there\nno format here\n", encoding="utf-8")
    assert main(["score", str(weird), "--quiet", "--jobs", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "notes.dat" in err and "--input-format" in err


def test_stdout_carries_data_only(inputs):
    messages, _ = inputs
    run = subprocess.run([sys.executable, "-m", "classifier", "score", str(messages), "--jobs", "1"],
                         capture_output=True, text=True, check=True)
    assert all(json.loads(line)["id"] for line in run.stdout.splitlines())
    assert "scored 6 messages" in run.stderr


# ---------------------------------------------------------------- the bundled sample inbox


@pytest.fixture(scope="module")
def sample_rows(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "out.jsonl"
    summary = score(ScoreOptions(inputs=[str(SAMPLE / "inbox.mbox")], output=str(out),
                                 history=str(SAMPLE / "history.jsonl")))
    assert summary.me == ["maya@okafor-letters.example"]  # found from the Sent label, not given
    assert summary.not_scored["sent"] == 61
    return [json.loads(line) for line in out.read_text().splitlines()]


def _ask(rows, sender, day):
    [row] = [r for r in rows if r["sender"] == sender and r["date"].startswith(day)]
    return row


def test_sample_a_friend_is_accepted_and_a_stranger_with_the_same_ask_educated(sample_rows):
    assert _ask(sample_rows, "declan.murphy@corkcitylab.example", "2026-07-08")["action"] == "accept"
    assert _ask(sample_rows, "jordan@pikemaps.example", "2026-06-23")["action"] == "educate"
    assert _ask(sample_rows, "douglas.ferris@fastpost.example", "2026-07-13")["action"] == "educate"


def test_sample_a_repeat_pitcher_is_declined_after_being_turned_down(sample_rows):
    assert _ask(sample_rows, "chloe.hartley@brightwirepr.example", "2026-02-10")["action"] == "educate"
    later = _ask(sample_rows, "chloe.hartley@brightwirepr.example", "2026-04-07")
    assert later["action"] == "decline" and later["standing"]["declined"] == 1


def test_sample_a_vouched_stranger_starts_with_credit(sample_rows):
    grace = _ask(sample_rows, "grace.mensah@commonground-coop.example", "2026-06-04")
    assert "vouched for once" in grace["standing"]["summary"] and grace["standing"]["balance"] > 3.9
    assert any("vouched for them" in reason for reason in grace["reasons"])


def test_sample_mass_mailed_campaign_and_appeals_are_declined_with_no_reply(sample_rows):
    for sender in ("team@ruthforardwick.example", "appeals@homesfirsttrust.example"):
        rows = [r for r in sample_rows if r["sender"] == sender and r["label"] == "charity_ask"]
        assert rows and all(r["action"] == "decline" and r["reply"] is None for r in rows)
        assert all("no reply needed" in " ".join(r["reasons"]) for r in rows)


def test_sample_the_sister_is_family_and_her_asks_are_never_met_with_the_lesson(sample_rows):
    chidi = [r for r in sample_rows if r["sender"] == "chidi.okafor@mailbox.example"]
    assert _ask(sample_rows, "chidi.okafor@mailbox.example", "2026-06-24")["action"] == "accept"  # CV help
    # "Did you ring Mummy??" (a parent they share) and Maya's "Mx" after her reply: family
    assert [r["tie"] for r in chidi if r["date"] >= "2026-07"] == ["family", "family"]
    assert all(r["action"] != "educate" for r in chidi if r["tie"] == "family")


def test_sample_a_friends_sponsored_run_is_accepted_for_the_tie(sample_rows):
    run = _ask(sample_rows, "hannahkowalski@fastpost.example", "2026-04-27")
    assert run["tie"] == "close" and run["action"] == "accept"
    assert any("your tie (+20)" in reason for reason in run["reasons"])
    assert run["reply"].startswith("Hi Hannah,") and "Of course" in run["reply"]


def test_sample_a_display_name_spoof_of_a_friend_is_declined_as_a_scam(sample_rows):
    spoof = _ask(sample_rows, "tunde.adebayo.office@quickmail-secure.example", "2026-10-21")
    assert spoof["action"] == "decline" and spoof["reply"] is None
    assert "claims to be Tunde Adebayo, whom you know at tunde@adebayo.example" in spoof["reasons"][0]


def test_progress_reports_each_stage_with_an_estimated_then_exact_total(tmp_path):
    import gc

    from classifier.run.pool import COLLECTOR_THRESHOLDS

    calls, thresholds = [], gc.get_threshold()
    summary = score(ScoreOptions(inputs=[str(SAMPLE / "inbox.mbox")], output=str(tmp_path / "out.jsonl"),
                                 history=str(SAMPLE / "history.jsonl")),
                    progress=lambda stage, n, total: calls.append((stage, n, total, gc.get_threshold())))
    # scoring in this process collects garbage less often, and gives the caller its own thresholds back
    assert {c[3] for c in calls} == {COLLECTOR_THRESHOLDS} != {thresholds} and gc.get_threshold() == thresholds
    calls = [c[:3] for c in calls]
    messages = len(mailbox.mbox(str(SAMPLE / "inbox.mbox")))
    reading = [c for c in calls if c[0] == "reading"]
    weighing = [c for c in calls if c[0] == "weighing"]
    assert calls.index(weighing[0]) > calls.index(reading[-1])  # one stage after the other
    assert sum(n for _, n, _ in reading) == messages
    # estimated from the file's size while reading (an ETA is possible), exact at the end
    assert reading[0][2] is not None and abs(reading[0][2] - messages) <= 0.1 * messages
    assert reading[-1][2] == messages
    assert sum(n for _, n, _ in weighing) == messages == weighing[0][2]
    assert summary.scored + sum(summary.not_scored.values()) == messages


def test_progress_bars_show_a_total_so_tqdm_can_give_an_eta():
    import io

    from classifier.frontends.cli import ProgressBars

    shown = io.StringIO()
    with ProgressBars(disable=False, file=shown) as bars:
        bars("reading", 256, 1000)
        assert (bars.bar.n, bars.bar.total) == (256, 1000)
        bars("reading", 256, 990)
        assert (bars.bar.n, bars.bar.total) == (512, 990)
        bars("weighing", 10, 512)
        assert (bars.stage, bars.bar.n, bars.bar.total) == ("weighing", 10, 512)
    assert "reading" in shown.getvalue() and "/990" in shown.getvalue() and "weighing" in shown.getvalue()


def _ledger_of_this_worker(chunk: list) -> list:
    triage = worker_state()["triage"]
    return [id(triage.ledger), triage.ledger.count()]


def test_a_forked_worker_opens_its_own_ledger_connection(tmp_path):
    # An SQLite connection must not be used on both sides of a fork.
    from classifier.policy import load_policy
    from classifier.triage import Triage
    from classifier.weigh.ledger import Ledger

    db = tmp_path / "ledger.db"
    Ledger(db).close()
    triage = Triage(classifier=None, policy=load_policy(None), ledger=db)
    inherited = triage.ledger  # opened in this process, before the fork
    workers = Workers(2, {"triage": triage}, dict, lambda state: state["triage"].forget_connections())
    try:
        [(_, (connection, count))] = list(workers.map(None, _ledger_of_this_worker, [[0]]))
    finally:
        workers.close()
    assert connection != id(inherited) and count == 0
    inherited.close()


def test_forked_workers_weigh_the_ledger_as_one_process_does(inputs, tmp_path, monkeypatch):
    import classifier.run.batch as batch
    from datetime import datetime, timezone

    from classifier.weigh.events import Event
    from classifier.weigh.ledger import Ledger

    messages, _ = inputs
    db = tmp_path / "ledger.db"
    with Ledger(db) as ledger:
        ledger.record(Event("ana-stranger@example.org", datetime(2026, 2, 1, tzinfo=timezone.utc), "helped",
                            note="fixed my bike"))
    one = _score(tmp_path, messages, ledger=str(db), jobs=1)
    monkeypatch.setattr(batch, "can_fork", lambda: True)  # (earlier tests may leave tqdm's monitor thread)
    two = _score(tmp_path, messages, ledger=str(db), jobs=2)
    stranger = next(row for row in one if row["id"] == "s1")
    assert stranger["standing"]["deposits"] > 0  # the ledger's event was weighed
    assert two == one
