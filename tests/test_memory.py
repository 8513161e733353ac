"""Memory stays flat as the export grows: a run over 4x more mail must not need much more memory."""

import subprocess
import sys
from email.message import EmailMessage
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from pathlib import Path

from literals import written_messages



def _write_mbox(path: Path, n: int) -> Path:
    """``n`` messages cycling through the written messages' texts, from 300 senders over a year."""
    texts = written_messages()[:2000]
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with open(path, "wb") as out:
        for i in range(n):
            row = texts[i % len(texts)]
            mail = EmailMessage()
            mail["From"] = f"sender{i % 300}@example.org"
            mail["To"] = "me@example.com"
            mail["Subject"] = " ".join(row["subject"][:120].split()) or f"message {i}"
            mail["Date"] = format_datetime(start + timedelta(minutes=37 * i))
            mail["Message-ID"] = f"<m{i}@example.org>"
            mail.set_content(row["text"][:3000])
            out.write(b"From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n" + mail.as_bytes().replace(b"\nFrom ", b"\n>From ")
                      + b"\n")
    return path


def _peak_rss_mb(mbox: Path) -> float:
    code = ("import resource, sys; from classifier.frontends.cli import main; rc = main(['score', sys.argv[1], '-o', "
            "'/dev/null', '--quiet', '--jobs', '1']); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(rc)")
    run = subprocess.run([sys.executable, "-c", code, str(mbox)], capture_output=True, text=True, check=True)
    return int(run.stdout.strip().splitlines()[-1]) / 1024  # ru_maxrss is in KiB on Linux


def test_peak_memory_is_flat_as_the_mbox_grows(tmp_path):
    small = _peak_rss_mb(_write_mbox(tmp_path / "small.mbox", 2_000))
    large = _peak_rss_mb(_write_mbox(tmp_path / "large.mbox", 8_000))
    # Generous: four times the mail may cost a little more (SQLite pages, allocator), never four times.
    assert large < small * 1.25 + 40, (small, large)
    assert large < 1500
