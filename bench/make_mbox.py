"""Generate a realistic, deterministic mbox from the project's corpus, for benchmarks.

    .venv/bin/python bench/make_mbox.py -n 50000 -o bench/out/inbox-50000.mbox

Every message is an RFC 5322 message built with ``email.message.EmailMessage`` from one row of
corpus that `make corpus` builds (``data/build/corpus.jsonl``; text, subject, label):

- a few hundred senders (``--senders``, default 400) with a long-tailed share of the mail, so that
  the relationship stage sees real histories (the busiest sender writes a few hundred times a year);
  each sender mostly sends one kind of message (a PR agency pitches, a friend asks favours);
- dates spread over one year in order, in a handful of time zones;
- about 25% multipart/alternative (text + HTML), about 3% HTML only (marketing mail);
- about 10% of the inbound mail replies to an earlier message and quotes it ("On ... wrote:" and "> ");
- about 15% is the user's own mail from one address (``me@inbox.example``) with ``X-Gmail-Labels: Sent``,
  mostly replies to an earlier ask (a plain no, a yes, or neither), some with the ask quoted;
- a corpus row with no subject (SMS, DMs) gets its first words as the subject 60% of the time;
- headers like a Gmail Takeout export: Return-Path, two Received, a DKIM-Signature, Message-ID,
  X-Gmail-Labels and X-GM-THRID; the mbox "From " lines are Takeout's.

The same ``--seed`` and ``-n`` give the same bytes (no hash randomisation, no clock). A sidecar
``<output>.json`` records the generator's sha256 and the counts; ``--if-stale`` skips the work when
the file and sidecar already match.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import random
import sys
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "data" / "build" / "corpus.jsonl"
"""Built by `make corpus` from the public data home (it holds their texts, so it is never committed)."""
ME = "me@inbox.example"
ME_NAME = "Maya Okafor"
START = datetime(2025, 1, 1, 7, 0, tzinfo=timezone.utc)
YEAR = timedelta(days=365)
ZONES = [timezone.utc, timezone(timedelta(hours=-5)), timezone(timedelta(hours=-8)), timezone(timedelta(hours=1)),
         timezone(timedelta(hours=2)), timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=9))]
FIRST = ["Alex", "Sam", "Priya", "Tom", "Lena", "Omar", "Grace", "Diego", "Hannah", "Wei", "Fatima", "Jonas",
         "Chloe", "Ravi", "Ines", "Kofi", "Mia", "Luca", "Aisha", "Ben", "Sofia", "Yuki", "Noah", "Zara", "Ethan",
         "Leila", "Marco", "Nina", "Oscar", "Ruth"]
LAST = ["Smith", "Patel", "Garcia", "Chen", "Okoro", "Muller", "Rossi", "Kim", "Novak", "Silva", "Haddad",
        "Jensen", "Brown", "Ivanova", "Mensah", "Tanaka", "Dubois", "Khan", "Lopez", "Walsh"]
DOMAINS = {
    "cold_pitch": ["brightpr.co", "launchwire.io", "pitchhouse.com", "growthlab.agency", "mediaboost.net"],
    "charity_ask": ["savethecoast.org", "foodbanknetwork.org", "actnow.org", "kidsread.org", "votefor.us"],
    "friend_favour": ["gmail.com", "outlook.com", "fastmail.com", "proton.me", "icloud.com"],
    "spam": ["win-big.biz", "promo-mail.top", "secure-verify.info", "cheapmeds.shop", "lotto-uk.click"],
    "no_ask": ["gmail.com", "yahoo.com", "substack.com", "university.edu", "company.com"],
}
REPLY_NO = ["Thanks for thinking of me, but I'll pass on this one.", "Not for me, sorry. Good luck with it!",
            "I'm afraid I can't help with this right now.", "No thanks - please take me off this list.",
            "I don't do sponsored posts, sorry.", "Unable to take this on at the moment."]
REPLY_YES = ["Happy to help - send me the details.", "Of course! I'll share it tomorrow.",
             "Sure, count me in.", "Will do. I'll have a look this week.", "Absolutely, leave it with me."]
REPLY_OTHER = ["Thanks, got it.", "Interesting - can we talk next week?", "Let me think about it.",
               "Thanks for the update!", "Saw this, will get back to you.", "Great to hear from you!"]


def load_corpus(path: Path = CORPUS) -> dict[str, list[dict]]:
    by_label: dict[str, list[dict]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            text = row["text"].replace("\r\n", "\n").replace("\r", "\n")
            subject = " ".join((row.get("subject") or "").split())[:200]  # one line, as a header must be
            by_label.setdefault(row["label"], []).append({"text": text, "subject": subject})
    return by_label


def make_senders(rng: random.Random, n: int, labels: dict[str, int]) -> list[dict]:
    """``n`` senders, each with a main kind (in the corpus's label proportions) and a long-tailed weight."""
    kinds, weights = list(labels), list(labels.values())
    senders, seen = [], set()
    for rank in range(n):
        kind = rng.choices(kinds, weights)[0]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        domain = rng.choice(DOMAINS[kind])
        local = f"{first}.{last}".lower() if rng.random() < 0.7 else f"{first[0]}{last}{rank}".lower()
        address = f"{local}@{domain}"
        while address in seen:
            address = f"{local}{rank}@{domain}"
        seen.add(address)
        senders.append({"address": address, "name": f"{first} {last}", "kind": kind, "weight": 1.0 / (rank + 10)})
    return senders


def html_version(text: str) -> str:
    paragraphs = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>\n" for p in text.split("\n\n") if p)
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>p{{margin:0 0 1em}}</style></head>"
            f"<body><div style=\"font-family:Arial,sans-serif\">\n{paragraphs}</div></body></html>\n")


