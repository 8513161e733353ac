"""The `triage` command run as a user runs it, in a fresh process, for the hostile-input suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_triage(*args: str, stdin: bytes | None = None, env: dict | None = None, cwd: Path | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess:
    """`triage ARGS` in a fresh process. Every call checks what the whole suite promises: whatever the
    input, the command never ends in a traceback."""
    run = subprocess.run([sys.executable, "-m", "classifier", *args], input=stdin, capture_output=True,
                         env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout)
    assert b"Traceback" not in run.stderr, run.stderr.decode(errors="replace")[-2000:]
    return run


def one_line_error(run: subprocess.CompletedProcess) -> str:
    """The error a command printed: exactly one line on stderr."""
    lines = run.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]
