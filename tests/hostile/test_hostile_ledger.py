"""The ledger under hostile input: absurd dates and weights refused at every entry point, no formula
reaches a spreadsheet, no stray file becomes a ledger (issue 18, items 3, 6, 8 and 12)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from classifier.frontends import screen
from classifier.weigh.events import MAX_WEIGHT, Event
from classifier.weigh.ledger import Ledger, LedgerError, read_events

from cli_run import one_line_error, run_triage

EXTREME_DATES = ["9999-12-31T23:00:00-01:00", "0001-01-01T00:30:00+01:00", "9999-12-31", "1899-12-31",
                 "2200-01-01T00:00:00Z"]


@pytest.mark.parametrize("date", EXTREME_DATES)
def test_ledger_add_refuses_a_date_out_of_range_in_one_line(date, tmp_path):
    run = run_triage("ledger", "add", "a@example.org", "helped", "--date", date, "--ledger", str(tmp_path / "l.db"))
    assert run.returncode == 2 and "out of range" in one_line_error(run)


@pytest.mark.parametrize("date", EXTREME_DATES)
def test_ledger_show_refuses_a_moment_out_of_range_in_one_line(date, tmp_path):
    run = run_triage("ledger", "show", "a@example.org", "--at", date, "--ledger", str(tmp_path / "l.db"))
    assert run.returncode == 2 and "out of range" in one_line_error(run)


@pytest.mark.parametrize("date", EXTREME_DATES)
def test_ledger_import_refuses_the_file_and_writes_nothing(date, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"sender": "a@example.org", "date": "2026-01-01", "kind": "met"}\n'
                    f'{{"sender": "a@example.org", "date": "{date}", "kind": "helped"}}\n')
    run = run_triage("ledger", "import", str(path), "--ledger", str(tmp_path / "l.db"))
    assert run.returncode == 2 and "line 2" in one_line_error(run)
    with Ledger(tmp_path / "l.db") as ledger:
        assert ledger.count() == 0


@pytest.mark.parametrize("weight", ["1e308", "101", "inf", "nan", "-1", "1e400"])
def test_a_weight_out_of_range_is_refused_at_the_command_line_and_in_a_file(weight, tmp_path):
    run = run_triage("ledger", "add", "a@example.org", "helped", "--weight", weight, "--ledger", str(tmp_path / "l.db"))
    assert run.returncode == 2 and f"from 0 to {MAX_WEIGHT:g}" in one_line_error(run)
    path = tmp_path / "events.csv"
    path.write_text(f"sender,date,kind,weight\na@example.org,2026-01-01,helped,{weight}\n")
    run = run_triage("ledger", "import", str(path), "--ledger", str(tmp_path / "l.db"))
    assert run.returncode == 2 and "bad weight" in one_line_error(run)


@pytest.mark.parametrize("weight", [1e308, float("inf"), 100.5, -0.1])
def test_a_weight_out_of_range_is_refused_by_the_api(weight):
    with pytest.raises(ValueError, match="from 0 to 100"):
        Event("a@example.org", "2026-01-01", "helped", weight=weight)


def test_the_largest_weights_keep_every_standing_finite(tmp_path):
    from classifier.policy import load_policy
    from classifier.weigh.standing import standing

    events = [Event("a@example.org", datetime(2026, 1, 1 + i % 28, tzinfo=UTC), kind, weight=MAX_WEIGHT,
                    label="cold_pitch" if kind == "asked" else None)
              for i in range(2000) for kind in ("helped", "asked", "favour_granted", "vouched")]
    result = standing(events, datetime(2026, 6, 1, tzinfo=UTC), load_policy())
    assert abs(result.balance) < 1e12


def test_the_screen_records_nothing_out_of_range(tmp_path):
    with Ledger(tmp_path / "l.db") as ledger:
        row = {"id": "m1", "sender": "a@example.org", "subject": "hi", "seq": 0}
        with pytest.raises(ValueError, match="out of range"):
            screen.record_event(ledger, row, "helped", datetime(9999, 12, 31, 23, tzinfo=UTC))
        assert ledger.count() == 0


FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"click\")", "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3",
            "\t=1+1", "'=already quoted", "''twice"]


def test_ledger_export_as_csv_is_formula_safe_and_reads_back_the_same(tmp_path):
    db = tmp_path / "l.db"
    events = [Event("=cmd@evil.example", "2026-01-0%d" % (1 + i), "helped", note=note, source=note)
              for i, note in enumerate(FORMULAS)]
    with Ledger(db) as ledger:
        ledger.record_many(events)
    out = tmp_path / "ledger.csv"
    assert run_triage("ledger", "export", "-o", str(out), "--ledger", str(db)).returncode == 0
    cells = [cell for row in csv.reader(io.StringIO(out.read_text())) for cell in row[1:]]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert {e.id for e in read_events(out)} == {e.id for e in events}


def test_a_subject_the_screen_keeps_as_a_note_reaches_the_csv_quoted(tmp_path):
    db = tmp_path / "l.db"
    with Ledger(db) as ledger:
        row = {"id": "m1", "sender": "a@example.org", "subject": "=HYPERLINK(\"http://x.example\")", "seq": 0,
               "label": "friend_favour", "date": "2026-03-02T10:00:00+00:00", "action": "accept"}
        screen.mark_done(ledger, row, granted=True, now=datetime(2026, 3, 3, tzinfo=UTC))
    run = run_triage("ledger", "export", "--format", "csv", "--ledger", str(db))
    [row] = csv.DictReader(io.StringIO(run.stdout.decode()))
    assert row["note"] == "'=HYPERLINK(\"http://x.example\")"


def test_a_zero_byte_file_is_not_taken_for_a_ledger(tmp_path):
    empty = tmp_path / "ledger.db"
    empty.touch()
    with pytest.raises(LedgerError, match="empty file"):
        Ledger(empty)
    run = run_triage("ledger", "add", "a@example.org", "met", "--ledger", str(empty))
    assert run.returncode == 2 and "empty file" in one_line_error(run)
    assert empty.stat().st_size == 0


def test_a_history_file_that_is_no_json_is_refused_without_its_contents(tmp_path):
    secret = tmp_path / "secrets.jsonl"
    secret.write_text("TOKEN=ghp_0123456789abcdefSECRET\n")
    with pytest.raises(ValueError) as refused:
        read_events(secret)
    assert "SECRET" not in str(refused.value) and "line 1" in str(refused.value)
