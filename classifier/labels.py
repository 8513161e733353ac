"""Every vocabulary of the program, spelled once: labels, actions, and the kinds of ledger event."""

from __future__ import annotations

from collections.abc import Iterable

LABELS: tuple[str, ...] = ("cold_pitch", "charity_ask", "friend_favour", "spam", "no_ask")
"""What kind of message it is (definitions in data/README.md)."""

ASK_LABELS: tuple[str, ...] = ("cold_pitch", "charity_ask", "friend_favour")
"""Labels that carry a genuine ask the ledger has to weigh."""

ACTIONS: tuple[str, ...] = ("accept", "educate", "decline", "none")
"""What to do with it: ``none`` is for a message with no ask."""

REPLY_ACTIONS: tuple[str, ...] = ("educate", "decline")
"""Actions whose recommendation comes with a reply draft."""

DECISION_ACTIONS: tuple[str, ...] = ("educate", "decline")
"""Actions that wait for the person: they write the reply, or confirm the no."""

DEPOSIT_KINDS: tuple[str, ...] = ("helped", "shared", "engaged", "introduced", "referred", "met", "corresponded")
"""What the sender gave: helped you, shared your work, engaged with it, introduced or referred someone
to you, met you in person; ``corresponded``: you wrote to them or replied to them (found in your own
sent mail by the batch job), evidence of a relationship rather than a gift."""

WITHDRAWAL_KINDS: tuple[str, ...] = ("asked", "favour_granted")
"""What the sender took: an ask (whatever you answered), and a favour you actually did for them."""

SIGNAL_KINDS: tuple[str, ...] = ("declined", "vouched", "replied", "warm", "kin")
"""Neither given nor taken: you said no to them; someone you trust vouched for them; ``replied``: you
answered their ask, other than with a no (a message from you, so evidence of a tie); ``warm``: a
message between you with words of affection (classify.signals.warmth); ``kin``: one that speaks as
family ("Hi Mum", "love, Mum": classify.signals.kinship). The last two are evidence of how close you
are (weigh.tie) and move no balance."""

KINDS: tuple[str, ...] = DEPOSIT_KINDS + WITHDRAWAL_KINDS + SIGNAL_KINDS
"""Every kind of ledger event."""

TIE_EVIDENCE_KINDS: tuple[str, ...] = ("replied", "warm", "kin")
"""Signals that are evidence of how close a tie is and nothing else: no balance, no chart mark."""

TIE_LEVELS: tuple[str, ...] = ("family", "close", "colleague", "acquaintance", "stranger")
"""How close a relationship is, closest first (weigh.tie). Any can be declared (`triage ledger tie`, an
address book); the evidence alone can show ``close``, ``acquaintance`` or ``stranger``."""

CLOSE_TIES: tuple[str, ...] = ("family", "close")
"""Ties that never get the "build a relationship first" reply: their asks are accepted or get a kind,
personal no."""

KNOWN_TIES: tuple[str, ...] = ("family", "close", "colleague")
"""Ties with a relationship already: an ask they cannot cover gets a personal no, not a lesson."""

HELP_KINDS: tuple[str, ...] = ("helped", "introduced", "referred")
"""Deposits that are help received from the sender: recent ones count strongly (reciprocity)."""


def waits_for_person(action: str, needs_review: bool, has_reply: bool) -> bool:
    """Whether a message waits for the person: a label to check, or a reply to send (accept, educate, a
    personal no). Spam, scams and mass mail are declined with nothing to write: they wait for no one.
    The batch summary and the screen's queue both ask this."""
    return needs_review or (has_reply and action in (*DECISION_ACTIONS, "accept"))


def check_choice(value: str, allowed: Iterable[str], what: str) -> str:
    """Return ``value`` when it is one of ``allowed``, else raise a ValueError naming the allowed ones."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(allowed)}")
    return value


def check_label(label: str) -> str:
    return check_choice(label, LABELS, "label")


def check_action(action: str) -> str:
    return check_choice(action, ACTIONS, "action")
