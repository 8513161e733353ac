"""A scoring job: what it is asked to do (ScoreOptions) and what it reports (Summary), whichever
engine runs it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from classifier.labels import ACTIONS, LABELS, waits_for_person
from classifier.parse.sources import CsvColumns
from classifier.results import Assessment

CHUNK = 256
"""Messages classified together: large enough to vectorise, small enough to keep memory flat."""


@dataclass
class ScoreOptions:
    inputs: list[str]
    output: str | None = None  # None or "-": stdout
    format: str = "jsonl"
    history: str | None = None
    ledger: str | None = None
    me: list[str] = field(default_factory=list)
    jobs: int = 1
    model: str | None = None
    policy: str | None = None
    input_format: str | None = None
    columns: CsvColumns | None = None
    signature: str = ""  # the user's sign-off under reply drafts
    templates: str | None = None  # the user's own reply templates folder (else $OUTREACH_TEMPLATES)


@dataclass
class Summary:
    scored: int = 0
    by_label_action: Counter = field(default_factory=Counter)
    waiting: Counter = field(default_factory=Counter)  # sender -> messages that need a decision
    not_scored: Counter = field(default_factory=Counter)  # by design: own mail, drafts, chats
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (where, why)
    flagged: Counter = field(default_factory=Counter)  # repairs made while parsing
    me: list[str] = field(default_factory=list)
    repeated: int = 0  # messages that repeat an earlier one: scored, counted once as history
    to_check: int = 0  # of the waiting messages, those whose label is uncertain

    @property
    def exit_code(self) -> int:
        return 3 if self.unreadable else 0

    def add(self, other: Summary) -> None:
        """Count ``other``'s messages in too (the summaries of a job's parts make the job's)."""
        self.scored += other.scored
        self.by_label_action.update(other.by_label_action)
        self.waiting.update(other.waiting)
        self.not_scored.update(other.not_scored)
        self.unreadable.extend(other.unreadable)
        self.flagged.update(other.flagged)
        self.repeated += other.repeated
        self.to_check += other.to_check

    def count(self, outcome: Outcome) -> None:
        """One scored message."""
        self.scored += 1
        self.by_label_action[outcome.label, outcome.action] += 1
        if outcome.needs_you:
            self.waiting[outcome.sender or "(unknown sender)"] += 1
            self.to_check += outcome.needs_review
        for flag in outcome.flags:
            self.flagged[flag.split(":")[0]] += 1


@dataclass(frozen=True)
class Outcome:
    """What the summary counts of one assessment: small, so that a pool's workers send it back cheaply."""

    sender: str | None
    label: str
    action: str
    needs_review: bool
    flags: list[str]
    reply: bool = False
    """Whether a reply draft came with it: someone is waiting for an answer."""

    @property
    def needs_you(self) -> bool:
        return waits_for_person(self.action, self.needs_review, self.reply)

    @classmethod
    def of(cls, assessment: Assessment) -> Outcome:
        return cls(assessment.sender, assessment.label, assessment.action, assessment.needs_review, assessment.flags,
                   assessment.reply is not None)


def format_summary(summary: Summary) -> str:
    """The end-of-run report for stderr: label x action counts, who is waiting, what was skipped."""
    lines = [f"scored {summary.scored} messages" + (f" (you: {', '.join(summary.me)})" if summary.me else ""), "",
             f"{'':16}" + "".join(f"{a:>9}" for a in ACTIONS) + f"{'total':>9}"]
    for label in LABELS:
        counts = [summary.by_label_action[label, a] for a in ACTIONS]
        lines.append(f"{label:16}" + "".join(f"{c:>9}" for c in counts) + f"{sum(counts):>9}")
    if summary.waiting:
        total = sum(summary.waiting.values())
        lines += ["", f"waiting for you: {total} messages, {total - summary.to_check} with a reply to send or a favour "
                      f"to do,", f"{summary.to_check} with a label to check first (the model was unsure; their reasons "
                      "say so).", "Spam, scams and mass mail are declined and wait for no one.", "By sender:"]
        lines += [f"  {sender}: {n}" for sender, n in summary.waiting.most_common(10)]
        if len(summary.waiting) > 10:
            lines.append(f"  … and {len(summary.waiting) - 10} more senders")
    if summary.not_scored:
        lines += ["", "not scored, by design: " + ", ".join(f"{n} {why}" for why, n in summary.not_scored.items())]
    if summary.flagged:
        lines += ["repaired while parsing: " + ", ".join(f"{n} {why}" for why, n in summary.flagged.most_common())]
    if summary.repeated:
        lines += [f"{summary.repeated} messages repeat an earlier one (same sender, date, subject and text, whatever "
                  "their Message-ID): each was scored, and counted once as history"]
    if summary.unreadable:
        lines += ["", f"skipped {len(summary.unreadable)} unreadable:"]
        lines += [f"  {where}: {why}" for where, why in summary.unreadable[:20]]
    return "\n".join(lines)
