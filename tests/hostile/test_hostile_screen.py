"""The triage screen under hostile input: a file that is no mail export is refused without showing its
contents, and the screen listens on this computer only (issue 18, item 9)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from classifier.parse.sources import FormatError, input_format

from cli_run import ROOT

SECRET = "api_token: ghp_0123456789SECRETabcdef\nuser:x:1000:1000:Some One:/home/user:/bin/bash\n"


def test_a_file_of_name_value_lines_is_not_taken_for_a_message(tmp_path):
    path = tmp_path / "passwd"
    path.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
    with pytest.raises(FormatError, match="cannot tell the format"):
        input_format(path)


def test_a_real_message_without_an_extension_is_still_read(tmp_path):
    path = tmp_path / "message"
    path.write_text("Received: from x\nFrom: a@example.org\nSubject: hi\n\nhello\n")
    assert input_format(path) == "eml"


@pytest.fixture()
def screen_env(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TRIAGE_LEDGER", str(tmp_path / "ledger.db"))


@pytest.mark.parametrize("name", ["secret", "secret.csv", "secret.jsonl"])
def test_the_screen_refuses_a_file_that_is_no_export_without_showing_it(name, tmp_path, screen_env):
    path = tmp_path / name
    path.write_text(SECRET)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["where"] = "An export on this computer"
    at.session_state["path"] = str(path)
    at.run()
    assert not at.exception
    shown = " ".join(str(e.value) for e in [*at.error, *at.warning, *at.info, *at.markdown])
    assert "SECRET" not in shown and "ghp_" not in shown and "/bin/bash" not in shown
    assert at.error or at.warning  # and it said why it stopped


def test_a_history_file_that_is_no_ledger_file_is_refused_without_showing_it(tmp_path, screen_env):
    secret = tmp_path / "notes.jsonl"
    secret.write_text(SECRET)
    export = ROOT / "data" / "sample" / "inbox.mbox"
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["where"] = "An export on this computer"
    at.session_state["path"] = str(export)
    at.session_state["history"] = str(secret)
    at.run()
    assert not at.exception and at.error
    shown = " ".join(str(e.value) for e in at.error)
    assert "SECRET" not in shown and "ghp_" not in shown


def test_the_shipped_config_binds_the_screen_to_this_computer():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"


def _listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket listening on ``port``, from the kernel's own tables."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="needs Linux's /proc/net/tcp to see the bound address")
def test_streamlit_run_with_no_flags_listens_on_loopback_only(tmp_path, screen_env):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                               "--server.headless", "true"], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not _listening_addresses(port) and time.monotonic() < deadline:
            assert server.poll() is None
            time.sleep(0.2)
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, and nothing else
    finally:
        server.terminate()
        server.wait(30)
