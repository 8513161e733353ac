"""Text from mail made safe to show or store as one cell: a line a reader sees (``clean``: a reply's
greeting, a name in the ledger), and a CSV cell a spreadsheet opens (``spreadsheet_safe``).

A cell that starts with =, +, -, @, a tab or a carriage return is run as a formula by spreadsheets;
mail is untrusted, so such a cell gets a ' in front. The escape can be undone exactly, for a CSV this
program wrote and reads back (a ledger file).
"""

from __future__ import annotations

import unicodedata

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_QUOTED = frozenset(("'", *_FORMULA_START))


def spreadsheet_safe(value):
    """Neutralise a cell a spreadsheet would run as a formula: prefix a quote. A value that already
    starts with a quote before one of those (or before a second quote) gets one too, so that
    ``from_spreadsheet_safe`` gives every value back exactly. Non-strings pass unchanged."""
    if isinstance(value, str) and (value.startswith(_FORMULA_START) or (value[:1] == "'" and value[1:2] in _QUOTED)):
        return "'" + value
    return value


def clean(value: str | None, limit: int) -> str:
    """``value`` on one line with control and format characters removed (they could hide text or
    reorder it), trimmed to ``limit`` characters."""
    if not value:
        return ""
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def from_spreadsheet_safe(value: str) -> str:
    """The value ``spreadsheet_safe`` was given (a CSV written by this program, read back)."""
    return value[1:] if value[:1] == "'" and value[1:2] in _QUOTED else value
