"""The `triage ledger ...` and `triage policy show` commands.

``add_commands(subparsers)`` adds the parsers; each subcommand calls one plain worker function that
returns an exit code, so tests call the workers directly. Data goes to stdout; an error is one line
on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import functools
import json
import sqlite3
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import ParamSpec

from classifier.labels import KINDS, LABELS, TIE_LEVELS
from classifier.parse.contacts import CONTACT_FORMATS, read_contacts
from classifier.weigh import people as people_store
from classifier.policy import Policy, load_policy, policy_as_toml
from classifier.weigh.events import Event, parse_date
from classifier.weigh.ledger import FORMATS, Ledger, LedgerError, guess_format
from classifier.weigh.standing import standing
from classifier.weigh.tie import infer_tie

P = ParamSpec("P")
BAR_WIDTH = 40
_PARTIAL_BLOCKS = " ▏▎▍▌▋▊▉"


def reports_errors(command: str) -> Callable[[Callable[P, int]], Callable[P, int]]:
    """Turn the errors a user can cause into one line on stderr and exit code 2."""
    def decorate(worker: Callable[P, int]) -> Callable[P, int]:
        @functools.wraps(worker)
        def run(*args: P.args, **kwargs: P.kwargs) -> int:
            try:
                return worker(*args, **kwargs)
            except BrokenPipeError:
                raise  # the reader went away (`| head`): main() stops quietly
            except (ValueError, LedgerError, OSError, sqlite3.Error) as error:
                print(f"triage {command}: error: {error}", file=sys.stderr)
                return 2
        return run
    return decorate


# ---------------------------------------------------------------- workers


@reports_errors("ledger add")
def ledger_add(sender: str, kind: str, *, date: str | None = None, weight: str | float | None = None,
               note: str = "", label: str | None = None, source: str = "cli",
               ledger_path: str | Path | None = None) -> int:
    """Record one event (dated now unless ``date`` is given) and print it as a JSONL row."""
    event = Event(sender=sender, date=date or datetime.now(UTC), kind=kind, weight=weight,  # type: ignore[arg-type]
                  note=note, source=source, label=label)
    with Ledger(ledger_path) as ledger:
        new = ledger.record(event)
    print(json.dumps(event.as_row(), ensure_ascii=False))
    if not new:
        print("triage ledger add: this event was already in the ledger", file=sys.stderr)
    return 0


@reports_errors("ledger import")
def ledger_import(file: str, *, fmt: str | None = None, ledger_path: str | Path | None = None) -> int:
    """Import a JSONL or CSV ledger file ("-" is stdin); nothing is written if any row is bad."""
    with Ledger(ledger_path) as ledger:
        new = ledger.import_file(file, fmt)
        print(f"{new} new events from {file}; the ledger holds {ledger.count()}")
    return 0


@reports_errors("ledger export")
def ledger_export(output: str = "-", *, fmt: str | None = None, ledger_path: str | Path | None = None) -> int:
    """Write every event as JSONL or CSV to ``output`` ("-" is stdout)."""
    fmt = fmt or ("jsonl" if output == "-" else guess_format(output))
    with Ledger(ledger_path) as ledger:
        if output == "-":
            count = ledger.export(sys.stdout, fmt)
        else:
            with open(output, "w", encoding="utf-8", newline="") as fp:
                count = ledger.export(fp, fmt)
            print(f"triage ledger export: wrote {count} events to {output}", file=sys.stderr)
    return 0


@reports_errors("ledger show")
def ledger_show(sender: str, *, at: str | None = None, months: int = 24, policy_path: str | Path | None = None,
                ledger_path: str | Path | None = None) -> int:
    """Print a sender's events, their standing at ``at`` (now by default) and a monthly balance chart."""
    moment = parse_date(at) if at else datetime.now(UTC)
    policy = load_policy(policy_path)
    with Ledger(ledger_path) as ledger:
        keys = ledger.keys(sender)
        events = ledger.events(sender, before=moment)
        declared = people_store.load_people(ledger).declared_tie(keys)
    if not keys:
        raise ValueError("no sender given")
    also = f" (also {', '.join(keys[1:])})" if len(keys) > 1 else ""
    print(f"{keys[0]}{also}")
    if not events:
        print(f"no events before {moment.isoformat()}")
        return 0
    print(f"events before {moment.isoformat()}:")
    for e in events:
        label = f" [{e.label}]" if e.label else ""
        note = f"  {e.note}" if e.note else ""
        print(f"  {e.date.date().isoformat()}  {e.kind:<14} {e.weight:>5g}{label}{note}")
    now = standing(events, moment, policy)
    print(f"standing {now.balance:+.1f}: {now.summary()}")
    tie = infer_tie(events, moment, policy, *(declared or ()))
    print(f"tie: {tie.level}. {tie.sentence()}")
    print("balance by month (end of month):")
    for line in balance_chart(monthly_balances(events, moment, policy, months)):
        print("  " + line)
    return 0


