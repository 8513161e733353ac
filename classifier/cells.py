"""CSV cells a spreadsheet opens safely: what `triage score` and `triage ledger export` write.

A cell that starts with =, +, -, @, a tab or a carriage return is run as a formula by spreadsheets;
mail is untrusted, so such a cell gets a ' in front. The escape can be undone exactly, for a CSV this
program wrote and reads back (a ledger file).
"""

from __future__ import annotations

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_QUOTED = frozenset(("'", *_FORMULA_START))


def spreadsheet_safe(value):
    """Neutralise a cell a spreadsheet would run as a formula: prefix a quote. A value that already
    starts with a quote before one of those (or before a second quote) gets one too, so that
    ``from_spreadsheet_safe`` gives every value back exactly. Non-strings pass unchanged."""
    if isinstance(value, str) and (value.startswith(_FORMULA_START) or (value[:1] == "'" and value[1:2] in _QUOTED)):
        return "'" + value
    return value


def from_spreadsheet_safe(value: str) -> str:
    """The value ``spreadsheet_safe`` was given (a CSV written by this program, read back)."""
    return value[1:] if value[:1] == "'" and value[1:2] in _QUOTED else value
