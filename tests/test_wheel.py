"""The package installed from a wheel works on its own: the model, the policy and the reply templates
ship inside it, and `triage score` from another folder gives the rows the checkout gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel built from this checkout installed in it. Its
    dependencies come from the test's own environment (a .pth line), so nothing is downloaded but
    the build backend; the checkout itself is not on its path."""
    folder = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
                            "-w", str(folder / "dist"), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    [wheel] = (folder / "dist").glob("outreach_triage-*.whl")
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                              "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-2000:]
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # The dependencies: this environment's site-packages, after the venv's own (so that the wheel's
    # classifier wins), and without its .pth files (which would bring back the editable checkout).
    Path(purelib, "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def _run(venv: Path, *args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "TRIAGE_LEDGER")}
    env["TRIAGE_LEDGER"] = str(cwd / "no-ledger.db")
    return subprocess.run([str(venv / "bin" / "triage"), *args], cwd=cwd, env=env, input=stdin, capture_output=True,
                          timeout=300)


def test_the_installed_package_is_the_wheels_not_the_checkouts(installed, tmp_path):
    where = subprocess.run([str(installed / "bin" / "python"), "-c", "import classifier; print(classifier.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    assert str(ROOT) not in where and "site-packages" in where


def test_score_from_another_folder_gives_the_checkouts_rows(installed, tmp_path):
    run = _run(installed, "score", str(SAMPLE / "inbox.mbox"), "--history", str(SAMPLE / "history.jsonl"),
               "-o", "rows.jsonl", "--quiet", cwd=tmp_path)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    here = subprocess.run([sys.executable, "-m", "classifier", "score", str(SAMPLE / "inbox.mbox"), "--history",
                           str(SAMPLE / "history.jsonl"), "-o", str(tmp_path / "checkout.jsonl"), "--quiet"],
                          env={**os.environ, "TRIAGE_LEDGER": str(tmp_path / "no-ledger.db")}, capture_output=True)
    assert here.returncode == 0, here.stderr.decode()[-2000:]
    rows = (tmp_path / "rows.jsonl").read_text().splitlines()
    assert rows == (tmp_path / "checkout.jsonl").read_text().splitlines()
    assert any(json.loads(row)["reply"] for row in rows)  # the reply templates were found


def test_the_policy_and_the_filter_work_installed(installed, tmp_path):
    assert b"repeat_escalation" in _run(installed, "policy", "show", cwd=tmp_path).stdout
    raw = b"From: pat@pr.example\nSubject: launch\n\nWould you feature our app in your newsletter?\n"
    run = _run(installed, "filter", cwd=tmp_path, stdin=raw)
    assert run.returncode == 0 and run.stdout.startswith(b"X-Outreach-Label: ") and run.stdout.endswith(raw)