def quote(text: str, limit: int = 1200) -> str:
    return "\n".join("> " + line if line else ">" for line in text[:limit].split("\n"))


def takeout_headers(mail: EmailMessage, rng: random.Random, sender: str, when: datetime, n: int) -> None:
    domain = sender.rpartition("@")[2]
    relay = f"mail-{rng.randrange(10, 99)}.{domain}"
    stamp = format_datetime(when)
    mail["Return-Path"] = f"<{sender}>"
    mail["Received"] = (f"from {relay} ({relay} [203.0.113.{n % 250 + 1}]) by mx.google.com with ESMTPS id "
                        f"{hashlib.sha1(str(n).encode()).hexdigest()[:20]} for <{ME}>; {stamp}")
    mail["Received"] = f"by {relay} with SMTP id {n:x}; {stamp}"
    signature = hashlib.sha256(f"dkim{n}".encode()).hexdigest() * 4
    mail["DKIM-Signature"] = (f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=s1; t={int(when.timestamp())}; "
                              f"h=from:to:subject:date:message-id; bh={signature[:44]}=; b={signature[:170]}")


def build(n: int, seed: int, n_senders: int) -> tuple[list[bytes], dict]:
    rng = random.Random(seed)
    corpus = load_corpus()
    labels = {label: len(rows) for label, rows in sorted(corpus.items())}
    senders = make_senders(rng, n_senders, labels)
    weights = [s["weight"] for s in senders]
    recent_inbound: list[dict] = []  # the last messages sent to me, for the user's replies to quote
    recent_sent: list[dict] = []
    out: list[bytes] = []
    stats = {"messages": n, "seed": seed, "senders": n_senders, "sent": 0, "sent_replies": 0,
             "inbound_replies": 0, "multipart_alternative": 0, "html_only": 0,
             "by_label": dict.fromkeys(labels, 0)}
    step = YEAR / max(n, 1)
    for i in range(n):
        when_utc = START + step * i + timedelta(seconds=rng.randrange(0, max(int(step.total_seconds()), 1)))
        when = when_utc.astimezone(rng.choice(ZONES))
        mail = EmailMessage()
        message_id = f"<{hashlib.sha1(f'{seed}:{i}'.encode()).hexdigest()[:24]}@bench.example>"
        if rng.random() < 0.15 and recent_inbound:
            # The user's own mail: mostly replies to a recent message, a few new messages to a contact.
            stats["sent"] += 1
            parent = rng.choice(recent_inbound[-300:])
            mail["From"] = f"{ME_NAME} <{ME}>"
            mail["To"] = f"{parent['name']} <{parent['address']}>"
            mail["Date"] = format_datetime(when)
            mail["Message-ID"] = message_id
            if rng.random() < 0.85:
                stats["sent_replies"] += 1
                mail["Subject"] = "Re: " + (parent["subject"] or "your message")
                mail["In-Reply-To"] = parent["id"]
                mail["References"] = parent["id"]
                pool = REPLY_NO if parent["label"] != "no_ask" and rng.random() < 0.5 else (
                    REPLY_YES if rng.random() < 0.4 else REPLY_OTHER)
                body = f"Hi {parent['name'].split()[0]},\n\n{rng.choice(pool)}\n\nMaya\n"
                if rng.random() < 0.6:
                    body += f"\nOn {format_datetime(parent['date'])}, {parent['name']} <{parent['address']}> wrote:\n"
                    body += quote(parent["text"]) + "\n"
            else:
                mail["Subject"] = rng.choice(["Catching up", "Quick question", "Thanks!", "Next week"])
                body = f"Hi {parent['name'].split()[0]},\n\n{rng.choice(REPLY_OTHER)}\n\nMaya\n"
            mail["X-Gmail-Labels"] = "Sent"
            mail.set_content(body)
            recent_sent.append({"id": message_id, "to": parent["address"], "text": body, "date": when,
                                "subject": mail["Subject"]})
        else:
            sender = rng.choices(senders, weights)[0]
            label = sender["kind"] if rng.random() < 0.8 else rng.choice(list(labels))
            row = rng.choice(corpus[label])
            stats["by_label"][label] += 1
            text, subject = row["text"], row["subject"]
            if not subject and rng.random() < 0.6:  # most real mail has a subject; SMS and DM rows have none
                subject = " ".join(text.split()[:8])[:60]
            takeout_headers(mail, rng, sender["address"], when, i)
            mail["From"] = f"{sender['name']} <{sender['address']}>"
            mail["To"] = f"{ME_NAME} <{ME}>"
            if rng.random() < 0.1:
                mail["Cc"] = f"{rng.choice(senders)['address']}"
            mail["Date"] = format_datetime(when)
            mail["Message-ID"] = message_id
            earlier = [s for s in recent_sent[-50:] if s["to"] == sender["address"]]
            if rng.random() < 0.1 and (earlier or recent_inbound):
                # A reply in a thread: to the user's message to them if there is one, else to any recent one.
                stats["inbound_replies"] += 1
                parent = earlier[-1] if earlier else rng.choice(recent_inbound[-100:])
                subject = "Re: " + (parent["subject"] or subject or "hello")
                mail["In-Reply-To"] = parent["id"]
                mail["References"] = parent["id"]
                who = f"{ME_NAME} <{ME}>" if earlier else f"{parent['name']} <{parent['address']}>"
                text = f"{text}\n\nOn {format_datetime(parent['date'])}, {who} wrote:\n{quote(parent['text'])}\n"
            mail["Subject"] = subject
            mail["X-Gmail-Labels"] = ("Inbox,Category Promotions" if label == "spam" else
                                      rng.choice(["Inbox", "Inbox,Important", "Inbox,Unread", "Archived"]))
            mail["X-GM-THRID"] = str(1_700_000_000_000_000_000 + i * 7919)
            kind = rng.random()
            if kind < 0.03 and label in ("spam", "cold_pitch", "charity_ask"):
                stats["html_only"] += 1
                mail.set_content(html_version(text), subtype="html")
            else:
                mail.set_content(text)
                if kind < 0.28:
                    stats["multipart_alternative"] += 1
                    mail.add_alternative(html_version(text), subtype="html")
            recent_inbound.append({"id": message_id, "address": sender["address"], "name": sender["name"],
                                   "subject": subject, "text": text, "date": when, "label": label})
            del recent_inbound[:-400]
            del recent_sent[:-400]
        raw = mail.as_bytes(policy=default_policy.clone(linesep="\n", max_line_length=998))
        envelope = f"From {1_790_000_000_000_000_000 + i}@xxx {when_utc.strftime('%a %b %d %H:%M:%S +0000 %Y')}\n"
        out.append(envelope.encode("ascii") + mbox_escape(raw))
    return out, stats


