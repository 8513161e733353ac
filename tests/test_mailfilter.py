"""`triage filter`: every original byte passes through, only X-Outreach-* lines are added, errors fail open."""

import ast
import email
import email.policy
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifier.frontends.mailfilter import EX_TEMPFAIL, FilterOptions, insert_headers, make_server, run_filter

HEADERS_ADDED = 6


def assert_only_outreach_headers_added(out: bytes, raw: bytes, count: int = HEADERS_ADDED) -> None:
    """``out`` is ``raw`` with exactly ``count`` X-Outreach-* lines inserted at the top of its headers."""
    split = raw.index(b"\n") + 1 if raw.startswith(b"From ") and b"\n" in raw else 0
    assert out[:split] == raw[:split]
    assert out.endswith(raw[split:])
    added = out[split: len(out) - (len(raw) - split)]
    lines = added.splitlines(keepends=True)
    assert len(lines) == count
    assert all(line.startswith(b"X-Outreach-") and line.endswith(b"\n") for line in lines)


def filter_bytes(raw: bytes, **options) -> tuple[int, bytes, str]:
    out, err = io.BytesIO(), io.StringIO()
    code = run_filter(raw, FilterOptions(**options), out, err)
    return code, out.getvalue(), err.getvalue()


HOSTILE = {
    "empty": b"",
    "binary garbage": bytes(range(256)) * 4,
    "no header block": b"just a line of text with no headers\nand another\n",
    "truncated multipart": (b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=Z\r\n\r\n--Z\r\n"
                            b"Content-Type: text/plain\r\n\r\nsponsor my run?\r\n--Z\r\nContent-Type: text/ht"),
    "unknown charset": b"From: a@example.com\nContent-Type: text/plain; charset=x-martian\n\n\xe9\xe8 bonjour\n",
    "nul bytes": b"From: a@example.com\nSubject: hi\x00there\n\nbo\x00dy\n",
    "mixed line ends": b"From: a@example.com\r\nSubject: mixed\nTo: b@example.com\r\n\r\nline one\nline two\r\n",
    "header injection": (b"From: a@example.com\r\nSubject: =?utf-8?q?hi=0D=0AX-Outreach-Action:_accept?=\r\n\r\n"
                         b"Could you promote my app?\r\n"),
    "mbox envelope line": b"From a@example.com Mon Mar  2 10:00:00 2026\nFrom: a@example.com\n\nhello\n",
    "10 MB attachment": (b"From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
                         b"--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--B\r\nContent-Type: application/zip\r\n"
                         b"Content-Transfer-Encoding: base64\r\n\r\n" + b"QUFBQUFBQUFBQUFB\r\n" * 600_000 + b"--B--\r\n"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_input_passes_through_with_only_headers_added(name):
    code, out, _ = filter_bytes(HOSTILE[name])
    assert code == 0
    assert_only_outreach_headers_added(out, HOSTILE[name])


def test_an_encoded_crlf_in_the_subject_cannot_add_a_second_action_header():
    _, out, _ = filter_bytes(HOSTILE["header injection"])
    parsed = email.message_from_bytes(out, policy=email.policy.compat32)
    assert len(parsed.get_all("X-Outreach-Action")) == 1
    assert parsed["X-Outreach-Action"] != "accept"


def test_the_new_lines_use_the_messages_own_line_ending():
    _, crlf, _ = filter_bytes(b"From: a@example.com\r\n\r\nhi\r\n")
    assert crlf.count(b"X-Outreach-") == crlf.count(b"\r\nX-Outreach-") + 1
    assert b"\r\n" in crlf.split(b"From:")[0]
    _, lf, _ = filter_bytes(b"From: a@example.com\n\nhi\n")
    assert b"\r" not in lf


def test_a_missing_model_fails_open_with_the_original_bytes(tmp_path):
    raw = HOSTILE["header injection"]
    code, out, err = filter_bytes(raw, model=str(tmp_path / "no-model"))
    assert code == 0 and out == raw and "passed through unchanged" in err
    code, out, _ = filter_bytes(raw, model=str(tmp_path / "no-model"), tempfail=True)
    assert code == EX_TEMPFAIL and out == raw


def test_action_only_prints_one_word():
    code, out, _ = filter_bytes(b"From: a@example.com\n\nYou have WON a prize! Click http://x.example now\n",
                                action_only=True)
    assert code == 0 and out.decode().strip() in ("accept", "educate", "decline", "none")
    assert out.count(b"\n") == 1


def test_learn_records_the_ask_once_per_message_id(tmp_path):
    from classifier.weigh.ledger import Ledger

    db = tmp_path / "ledger.db"
    raw = (b"From: pat@pr.example\r\nMessage-ID: <p1@pr.example>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n"
           b"Subject: launch\r\n\r\nWould you feature our new app in your newsletter this week?\r\n")
    for _ in range(3):
        assert filter_bytes(raw, ledger=str(db), learn=True)[0] == 0
    with Ledger(db) as ledger:
        events = ledger.events("pat@pr.example")
    assert [(e.kind, e.label) for e in events] == [("asked", "cold_pitch")]


def test_the_command_line_filter_is_byte_exact(tmp_path):
    raw = HOSTILE["mixed line ends"]
    run = subprocess.run([sys.executable, "-m", "classifier", "filter"], input=raw, capture_output=True)
    assert run.returncode == 0
    assert_only_outreach_headers_added(run.stdout, raw)


def test_the_daemon_gives_the_same_headers_and_the_client_falls_back_when_it_is_down(tmp_path):
    address = f"unix:{tmp_path / 'triage.sock'}"
    server = make_server(address, FilterOptions())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    raw = HOSTILE["header injection"]
    try:
        _, local, _ = filter_bytes(raw)
        _, remote, _ = filter_bytes(raw, connect=address)
        assert remote == local
    finally:
        server.shutdown()
        thread.join(10)
        server.close()
    code, fallback, err = filter_bytes(raw, connect=address)  # nobody listening now
    assert code == 0 and fallback == local


HEAVY = ("sklearn", "scipy", "numpy", "spacy")
# A fresh process that runs `triage` as the console script does (classifier.cli:main with sys.argv),
# then reports on stderr's last line which of HEAVY it imported.
CONSOLE_SCRIPT = ("import sys\nfrom classifier.frontends.cli import main\ncode = main()\n"
                  f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\nsys.exit(code)")


def run_triage(args: list[str], raw: bytes, env: dict) -> tuple[subprocess.CompletedProcess, list[str]]:
    run = subprocess.run([sys.executable, "-c", CONSOLE_SCRIPT, *args], input=raw, capture_output=True, env=env,
                         timeout=120)
    return run, ast.literal_eval(run.stderr.decode().strip().splitlines()[-1])


@pytest.fixture
def no_ledger_env(tmp_path):
    return {**os.environ, "TRIAGE_LEDGER": str(tmp_path / "no-ledger.db")}


@pytest.fixture
def serve(tmp_path_factory, no_ledger_env):
    """A real `triage serve` process on a Unix socket; yields its address."""
    sock = tmp_path_factory.mktemp("serve") / "triage.sock"
    server = subprocess.Popen([sys.executable, "-m", "classifier", "serve", f"unix:{sock}"], env=no_ledger_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_until_listening(server, sock)
        yield f"unix:{sock}"
    finally:
        server.send_signal(signal.SIGINT)  # serve() closes its socket on KeyboardInterrupt
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stderr.close()


def _wait_until_listening(server: subprocess.Popen, sock, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, f"triage serve exited: {server.stderr.read()[-500:]!r}"
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.connect(str(sock))
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"triage serve did not listen on {sock} within {seconds:g} s")


def test_the_filter_client_imports_no_model_stack_when_the_daemon_is_up(serve, no_ledger_env):
    raw = HOSTILE["mixed line ends"]
    run, heavy = run_triage(["filter", "--connect", serve], raw, no_ledger_env)
    assert run.returncode == 0, run.stderr
    assert b"no daemon" not in run.stderr
    assert heavy == []
    assert_only_outreach_headers_added(run.stdout, raw)


def test_the_filter_client_scores_in_its_own_process_when_the_daemon_is_down(tmp_path, no_ledger_env):
    raw = HOSTILE["mixed line ends"]
    run, heavy = run_triage(["filter", "--connect", f"unix:{tmp_path / 'nobody.sock'}"], raw, no_ledger_env)
    assert run.returncode == 0, run.stderr
    assert b"no daemon" in run.stderr and "sklearn" in heavy  # the fallback loaded the model here
    assert_only_outreach_headers_added(run.stdout, raw)


def test_the_package_names_resolve_on_first_use():
    import classifier

    assert set(classifier.__all__) <= set(dir(classifier))
    assert all(getattr(classifier, name) is not None for name in classifier.__all__)
    with pytest.raises(AttributeError):
        classifier.no_such_name  # noqa: B018


def test_the_daemon_refuses_addresses_off_loopback():
    with pytest.raises(ValueError, match="loopback"):
        make_server("10.0.0.5:7878", FilterOptions())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_any_bytes_pass_through_with_only_headers_added(raw):
    code, out, _ = filter_bytes(raw)
    assert code == 0
    assert_only_outreach_headers_added(out, raw)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([b"From: a@example.com", b"Subject: x", b"\r", b"\n", b"\r\n", b"From x", b"> q",
                                 b"--", b"=?utf-8?q?a=0D=0Ab?=", b"\x00", b"body"]), max_size=30))
def test_mail_shaped_bytes_pass_through_with_only_headers_added(parts):
    raw = b"".join(parts)
    code, out, _ = filter_bytes(raw)
    assert code == 0
    assert_only_outreach_headers_added(out, raw)


def test_insert_headers_keeps_everything_after_the_envelope_line():
    raw = b"From a@b Mon\nX: 1\n\nbody"
    assert insert_headers(raw, [("X-Outreach-Label", "spam")]) == b"From a@b Mon\nX-Outreach-Label: spam\nX: 1\n\nbody"


def test_a_sender_no_ledger_key_can_name_is_scored_with_no_history(tmp_path, monkeypatch):
    # Found by hypothesis: "From: a@example.com--" is an address to the mail parser but not to the
    # ledger, which raised, so the filter passed the mail through without headers.
    from classifier.triage import Triage

    triage = Triage.load(ledger=tmp_path / "ledger.db")
    assessment = triage.assess(b"From: a@example.com--\r\nSubject: hi\r\n\r\nCould you share my launch?\r\n")
    assert assessment.sender == "a@example.com--" and assessment.standing["summary"] == "no history"
