"""Address books: who the owner knows, and how close, from a vCard file, a Google Contacts CSV or an
Outlook contacts CSV.

An address book says two things: that the owner knows this person (at least an acquaintance), and,
through its groups or categories, sometimes how close they are ("Family", "Friends", "Coworkers").
vCards are read with vobject; the two CSV exports with the csv module, by their own column names.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from classifier.parse.message import normalise_address
from classifier.parse.sources import FormatError

CONTACT_FORMATS: tuple[str, ...] = ("vcard", "google", "outlook")
MAX_CONTACTS_BYTES = 50_000_000
"""A bigger address book is no address book."""

GROUP_TIES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bfamil(?:y|ies)\b|\brelatives?\b|\bparents?\b|\bsiblings?\b|\bspouse\b|\bkids\b|\bchildren\b"
                r"|\bchild\b|\bsister\b|\bbrother\b|\bmother\b|\bfather\b", re.I), "family"),
    (re.compile(r"\bfriends?\b|\bclose\b|\bbesties?\b|\binner circle\b|\bfavou?rites?\b|\bstarred\b", re.I),
     "close"),
    (re.compile(r"\bco-?workers?\b|\bcolleagues?\b|\bwork\b|\boffice\b|\bteam\b|\bbusiness\b|\bclients?\b"
                r"|\bprofessional\b|\bco-?workers\b", re.I), "colleague"),
)
"""A group or category name -> the tie it says; the closest match wins. Any other group, or none,
says acquaintance: the owner keeps the address."""


@dataclass(frozen=True)
class Contact:
    name: str
    addresses: tuple[str, ...]
    tie: str  # labels.TIE_LEVELS, never "stranger"
    groups: tuple[str, ...] = ()


def tie_of_groups(groups: list[str]) -> str:
    """The closest tie any of ``groups`` names (GROUP_TIES), else acquaintance."""
    for pattern, tie in GROUP_TIES:
        if any(pattern.search(group) for group in groups):
            return tie
    return "acquaintance"


def read_contacts(path: str | Path, fmt: str | None = None) -> list[Contact]:
    """Every contact with at least one usable e-mail address in the address book at ``path``
    (``fmt``: vcard, google or outlook; None: told from the extension and the CSV's header)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no address book at {str(path)!r}; expected a .vcf file or a Google or Outlook "
                                "contacts .csv export")
    if path.stat().st_size > MAX_CONTACTS_BYTES:
        raise FormatError(f"{path}: {path.stat().st_size:,} bytes is too big for an address book "
                          f"(at most {MAX_CONTACTS_BYTES:,})")
    raw = path.read_bytes().decode("utf-8-sig", errors="replace")
    if fmt is None:
        fmt = "vcard" if path.suffix.lower() in (".vcf", ".vcard") or raw.lstrip().upper().startswith("BEGIN:VCARD") \
            else _csv_kind(raw, path)
    if fmt not in CONTACT_FORMATS:
        raise ValueError(f"unknown address book format {fmt!r}; expected one of {', '.join(CONTACT_FORMATS)}")
    contacts = list(_vcards(raw, path) if fmt == "vcard" else _csv_contacts(raw, fmt))
    return [c for c in contacts if c.addresses]


def _csv_kind(raw: str, path: Path) -> str:
    header = next(csv.reader([raw.splitlines()[0] if raw else ""]), [])
    if any(h.startswith("E-mail 1 - Value") for h in header):
        return "google"
    if "E-mail Address" in header:
        return "outlook"
    raise FormatError(f"{path}: not an address book this reads; expected a vCard (.vcf), a Google Contacts CSV "
                      "('E-mail 1 - Value' columns) or an Outlook contacts CSV ('E-mail Address' column)")


def _vcards(raw: str, path: Path) -> Iterator[Contact]:
    import vobject

    quiet = logging.getLogger("vobject.base")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # vobject logs each unreadable line, text and all: an address book is private
    try:
        cards = list(vobject.readComponents(raw, ignoreUnreadable=True))
    except Exception as error:  # vobject raises its own ParseError and ValueError for broken cards  # noqa: BLE001
        raise FormatError(f"{path}: not a readable vCard file ({type(error).__name__})") from None
    finally:
        quiet.setLevel(level)
    for card in cards:
        name = str(card.fn.value).strip() if "fn" in card.contents else ""
        emails = [str(e.value) for e in card.contents.get("email", [])]
        groups: list[str] = []
        for item in card.contents.get("categories", []):
            value = item.value
            groups.extend(str(v).strip() for v in (value if isinstance(value, list) else [value]))
        for item in card.contents.get("related", []):  # vCard 4 RELATED;TYPE=sibling,friend,...
            groups.extend(str(t) for t in item.params.get("TYPE", []))
        yield Contact(name, _addresses(emails), tie_of_groups(groups), tuple(groups))


def _csv_contacts(raw: str, fmt: str) -> Iterator[Contact]:
    for row in csv.DictReader(raw.splitlines()):
        if fmt == "google":
            name = (row.get("Name") or " ".join(filter(None, (row.get("Given Name"), row.get("Family Name"))))
                    or " ".join(filter(None, (row.get("First Name"), row.get("Last Name")))))
            emails = [row[k] for k in row if k and k.startswith("E-mail") and k.endswith("Value") and row[k]]
            groups = re.split(r"\s*:::\s*", (row.get("Group Membership") or row.get("Labels") or "").strip())
            groups = [g.lstrip("* ").strip() for g in groups if g.strip()]
        else:
            name = " ".join(filter(None, (row.get("First Name"), row.get("Last Name"))))
            emails = [row.get(k) or "" for k in ("E-mail Address", "E-mail 2 Address", "E-mail 3 Address")]
            groups = [g.strip() for g in re.split(r"[;,]", row.get("Categories") or "") if g.strip()]
        yield Contact((name or "").strip(), _addresses(emails), tie_of_groups(groups), tuple(groups))


def _addresses(values: list[str]) -> tuple[str, ...]:
    """The usable addresses among ``values`` (a cell can hold several, split by ' ::: '), each once."""
    found = []
    for value in values:
        for piece in re.split(r"\s*:::\s*|\s*;\s*", value or ""):
            address = normalise_address(piece)
            if address and address not in found:
                found.append(address)
    return tuple(found)