def mbox_escape(raw: bytes) -> bytes:
    """mboxo quoting: a body line starting "From " becomes ">From " (undone by the reader); ends blank."""
    lines = raw.split(b"\n")
    lines = [b">" + line if line.startswith(b"From ") else line for line in lines]
    body = b"\n".join(lines)
    return body.rstrip(b"\n") + b"\n\n"


def generator_hash() -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(hashlib.sha256(CORPUS.read_bytes()).digest())
    return digest.hexdigest()


def ensure(n: int, output: Path, seed: int = 20261122, n_senders: int = 400) -> dict:
    """Write the mbox unless an identical one (same generator, corpus, n, seed) is already there."""
    sidecar = output.with_suffix(output.suffix + ".json")
    want = {"generator_sha256": generator_hash(), "messages": n, "seed": seed, "senders": n_senders}
    if output.is_file() and sidecar.is_file():
        have = json.loads(sidecar.read_text())
        if all(have.get(k) == v for k, v in want.items()) and have.get("bytes") == output.stat().st_size:
            return have
    messages, stats = build(n, seed, n_senders)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        for raw in messages:
            f.write(raw)
    tmp.replace(output)
    stats.update(want, bytes=output.stat().st_size)
    sidecar.write_text(json.dumps(stats, indent=2) + "\n")
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--messages", type=int, default=50_000)
    parser.add_argument("-o", "--output", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--senders", type=int, default=400)
    args = parser.parse_args(argv)
    output = args.output or ROOT / "bench" / "out" / f"inbox-{args.messages}.mbox"
    stats = ensure(args.messages, output, args.seed, args.senders)
    print(json.dumps(stats), file=sys.stderr)
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
