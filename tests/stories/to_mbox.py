"""A story inbox (messages.jsonl, the sample inbox's fields) as a Gmail-style mbox: From, To, Date,
Subject, Message-ID, In-Reply-To and X-Gmail-Labels (Inbox or Sent), a text/plain UTF-8 body. Standard
library only, so the tests read the stories the way a user's export is read."""

from __future__ import annotations

import json
import mailbox
import sys
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

HERE = Path(__file__).resolve().parent
STORIES = sorted(p.parent.name for p in HERE.glob("*/messages.jsonl"))


def rows(story: str) -> list[dict]:
    text = (HERE / story / "messages.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def write_mbox(story: str, out: Path) -> Path:
    box = mailbox.mbox(str(out), create=True)
    try:
        for r in rows(story):
            mail = EmailMessage(policy=policy.default)
            mail["From"] = formataddr((r["from_name"], r["from_addr"]))
            mail["To"] = r["to_addr"]
            mail["Date"] = format_datetime(datetime.fromisoformat(r["date"]))
            mail["Subject"] = r["subject"]
            mail["Message-ID"] = r["id"]
            if r["in_reply_to"]:
                mail["In-Reply-To"] = r["in_reply_to"]
            mail["X-Gmail-Labels"] = "Sent" if r["folder"] == "sent" else "Inbox"
            mail.set_content(r["text"])
            box.add(mailbox.mboxMessage(mail))
        box.flush()
    finally:
        box.close()
    return out


if __name__ == "__main__":
    write_mbox(sys.argv[1], Path(sys.argv[2]))
