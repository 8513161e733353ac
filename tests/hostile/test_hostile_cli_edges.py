"""The rough edges a new user hits on the command line (issue 17): an output name with an unknown
extension, a `--me` that is no address, a reader that goes away (`| head`), and a summary that lists
only what waits for the owner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli_run import ROOT, one_line_error, run_triage

SAMPLE = ROOT / "data" / "sample" / "inbox.mbox"


@pytest.mark.parametrize("name", ["out.xlsx", "out.txt", "scored.JSONL.bak"])
def test_an_unknown_output_extension_is_an_error_naming_the_formats(tmp_path: Path, name: str) -> None:
    run = run_triage("score", str(SAMPLE), "-o", str(tmp_path / name), "--quiet")
    assert run.returncode == 2
    line = one_line_error(run)
    assert "cannot tell the output format" in line and ".jsonl" in line and "--format" in line
    assert not (tmp_path / name).exists()
    ok = run_triage("score", str(SAMPLE), "-o", str(tmp_path / name), "--format", "csv", "--quiet")
    assert ok.returncode == 0 and (tmp_path / name).read_text(encoding="utf-8").startswith("id,")


def test_me_must_be_an_address() -> None:
    run = run_triage("score", str(SAMPLE), "--me", "notanemail", "--quiet")
    assert run.returncode == 2 and "--me 'notanemail' is not an e-mail address" in one_line_error(run)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_reader_that_goes_away_stops_the_job_quietly(jobs: str) -> None:
    process = subprocess.Popen([sys.executable, "-m", "classifier", "score", str(SAMPLE), "--quiet", "--jobs", jobs],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = process.stdout.readline()  # like `| head -1`: read one row, then go away
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=120) == 141 and first.startswith(b'{"id":')
    assert err == b""  # no traceback, no "cannot write"


def test_the_summary_lists_what_waits_for_you_and_never_spam() -> None:
    run = run_triage("score", str(SAMPLE), "-o", "-")
    summary = run.stderr.decode()
    assert run.returncode == 0 and "waiting for you:" in summary and "label to check first" in summary
    waiting = summary.split("waiting for you:", 1)[1].split("\n\n", 1)[0]
    assert "Spam, scams and mass mail are declined and wait for no one." in waiting
    assert max(map(len, waiting.splitlines())) <= 110  # fits a terminal
    for spammer in ("quickmail-secure.example", "global-relief-alliance.example", "guestpost-hub.example"):
        assert spammer not in waiting
