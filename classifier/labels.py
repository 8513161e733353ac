"""The label and action names: the one place they are spelled."""

from __future__ import annotations

LABELS: tuple[str, ...] = ("cold_pitch", "charity_ask", "friend_favour", "spam", "no_ask")
"""What kind of message it is (definitions in data/README.md)."""

ACTIONS: tuple[str, ...] = ("accept", "educate", "decline", "none")
"""What to do with it: ``none`` is for a message with no ask."""

ASK_LABELS: tuple[str, ...] = ("cold_pitch", "charity_ask", "friend_favour")
"""Labels that carry a genuine ask the ledger has to weigh."""


def check_label(label: str) -> str:
    """Return ``label`` when it is one of LABELS, else raise a ValueError naming the allowed ones."""
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}; expected one of {', '.join(LABELS)}")
    return label


def check_action(action: str) -> str:
    """Return ``action`` when it is one of ACTIONS, else raise a ValueError naming the allowed ones."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    return action
