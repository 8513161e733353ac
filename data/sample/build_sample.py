#!/usr/bin/env python3
"""Build inbox.mbox, a Gmail Takeout style export of Maya Okafor's mailbox, from messages.jsonl.

Standard library only. Run from anywhere:

    python data/sample/build_sample.py

Each message gets From, To, Date, Subject, Message-ID, In-Reply-To/References, X-GM-THRID and an
X-Gmail-Labels header (Inbox, Sent, or Inbox plus a Gmail category). Encodings are mixed on purpose,
as in a real export: most messages are text/plain UTF-8 (7bit or 8bit); newsletters, charity appeals
and agency PR mail are multipart/alternative with an HTML part; messages with emoji are
quoted-printable; two are ISO-8859-1; one carries a small PNG attachment. history.jsonl is written by
hand (events Maya recorded outside email) and only checked here. After writing, the mbox is read back
with mailbox.mbox and every body is compared with its JSONL text.
"""

from __future__ import annotations

import email
import hashlib
import html
import json
import mailbox
import re
import struct
import sys
import zlib
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAYA = ("Maya Okafor", "maya@okafor-letters.example")

NEWSLETTERS = {"hello@theoverground.example", "desk@planningdesk.example",
               "digest@housingdata.example", "bulletin@bikemcr.example"}
PROMOTIONS = NEWSLETTERS | {"appeals@homesfirsttrust.example", "team@ruthforardwick.example",
                            "alumnifund@leeds-alumni.example"}
UPDATES = {"notifications@postbox-mail.example", "tickets@railtix.example"}
# Senders whose mail arrives as multipart/alternative (the first message of a thread only: a
# "just bumping this" reply from the same agency is typed as plain text).
HTML_SENDERS = NEWSLETTERS | {"appeals@homesfirsttrust.example", "chloe.hartley@brightwirepr.example",
                              "press@hollisrentindex.example"}
LATIN1 = {"margo@fontaine-editions.example": "Re: A cheeky one (book proposal)",
          "premios@loteria-internacional-es.example": "NOTIFICACIÓN DE PREMIO / PRIZE NOTIFICATION"}
ATTACHMENT = ("sam@whitfieldprints.example", "made you a thing", "levenshulme-roofs-masthead.png")
HISTORY_KINDS = {"helped", "shared", "engaged", "introduced", "referred", "met", "vouched"}
EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF]")
URL = re.compile(r"https?://[^\s<>\"]+")


