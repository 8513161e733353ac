"""The ledger and policy commands, through their workers and through argparse."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from classifier.frontends.cli_ledger import (
    add_commands,
    balance_chart,
    ledger_add,
    ledger_alias,
    ledger_export,
    ledger_import,
    ledger_show,
    policy_show,
)
from classifier.weigh.ledger import Ledger
from classifier.policy import load_policy


@pytest.fixture(autouse=True)
def own_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ledger.db"
    monkeypatch.setenv("TRIAGE_LEDGER", str(path))
    return path


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="triage")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_add_prints_the_event_and_uses_the_env_ledger(own_ledger: Path, capsys: pytest.CaptureFixture) -> None:
    assert ledger_add("Ann <Ann@example.org>", "helped", date="2024-01-05", note="fixed my feed") == 0
    row = json.loads(capsys.readouterr().out)
    assert row["sender"] == "ann@example.org" and row["date"] == "2024-01-05T00:00:00+00:00"
    assert ledger_add("ann@example.org", "helped", date="2024-01-05", note="fixed my feed") == 0
    assert "already in the ledger" in capsys.readouterr().err
    with Ledger(own_ledger) as ledger:
        assert ledger.count() == 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"sender": "Ann", "kind": "helped"}, "unrecognised sender 'Ann'"),
    ({"sender": "ann@example.org", "kind": "liked"}, "unknown kind 'liked'"),
    ({"sender": "ann@example.org", "kind": "helped", "weight": "nan"}, "bad weight 'nan'"),
    ({"sender": "ann@example.org", "kind": "helped", "date": "2024-01-05T10:00"}, "no timezone"),
])
def test_add_errors_are_one_line_and_exit_2(kwargs: dict, message: str, capsys: pytest.CaptureFixture) -> None:
    assert ledger_add(**kwargs) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("triage ledger add: error: ") and message in captured.err
    assert captured.err.count("\n") == 1


def test_import_export_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = tmp_path / "in.csv"
    source.write_text("sender,date,kind,label\nann@example.org,2024-01-05,helped,\n"
                      "bob@example.org,2024-02-01,asked,cold_pitch\n", encoding="utf-8")
    assert ledger_import(str(source)) == 0
    assert capsys.readouterr().out.startswith("2 new events")
    assert ledger_import(str(source)) == 0
    assert capsys.readouterr().out.startswith("0 new events")
    assert ledger_export("-", fmt="csv") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "sender,date,kind,weight,note,source,label"
    assert lines[2] == "bob@example.org,2024-02-01T00:00:00+00:00,asked,1.0,,,cold_pitch"
    out = tmp_path / "out.jsonl"
    assert ledger_export(str(out)) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2


def test_import_of_a_bad_file_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"sender": "ann@example.org", "date": "2024-01-05", "kind": "helped"}\n'
                      '{"sender": "ann@example.org", "date": "2024-01-06", "kind": "helped", "weight": -1}\n',
                      encoding="utf-8")
    assert ledger_import(str(source)) == 2
    assert "in.jsonl line 2: bad weight -1" in capsys.readouterr().err
    assert ledger_import(str(tmp_path / "missing.jsonl")) == 2


def test_show_lists_events_standing_and_a_monthly_chart(capsys: pytest.CaptureFixture) -> None:
    ledger_add("twitter:@ann", "helped", date="2024-01-05")
    ledger_add("ann@example.org", "shared", date="2024-02-10")
    ledger_add("ann@example.org", "asked", date="2024-03-20", label="cold_pitch", note="retweet my launch")
    assert ledger_alias("ann@example.org", "x:@Ann") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "ann@example.org = twitter:@ann"
    assert ledger_show("https://twitter.com/ann", at="2024-04-15") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "twitter:@ann (also ann@example.org)"
    assert "2024-03-20  asked" in out and "[cold_pitch]  retweet my launch" in out
    assert "standing " in out and "gave twice (helped, shared), asked once, 26 days ago" in out
    chart = out.split("balance by month (end of month):\n")[1].splitlines()
    months = [line.split()[0] for line in chart]
    assert "░" in chart[-1] and "█" in chart[1]  # the ask took them below zero
    assert months == ["2024-01", "2024-02", "2024-03", "2024-04"]


def test_show_of_an_unknown_sender(capsys: pytest.CaptureFixture) -> None:
    assert ledger_show("nobody@example.org", at="2024-04-15") == 0
    assert "no events before 2024-04-15" in capsys.readouterr().out


def test_balance_chart_bars_scale_to_the_largest_value() -> None:
    lines = balance_chart([("2024-01", 4.0), ("2024-02", 2.0), ("2024-03", -1.0), ("2024-04", 0.0)], width=8)
    assert lines == ["2024-01     +4.0  ████████", "2024-02     +2.0  ████", "2024-03     -1.0  ░░",
                     "2024-04     +0.0"]


def test_policy_show_prints_loadable_toml(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    override = tmp_path / "mine.toml"
    override.write_text("burst_factor = 0.5\n", encoding="utf-8")
    assert policy_show(str(override)) == 0
    printed = tmp_path / "printed.toml"
    printed.write_text(capsys.readouterr().out, encoding="utf-8")
    assert load_policy(printed).burst_factor == 0.5
    override.write_text("burst = 0.5\n", encoding="utf-8")
    assert policy_show(str(override)) == 2
    assert "unknown policy key(s) burst" in capsys.readouterr().err


def test_argparse_wiring_dispatches_to_the_workers(own_ledger: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    other = tmp_path / "other.db"
    args = parse(["ledger", "add", "ann@example.org", "met", "--date", "2024-01-01", "--weight", "2",
                  "--ledger", str(other)])
    assert args.func(args) == 0
    with Ledger(other) as ledger:
        assert ledger.all_events()[0].weight == 2.0
    for argv in (["ledger", "show", "ann@example.org", "--at", "2024-02-01", "--ledger", str(other)],
                 ["ledger", "alias", "ann@example.org", "linkedin:ann", "--ledger", str(other)],
                 ["ledger", "export", "--format", "jsonl", "--ledger", str(other)],
                 ["policy", "show"]):
        args = parse(argv)
        assert args.func(args) == 0
    assert not own_ledger.exists()  # --ledger was honoured everywhere
    with pytest.raises(SystemExit):
        parse(["ledger", "add", "ann@example.org", "liked"])
