"""The pipe filter and its daemon under hostile input: nothing lost, nothing taken over, nothing recorded
that the owner did not allow (issue 18, items 1, 2, 7, 11 and 12)."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from classifier.weigh.ledger import Ledger
from classifier.frontends.mailfilter import FilterOptions, headers_via_daemon, make_server

from cli_run import ROOT, one_line_error, run_triage

PITCH = (b"From: pat@pr.example\r\nMessage-ID: <p1@pr.example>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n"
         b"Subject: launch\r\n\r\nWould you feature our new app in your newsletter this week?\r\n")


@pytest.fixture(scope="module")
def big_message(tmp_path_factory) -> Path:
    """A 70 MB message, made here, never committed: larger than the 64 MB the filter scores."""
    path = tmp_path_factory.mktemp("big") / "big.eml"
    with open(path, "wb") as f:
        f.write(b"From: x@y.z\n\n")
        block = b"C" * (1 << 20)
        for _ in range(70):
            f.write(block)
        f.write(b"the end\n")
    return path


def _digest(path_or_bytes) -> str:
    digest = hashlib.sha256()
    if isinstance(path_or_bytes, bytes):
        digest.update(path_or_bytes)
        return digest.hexdigest()
    with open(path_or_bytes, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- 1. a message over 64 MB


@pytest.mark.parametrize("flags", [["--tempfail"], [], ["--connect", "unix:/nonexistent/triage.sock"]])
def test_a_message_over_64_mb_passes_through_whole(big_message, tmp_path, no_ledger, flags):
    out = tmp_path / "out.eml"
    with open(big_message, "rb") as stdin, open(out, "wb") as stdout:
        run = subprocess.run([sys.executable, "-m", "classifier", "filter", *flags], stdin=stdin, stdout=stdout,
                             stderr=subprocess.PIPE, env={**os.environ, **no_ledger}, timeout=300)
    assert run.returncode == 0
    assert out.stat().st_size == big_message.stat().st_size
    assert _digest(out) == _digest(big_message)
    assert b"passed through unscored" in run.stderr and b"Traceback" not in run.stderr


def test_the_postfix_recipe_delivers_a_message_over_64_mb_whole(big_message, tmp_path, no_ledger):
    delivered = tmp_path / "delivered.eml"
    sendmail = tmp_path / "sendmail"  # stands in for Postfix's sendmail: keeps what it is handed
    sendmail.write_text(f"#!/bin/sh\ncat > {delivered}\n")
    sendmail.chmod(0o755)
    triage = Path(sys.executable).parent / "triage"
    with open(big_message, "rb") as stdin:
        run = subprocess.run(["sh", str(ROOT / "docs" / "outreach-deliver"), "sender@example.org", "maya@example.org"],
                             stdin=stdin, capture_output=True, timeout=300,
                             env={**os.environ, **no_ledger, "TRIAGE": str(triage), "SENDMAIL": str(sendmail),
                                  "OUTREACH_SOCKET": f"unix:{tmp_path / 'no-daemon.sock'}"})
    assert run.returncode == 0, run.stderr
    assert _digest(delivered) == _digest(big_message)


def test_the_postfix_recipe_asks_postfix_to_retry_when_the_filter_fails(tmp_path):
    delivered = tmp_path / "delivered.eml"
    sendmail = tmp_path / "sendmail"
    sendmail.write_text(f"#!/bin/sh\ncat > {delivered}\n")
    sendmail.chmod(0o755)
    failing = tmp_path / "triage"  # a filter that dies before writing anything
    failing.write_text("#!/bin/sh\nexit 75\n")
    failing.chmod(0o755)
    run = subprocess.run(["sh", str(ROOT / "docs" / "outreach-deliver"), "s@example.org", "m@example.org"],
                         input=PITCH, capture_output=True, timeout=60,
                         env={**os.environ, "TRIAGE": str(failing), "SENDMAIL": str(sendmail)})
    assert run.returncode == 75  # EX_TEMPFAIL: Postfix keeps the message queued
    assert not delivered.exists()  # nothing, rather than an empty message, was handed on


def test_the_recipe_in_the_docs_is_the_shipped_script():
    docs = (ROOT / "docs" / "mail-filters.md").read_text()
    assert (ROOT / "docs" / "outreach-deliver").read_text() in docs


# ---------------------------------------------------------------- 2. the daemon's socket


def test_serve_refuses_to_replace_a_regular_file(tmp_path, no_ledger):
    target = tmp_path / "important.txt"
    target.write_text("do not delete me")
    run = run_triage("serve", f"unix:{target}", env=no_ledger)
    assert run.returncode == 2 and "not a socket" in one_line_error(run)
    assert target.read_text() == "do not delete me"


def test_serve_refuses_a_folder_and_a_bad_port(tmp_path, no_ledger):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    for address, words in ((f"unix:{folder}", "folder"), ("127.0.0.1:99999", "1 to 65535"), ("127.0.0.1:0", "1 to")):
        run = run_triage("serve", address, env=no_ledger)
        assert run.returncode == 2 and words in one_line_error(run)
    assert folder.is_dir()


@pytest.fixture
def daemon(tmp_path):
    """A FilterDaemon on a Unix socket in this process, serving on a thread."""
    started = []

    def start(**kwargs):
        server = make_server(f"unix:{tmp_path / 'triage.sock'}", FilterOptions(ledger=kwargs.pop("ledger", None)),
                             **kwargs)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        assert server.wait_started()
        started.append((server, thread))
        return server

    yield start
    for server, thread in started:
        server.shutdown()
        thread.join(10)
        server.close()


def test_a_second_daemon_does_not_take_over_a_live_socket(daemon, tmp_path, no_ledger):
    server = daemon()
    run = run_triage("serve", f"unix:{server.target}", env=no_ledger)
    assert run.returncode == 2 and "already listening" in one_line_error(run)
    assert headers_via_daemon(PITCH, FilterOptions(connect=server.address))[0][0] == "X-Outreach-Label"


def test_a_stale_socket_is_replaced(tmp_path, daemon):
    stale = tmp_path / "triage.sock"
    with socket.socket(socket.AF_UNIX) as gone:
        gone.bind(str(stale))  # bound, never listening, then closed: what a killed daemon leaves
    server = daemon()
    assert headers_via_daemon(PITCH, FilterOptions(connect=server.address))[0][0] == "X-Outreach-Label"


def test_the_socket_is_private_whatever_the_umask(daemon):
    old = os.umask(0)
    try:
        server = daemon()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(server.target).st_mode) == 0o600


def test_a_stopped_daemon_removes_its_socket(tmp_path, no_ledger):
    sock = tmp_path / "triage.sock"
    server = subprocess.Popen([sys.executable, "-m", "classifier", "serve", f"unix:{sock}"],
                              env={**os.environ, **no_ledger}, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not sock.exists() and time.monotonic() < deadline and server.poll() is None:
        time.sleep(0.05)
    assert sock.exists()
    server.send_signal(signal.SIGTERM)
    assert server.wait(30) == 0
    assert b"Traceback" not in server.stderr.read()
    assert not sock.exists()


# ---------------------------------------------------------------- 7. recording through the daemon


def test_the_daemon_records_nothing_unless_its_owner_allows_it(daemon, tmp_path):
    ledger = tmp_path / "ledger.db"
    Ledger(ledger).close()
    server = daemon(ledger=str(ledger))
    err = __import__("io").StringIO()
    headers_via_daemon(PITCH, FilterOptions(connect=server.address, learn=True), err)
    assert "not recorded" in err.getvalue()
    with Ledger(ledger) as opened:
        assert opened.count() == 0


def test_with_allow_learn_the_daemon_records_the_ask_once(daemon, tmp_path):
    ledger = tmp_path / "ledger.db"
    server = daemon(ledger=str(ledger), allow_learn=True)
    for _ in range(2):
        headers_via_daemon(PITCH, FilterOptions(connect=server.address, learn=True))
    with Ledger(ledger) as opened:
        assert [(e.kind, e.label) for e in opened.events("pat@pr.example")] == [("asked", "cold_pitch")]


# ---------------------------------------------------------------- 11. load


def test_idle_clients_are_closed_and_do_not_keep_others_waiting(tmp_path):
    server = make_server(f"unix:{tmp_path / 'triage.sock'}", FilterOptions())
    server.client_seconds = 0.5
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    assert server.wait_started()
    idle = []
    try:
        for _ in range(300):
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(server.target)
            idle.append(sock)
        assert headers_via_daemon(PITCH, FilterOptions(connect=server.address))[0][0] == "X-Outreach-Label"
        time.sleep(1.5)
        closed = 0
        for sock in idle:
            sock.settimeout(1)
            closed += sock.recv(1) == b""
        assert closed == len(idle)
    finally:
        for sock in idle:
            sock.close()
        server.shutdown()
        thread.join(10)
        server.close()


def test_many_clients_at_once_are_all_answered(daemon):
    server = daemon()
    answers: list = []

    def client():
        answers.append(headers_via_daemon(PITCH, FilterOptions(connect=server.address, timeout=60)))

    threads = [threading.Thread(target=client) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(answers) == 100 and all(a[0][0] == "X-Outreach-Label" for a in answers)


# ---------------------------------------------------------------- 12. usage


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "soon"])
def test_a_timeout_that_is_no_number_of_seconds_is_refused(value, no_ledger):
    run = run_triage("filter", "--timeout", value, stdin=PITCH, env=no_ledger)
    assert run.returncode == 2 and b"--timeout" in run.stderr and run.stdout == b""