def load(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def thread_ids(rows: list[dict]) -> dict[str, str]:
    """Gmail's X-GM-THRID: one decimal number per thread, from the id of the thread's first message."""
    parent = {r["id"]: r["in_reply_to"] for r in rows}
    out = {}
    for r in rows:
        root = r["id"]
        while parent.get(root):
            root = parent[root]
        out[r["id"]] = str(int(hashlib.sha256(root.encode()).hexdigest()[:15], 16))
    return out


def references(row: dict, by_id: dict[str, dict]) -> list[str]:
    chain, cur = [], row["in_reply_to"]
    while cur:
        chain.insert(0, cur)
        cur = by_id[cur]["in_reply_to"] if cur in by_id else None
    return chain


def to_html(row: dict) -> str:
    """The HTML part a mailer would have generated from the same text."""
    paras = []
    for block in row["text"].strip("\n").split("\n\n"):
        lines = [URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', html.escape(line, quote=False))
                 for line in block.split("\n")]
        paras.append("<p>" + "<br>\n".join(lines) + "</p>")
    body = "\n".join(paras)
    if row["from_addr"] in NEWSLETTERS:
        return ("<!DOCTYPE html><html><body style=\"margin:0;background:#f4f1ea\">\n"
                "<table role=\"presentation\" width=\"100%\"><tr><td align=\"center\">\n"
                "<table role=\"presentation\" width=\"600\" style=\"background:#ffffff;font-family:Georgia,serif;"
                "font-size:17px;line-height:1.5;color:#222\"><tr><td style=\"padding:24px\">\n"
                f"<h1 style=\"font-size:22px\">{html.escape(row['from_name'])}</h1>\n{body}\n"
                "</td></tr></table>\n</td></tr></table>\n"
                "<img src=\"https://pixel.example.com/o.gif\" width=\"1\" height=\"1\" alt=\"\">\n</body></html>\n")
    return ("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head>\n"
            "<body><div style=\"font-family:Calibri,Arial,sans-serif;font-size:11pt\">\n"
            f"{body}\n</div></body></html>\n")


def tiny_png() -> bytes:
    """A 48x16 two-colour PNG: a row of terraced roofs, drawn by arithmetic."""
    width, height = 48, 16
    rows = b""
    for y in range(height):
        row = bytearray([0])  # filter type 0
        for x in range(width):
            roof = 6 - abs((x % 12) - 6)
            ink = y >= 4 + (6 - roof) and not (3 <= x % 12 <= 4 and y >= 11)
            row += bytes((34, 40, 49) if ink else (244, 241, 234))
        rows += bytes(row)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def body_encoding(row: dict) -> tuple[str, str]:
    """(charset, content-transfer-encoding) for the text part."""
    text = row["text"]
    if LATIN1.get(row["from_addr"]) == row["subject"]:
        return "iso-8859-1", ("8bit" if row["from_addr"].startswith("margo") else "quoted-printable")
    if text.isascii():
        return "utf-8", "7bit"
    if EMOJI.search(text) or EMOJI.search(row["subject"]):
        return "utf-8", "quoted-printable"
    return "utf-8", "8bit"


def build(row: dict, by_id: dict[str, dict], names: dict[str, str], thrid: str) -> mailbox.mboxMessage:
    msg = EmailMessage(policy=policy.default)
    msg["From"] = formataddr((row["from_name"], row["from_addr"]))
    if row["folder"] == "sent":
        msg["To"] = formataddr((names.get(row["to_addr"], ""), row["to_addr"]))
    else:
        msg["To"] = formataddr(MAYA) if row["to_addr"] == MAYA[1] else row["to_addr"]
    when = datetime.fromisoformat(row["date"])
    msg["Date"] = format_datetime(when)
    msg["Subject"] = row["subject"]
    msg["Message-ID"] = row["id"]
    if row["in_reply_to"]:
        msg["In-Reply-To"] = row["in_reply_to"]
        msg["References"] = " ".join(references(row, by_id))
    msg["X-GM-THRID"] = thrid
    if row["folder"] == "sent":
        labels = "Sent"
    elif row["from_addr"] in PROMOTIONS:
        labels = "Inbox,Category Promotions"
    elif row["from_addr"] in UPDATES:
        labels = "Inbox,Category Updates"
    else:
        labels = "Inbox"
    msg["X-Gmail-Labels"] = labels

    charset, cte = body_encoding(row)
    msg.set_content(row["text"], charset=charset, cte=cte)
    if row["from_addr"] in HTML_SENDERS and not row["in_reply_to"]:
        msg.add_alternative(to_html(row), subtype="html", charset="utf-8", cte="quoted-printable")
    if (row["from_addr"], row["subject"]) == ATTACHMENT[:2]:
        msg.add_attachment(tiny_png(), maintype="image", subtype="png", filename=ATTACHMENT[2])
    if msg.is_multipart():  # a fixed, Gmail-looking boundary keeps the build reproducible
        msg.set_boundary("000000000000" + hashlib.sha256(row["id"].encode()).hexdigest()[:12])

    mbox_msg = mailbox.mboxMessage(msg)
    mbox_msg.set_from(f"{thrid}@xxx {when.strftime('%a %b %d %H:%M:%S %z %Y')}")
    return mbox_msg


def check_history(path: Path, known: set[str]) -> int:
    rows = load(path)
    for n, r in enumerate(rows, 1):
        assert set(r) == {"sender", "date", "kind", "note"}, f"{path.name}:{n}: fields {sorted(r)}"
        assert r["kind"] in HISTORY_KINDS, f"{path.name}:{n}: kind {r['kind']!r}"
        assert r["sender"] in known, f"{path.name}:{n}: {r['sender']} never wrote to Maya"
        datetime.fromisoformat(r["date"])
    return len(rows)


def main() -> int:
    rows = load(HERE / "messages.jsonl")
    by_id = {r["id"]: r for r in rows}
    assert len(by_id) == len(rows), "duplicate message ids"
    names = {r["from_addr"]: r["from_name"] for r in rows if r["folder"] == "inbox"}
    names.setdefault("niamh.gallagher@dublinwire.example", "Niamh Gallagher")
    names.setdefault("hattie@citysmith.example", "Hattie Brooks")
    names.setdefault("jane.pritchard@manchester-council.example", "Jane Pritchard")
    thrids = thread_ids(rows)

    out = HERE / "inbox.mbox"
    out.unlink(missing_ok=True)
    box = mailbox.mbox(out, create=True)
    box.lock()
    try:
        for row in rows:
            box.add(build(row, by_id, names, thrids[row["id"]]))
        box.flush()
    finally:
        box.unlock()
        box.close()

    # Read it back: every message parses, and every body decodes to its JSONL text.
    box = mailbox.mbox(out, create=False)
    count = 0
    for raw in box.itervalues():
        mail = mailbox.mboxMessage(raw)
        parsed = email.message_from_bytes(mail.as_bytes(), policy=policy.default)
        row = by_id[parsed["Message-ID"].strip()]
        text = parsed.get_body(preferencelist=("plain",)).get_content()
        assert text == row["text"], f"body of {row['id']} does not round-trip"
        assert parsed["X-Gmail-Labels"].split(",")[0] == ("Sent" if row["folder"] == "sent" else "Inbox")
        count += 1
    box.close()
    assert count == len(rows), (count, len(rows))
    history = check_history(HERE / "history.jsonl", set(names))
    folders = {f: sum(r["folder"] == f for r in rows) for f in ("inbox", "sent")}
    print(f"wrote {out.relative_to(HERE.parent.parent)}: {count} messages "
          f"({folders['inbox']} inbox, {folders['sent']} sent); history.jsonl: {history} events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
