"""The recipes of docs/mail-filters.md, run with the real tools where Debian provides them."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).parent.parent / "docs" / "mail-filters.md"
PITCH = (b"From pat@pr.example Mon Mar  2 10:00:00 2026\n"
         b"From: Pat <pat@pr.example>\nTo: maya@okafor-letters.example\nSubject: our launch\n"
         b"Message-ID: <launch-1@pr.example>\nDate: Mon, 2 Mar 2026 10:00:00 +0000\n\n"
         b"Would you feature our new budgeting app in your newsletter? Happy to offer an exclusive.\n")


def _triage_command() -> str:
    """The filter command as the recipes run it, pointing at this checkout's interpreter."""
    return f"{sys.executable} -m classifier"


def test_the_procmail_recipe_in_the_docs_is_the_one_tested():
    text = DOCS.read_text(encoding="utf-8")
    assert "| /usr/local/bin/triage filter --learn" in text
    assert "* ^X-Outreach-Action: educate" in text
    assert "* ^X-Outreach-Review: yes\n$DEFAULT" in text  # before the rules that file mail away


@pytest.mark.skipif(shutil.which("procmail") is None, reason="procmail is not installed (.ci/run installs it)")
def test_procmail_delivers_the_filtered_message_into_the_maildir_folder(tmp_path):
    home = tmp_path / "home"
    (home / "Maildir").mkdir(parents=True)
    ledger = tmp_path / "ledger.db"
    rc = home / ".procmailrc"
    rc.write_text(
        f"MAILDIR={home}/Maildir/\nDEFAULT=$MAILDIR\nLOGFILE={tmp_path}/procmail.log\nSHELL=/bin/sh\n"
        f":0 fw\n| {_triage_command()} filter --learn --ledger {ledger}\n\n"
        ":0\n* ^X-Outreach-Review: yes\n$DEFAULT\n\n"
        ":0\n* ^X-Outreach-Action: decline\n.Outreach.Decline/\n\n"
        ":0\n* ^X-Outreach-Action: educate\n.Outreach.Educate/\n", encoding="utf-8")
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(Path(__file__).parent.parent)}
    run = subprocess.run(["procmail", "-m", str(rc)], input=PITCH, env=env, capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr
    delivered = list((home / "Maildir" / ".Outreach.Educate" / "new").iterdir())
    assert len(delivered) == 1
    data = delivered[0].read_bytes()
    assert b"X-Outreach-Action: educate" in data and b"X-Outreach-Label: cold_pitch" in data
    message = PITCH.split(b"\n", 1)[1]  # procmail drops the envelope line and ends with a blank line
    assert data.startswith(b"X-Outreach-Label: ") and message in data
    assert all(line.startswith(b"X-Outreach-") for line in data[: data.index(message)].splitlines())
    from classifier.weigh.ledger import Ledger

    with Ledger(ledger) as book:
        assert [e.kind for e in book.events("pat@pr.example")] == ["asked"]

    # The same pitch from someone the user declared close stays in the inbox, whatever its action.
    with Ledger(ledger) as book:
        from classifier.weigh.people import set_tie

        set_tie(book, "pat@pr.example", "close")
    second = PITCH.replace(b"launch-1@", b"launch-2@")
    run = subprocess.run(["procmail", "-m", str(rc)], input=second, env=env, capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr
    inbox = list((home / "Maildir" / "new").iterdir())
    assert len(inbox) == 1 and b"X-Outreach-Review: yes" in inbox[0].read_bytes()