@reports_errors("ledger alias")
def ledger_alias(a: str, b: str, *, ledger_path: str | Path | None = None) -> int:
    """Merge two keys of one person; print the whole group."""
    with Ledger(ledger_path) as ledger:
        ledger.alias(a, b)
        print(" = ".join(ledger.keys(a)))
    return 0


@reports_errors("ledger tie")
def ledger_tie(sender: str, tie: str | None, *, ledger_path: str | Path | None = None) -> int:
    """Declare how close a sender is (None: forget it, let the evidence decide); print what holds now."""
    with Ledger(ledger_path) as ledger:
        key = people_store.set_tie(ledger, sender, tie)
    print(f"{key}: {tie} (you said so)" if tie else f"{key}: no declared tie; the evidence decides")
    return 0


@reports_errors("ledger people")
def ledger_people(*, ledger_path: str | Path | None = None) -> int:
    """Print the people the ledger knows: declared ties and names, one per line, tab-separated."""
    with Ledger(ledger_path) as ledger:
        rows = people_store.listed(ledger)
    for row in rows:
        tie = f"{row['tie']} ({row['source']})" if row["tie"] else "-"
        print(f"{row['sender']}\t{tie}\t{row['name']}")
    return 0


@reports_errors("ledger contacts")
def ledger_contacts(file: str, *, fmt: str | None = None, ledger_path: str | Path | None = None) -> int:
    """Import an address book: each contact's addresses get the tie its groups say (at least
    acquaintance) unless you declared one yourself, and the name you know them by."""
    contacts = read_contacts(file, fmt)
    source = Path(file).name
    if not contacts:
        raise ValueError(f"no contact with an e-mail address in {file!r}; expected a vCard (.vcf) or a Google or "
                         "Outlook contacts CSV export")
    declared = added = 0
    with Ledger(ledger_path) as ledger:
        mine = {row["sender"] for row in people_store.listed(ledger) if row["tie"] and row["source"] == "you"}
        for contact in contacts:
            for address in contact.addresses:
                if address in mine:
                    continue  # what you declared yourself wins over an address book
                people_store.set_tie(ledger, address, contact.tie, source=source, name=contact.name)
                declared += 1
            added += 1
    print(f"{added} contacts, {declared} addresses with a tie from {source} "
          f"(your own `triage ledger tie` declarations kept)")
    return 0


@reports_errors("policy show")
def policy_show(policy_path: str | Path | None = None) -> int:
    """Print the effective policy as TOML, each key with its meaning."""
    sys.stdout.write(policy_as_toml(load_policy(policy_path)))
    return 0


# ---------------------------------------------------------------- the chart


def monthly_balances(events: list[Event], at: datetime, policy: Policy, months: int) -> list[tuple[str, float]]:
    """(YYYY-MM, balance at the end of that month, or at ``at`` for the last) for up to ``months`` months."""
    if not events:
        return []
    year, month = events[0].date.year, events[0].date.month
    points: list[tuple[str, float]] = []
    while (year, month) <= (at.year, at.month):
        nxt = (year + month // 12, month % 12 + 1)
        end = min(datetime(nxt[0], nxt[1], 1, tzinfo=UTC), at)
        points.append((f"{year:04d}-{month:02d}", standing(events, end, policy).balance))
        year, month = nxt
    return points[-months:] if months > 0 else points


def balance_chart(points: list[tuple[str, float]], width: int = BAR_WIDTH) -> list[str]:
    """One line per point: the label, the value, and a bar of block characters (░ for below zero)."""
    scale = max((abs(v) for _, v in points), default=0.0)
    lines = []
    for label, value in points:
        eighths = round(abs(value) / scale * width * 8) if scale else 0
        if value >= 0:
            bar = "█" * (eighths // 8) + (_PARTIAL_BLOCKS[eighths % 8].strip())
        else:
            bar = "░" * max(1, round(eighths / 8)) if eighths else ""
        lines.append(f"{label}  {value:+7.1f}  {bar}".rstrip())
    return lines


# ---------------------------------------------------------------- parsers


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `ledger` and `policy` to the main parser's subparsers; each sets ``func(args) -> int``."""
    ledger = subparsers.add_parser("ledger", help="record and inspect the social-capital ledger")
    commands = ledger.add_subparsers(dest="ledger_command", required=True, metavar="COMMAND")

    def with_ledger(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--ledger", metavar="PATH", help="ledger file (default: $TRIAGE_LEDGER or "
                            "~/.local/share/outreach-triage/ledger.db)")
        return parser

    add = with_ledger(commands.add_parser("add", help="record one event"))
    add.add_argument("sender", metavar="SENDER", help="e-mail address, twitter:@name, linkedin:name, ...")
    add.add_argument("kind", metavar="KIND", choices=KINDS, help=f"one of {', '.join(KINDS)}")
    add.add_argument("--date", help="ISO 8601 date or time (default: now); a date alone is midnight UTC")
    add.add_argument("--weight", help="how much this event counts (default 1.0)")
    add.add_argument("--note", default="", help="what happened, in a few words")
    add.add_argument("--label", choices=LABELS, help="for an `asked` event: the label of the ask")
    add.add_argument("--source", default="cli", help="where the event came from (default: cli)")
    add.set_defaults(func=lambda a: ledger_add(a.sender, a.kind, date=a.date, weight=a.weight, note=a.note,
                                               label=a.label, source=a.source, ledger_path=a.ledger))

    imp = with_ledger(commands.add_parser("import", help="import a JSONL or CSV ledger file"))
    imp.add_argument("file", metavar="FILE", help='the file; "-" is stdin (JSONL unless --format)')
    imp.add_argument("--format", choices=FORMATS, help="default: from the extension")
    imp.set_defaults(func=lambda a: ledger_import(a.file, fmt=a.format, ledger_path=a.ledger))

    exp = with_ledger(commands.add_parser("export", help="write every event as JSONL or CSV"))
    exp.add_argument("-o", "--output", default="-", metavar="FILE", help='default "-": stdout')
    exp.add_argument("--format", choices=FORMATS, help="default: from the extension of -o, else jsonl")
    exp.set_defaults(func=lambda a: ledger_export(a.output, fmt=a.format, ledger_path=a.ledger))

    show = with_ledger(commands.add_parser("show", help="a sender's events, standing and balance by month"))
    show.add_argument("sender", metavar="SENDER")
    show.add_argument("--at", help="judge the standing at this date or time (default: now)")
    show.add_argument("--months", type=int, default=24, help="months in the chart (default 24; 0 for all)")
    show.add_argument("--policy", metavar="FILE", help="policy file overriding the defaults")
    show.set_defaults(func=lambda a: ledger_show(a.sender, at=a.at, months=a.months, policy_path=a.policy,
                                                 ledger_path=a.ledger))

    alias = with_ledger(commands.add_parser("alias", help="record that two senders are one person"))
    alias.add_argument("a", metavar="A")
    alias.add_argument("b", metavar="B")
    alias.set_defaults(func=lambda a: ledger_alias(a.a, a.b, ledger_path=a.ledger))

    tie = with_ledger(commands.add_parser(
        "tie", help="say how close someone is: family, close, colleague, acquaintance or stranger",
        description="Declare how close a sender is. A declared tie wins over what the mail shows; --clear "
                    "forgets it. Family and close ties are never sent the 'build a relationship first' reply."))
    tie.add_argument("sender", metavar="SENDER")
    tie.add_argument("tie", metavar="TIE", nargs="?", choices=TIE_LEVELS, help=f"one of {', '.join(TIE_LEVELS)}")
    tie.add_argument("--clear", action="store_true", help="forget the declared tie")
    tie.set_defaults(func=_tie_command)

    people = with_ledger(commands.add_parser("people", help="list declared ties and known names"))
    people.set_defaults(func=lambda a: ledger_people(ledger_path=a.ledger))

    contacts = with_ledger(commands.add_parser(
        "contacts", help="import an address book (vCard, Google Contacts CSV, Outlook CSV) as ties",
        description="Everyone in the address book is at least an acquaintance; groups or categories named "
                    "like Family, Friends or Coworkers say family, close or colleague."))
    contacts.add_argument("file", metavar="FILE")
    contacts.add_argument("--format", choices=CONTACT_FORMATS, help="default: from the extension and header")
    contacts.set_defaults(func=lambda a: ledger_contacts(a.file, fmt=a.format, ledger_path=a.ledger))

    learn = with_ledger(commands.add_parser(
        "learn", help="read an export once and record its history (your replies, asks, answers) in the ledger",
        description="Record what an export shows about each relationship in the ledger, so that `triage "
                    "filter` and the screen weigh with the same evidence as `triage score`. Run it once on "
                    "an export with your sent mail; running it again adds nothing new."))
    learn.add_argument("inputs", nargs="+", metavar="EXPORT")
    learn.add_argument("--me", action="append", default=[], metavar="ADDRESS",
                       help="your own address (repeatable); default: the most frequent sender of Sent mail")
    learn.add_argument("--model", default=None)
    learn.add_argument("--input-format", default=None, help="mbox, maildir, eml, csv or jsonl (default: detect)")
    learn.set_defaults(func=_learn_command)

    policy = subparsers.add_parser("policy", help="inspect the policy")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True, metavar="COMMAND")
    show_policy = policy_commands.add_parser("show", help="print the effective policy as TOML")
    show_policy.add_argument("--policy", metavar="FILE", help="policy file overriding the defaults")
    show_policy.set_defaults(func=lambda a: policy_show(a.policy))
    fit_policy = policy_commands.add_parser(
        "fit", help="fit the policy to the yes and no answers in your sent mail",
        description="Read an export with your sent mail, find the asks you answered with a plain yes or no, "
                    "and print how often the policy agrees with you, and the policy (ask costs and tie "
                    "credits scaled) that agrees most, as a TOML file to pass with --policy.")
    fit_policy.add_argument("inputs", nargs="+", metavar="EXPORT")
    fit_policy.add_argument("--policy", metavar="FILE", help="the policy to start from (default: the defaults)")
    fit_policy.add_argument("-o", "--output", default=None, metavar="FILE",
                            help="write the fitted policy here (default: print it)")
    fit_policy.add_argument("--me", action="append", default=[], metavar="ADDRESS")
    fit_policy.add_argument("--model", default=None)
    fit_policy.add_argument("--ledger", metavar="PATH", help="a ledger whose declared ties count")
    fit_policy.add_argument("--input-format", default=None)
    fit_policy.set_defaults(func=_fit_command)


def _tie_command(a: argparse.Namespace) -> int:
    if a.clear == bool(a.tie):
        print(f"triage ledger tie: error: give a tie ({', '.join(TIE_LEVELS)}) or --clear, not both or neither",
              file=sys.stderr)
        return 2
    return ledger_tie(a.sender, None if a.clear else a.tie, ledger_path=a.ledger)


@reports_errors("ledger learn")
def _learn_command(a: argparse.Namespace) -> int:
    from classifier.classify.predict import Classifier
    from classifier.run.learn import learn

    classifier = Classifier.load(a.model)
    with Ledger(a.ledger) as ledger:
        learned = learn(a.inputs, ledger, classifier, a.me, a.input_format)
    print(f"read {learned.messages} messages (you: {', '.join(learned.me) or 'not found'}); recorded "
          f"{learned.new_events} new events of {learned.events} (the rest were already in the ledger), "
          f"{learned.named} names")
    for where, why in learned.unreadable[:10]:
        print(f"  could not read {where}: {why}", file=sys.stderr)
    if not learned.me:
        print("triage ledger learn: no sent mail found, so your replies and answers are missing; give --me "
              "ADDRESS or an export that includes your Sent folder", file=sys.stderr)
    return 3 if learned.unreadable else 0


@reports_errors("policy fit")
def _fit_command(a: argparse.Namespace) -> int:
    from classifier.classify.predict import Classifier
    from classifier.run.fit import MIN_ANSWERS, fit
    from classifier.run.learn import answered_asks, read_export

    policy = load_policy(a.policy)
    people = None
    if a.ledger:
        with Ledger(a.ledger) as ledger:
            people = people_store.load_people(ledger)
    with read_export(a.inputs, Classifier.load(a.model), a.me, a.input_format) as export:
        asks = answered_asks(export.history)
    if len(asks) < MIN_ANSWERS:
        print(f"found {len(asks)} asks you answered with a plain yes or no; at least {MIN_ANSWERS} are needed to "
              "fit a policy, so keep the one you have", file=sys.stderr)
        return 0
    result = fit(asks, policy, people)
    b, f = result.before, result.after
    print(f"{b.answers} asks you answered ({b.said_yes} yes, {b.answers - b.said_yes} no)", file=sys.stderr)
    print(f"  the policy given agrees with you on {b.agreed} ({b.share:.0%}); yes on {b.yes_agreed} of {b.said_yes}",
          file=sys.stderr)
    print(f"  the fitted policy (ask costs x{result.cost_factor:g}, tie credits x{result.credit_factor:g}) agrees "
          f"on {f.agreed} ({f.share:.0%}); yes on {f.yes_agreed} of {f.said_yes}", file=sys.stderr)
    text = policy_as_toml(result.policy)
    if a.output:
        Path(a.output).write_text(text, encoding="utf-8")
        print(f"  written to {a.output}: use it with --policy {a.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
