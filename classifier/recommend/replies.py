"""Reply drafts: short replies a person would send, for the reply a recommendation calls for.

The wording lives in templates/ beside this module (package data) as plain text, so that it can be
rewritten without touching code; a folder of the user's own (``--templates DIR`` or
$OUTREACH_TEMPLATES) is read first, file by file. A reply kind (accept, educate, decline, decline_again,
decline_personal) has a template per ask label, ``<kind>_<label>.txt``, or one for every label,
``<kind>.txt``. Templates use string.Template placeholders: $first_name (the sender's first name, or
"there"), $name (their whole name, or "there"), $subject (the subject of the ask, or "your message"),
$about (' about "<subject>"', or nothing) and $signature (the user's sign-off, or nothing).
"""

from __future__ import annotations

import functools
import os
import re
import stat
from importlib import resources
from pathlib import Path
from string import Template

from classifier.cells import clean
from classifier.labels import ASK_LABELS, check_choice, check_label

REPLY_KINDS: tuple[str, ...] = ("accept", "educate", "decline", "decline_again", "decline_personal")
"""What a reply does: yes; the kind lesson for a thin tie; a short no; a no to someone who asks again
after one; a personal no to someone close."""
TEMPLATES_ENV = "OUTREACH_TEMPLATES"
MAX_NAME = 80
MAX_SUBJECT = 120
MAX_SIGNATURE = 400
_REPLY_PREFIX = re.compile(r"^(?:\s*(?:re|fwd?|aw|wg|sv|tr)\s*:\s*)+", re.IGNORECASE)
_TITLES = {"dr", "dr.", "mr", "mr.", "mrs", "mrs.", "ms", "ms.", "mx", "mx.", "prof", "prof.", "sir", "dame", "rev",
           "rev.", "fr", "fr."}
_NOT_A_PERSON = re.compile(r"\b(?:team|trust|foundation|press|pr|news|newsletter|support|info|hello|campaign|"
                           r"society|charity|ltd|inc|llc|gmbh|group|office|desk|notifications?|no-?reply|admin|"
                           r"sales|marketing|partnerships?|media|agency|studio|appeal|fund|org)\b", re.IGNORECASE)


@functools.cache
def templates_dir() -> Path:
    """The templates that ship with the package (found when first asked, installed or in a checkout)."""
    return Path(str(resources.files("classifier.recommend") / "templates"))


def user_templates_dir(given: str | os.PathLike[str] | None = None) -> Path | None:
    """The user's own templates folder: ``given``, else $OUTREACH_TEMPLATES, else None; a folder that
    does not exist is an error naming it."""
    value = given if given is not None else os.environ.get(TEMPLATES_ENV, "").strip() or None
    if value is None:
        return None
    folder = Path(value).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"templates folder {str(folder)!r} does not exist or is not a folder; expected a "
                                f"folder of <kind>_<label>.txt or <kind>.txt files (kinds: {', '.join(REPLY_KINDS)})")
    return folder


def template_path(kind: str, label: str, folder: Path | None = None) -> Path:
    """The template a ``kind`` reply to a ``label`` ask uses: the user's folder first, then the package's;
    in each, ``<kind>_<label>.txt`` before ``<kind>.txt``. The package's per-label name when none exists.
    Found once per process and kept (a batch drafts thousands of replies); an edited file is still read
    again (_template)."""
    key = (kind, label, folder, templates_dir())
    found = _PATHS.get(key)
    if found is None:
        found = _PATHS[key] = _find_template(kind, label, folder)
    return found


_PATHS: dict[tuple, Path] = {}


def _find_template(kind: str, label: str, folder: Path | None) -> Path:
    for base in ([folder] if folder else []) + [templates_dir()]:
        for name in (f"{kind}_{label}.txt", f"{kind}.txt"):
            if (base / name).is_file():
                return base / name
    return templates_dir() / f"{kind}_{label}.txt"


def draft_reply(kind: str | None, label: str, sender_name: str | None, subject: str | None, *,
                signature: str = "", folder: Path | None = None) -> str | None:
    """The reply draft of ``kind`` (a Recommendation's ``reply``) to a ``label`` ask; None when no
    reply is due (``kind`` None, or a message that is no genuine ask)."""
    check_label(label)
    if kind is None or label not in ASK_LABELS:
        return None
    check_choice(kind, REPLY_KINDS, "reply kind")
    template = _template(template_path(kind, label, folder), kind, label)
    name = clean(sender_name, MAX_NAME)
    topic = _REPLY_PREFIX.sub("", clean(subject, MAX_SUBJECT))
    values = {"name": name or "there", "first_name": first_name(name) or "there", "subject": topic or "your message",
              "about": f' about "{topic}"' if topic else "", "signature": _signature(signature)}
    return template.safe_substitute(values).rstrip() + "\n"


def first_name(name: str) -> str:
    """The first name of a display name: "Dr Aisha Bello" -> "Aisha", "Bello, Aisha" -> "Aisha"; empty
    for a name that is no person's ("Homes First Trust", "Press Office") or an address."""
    if not name or "@" in name or _NOT_A_PERSON.search(name):
        return ""
    if "," in name:
        last, _, rest = name.partition(",")
        name = rest.strip() or last
    words = [w for w in name.split() if w.lower() not in _TITLES]
    if not words or not any(ch.isalpha() for ch in words[0]):
        return ""
    return words[0]


def _signature(signature: str) -> str:
    """The user's sign-off, its lines kept (a name under "Best,"), control characters removed."""
    lines = [clean(line, MAX_SIGNATURE) for line in (signature or "").splitlines()]
    return "\n".join(lines).strip()[:MAX_SIGNATURE]


_TEMPLATES: dict[Path, tuple[tuple[int, int], Template]] = {}


def _template(path: Path, kind: str, label: str) -> Template:
    """The template at ``path``, read again only when the file changes: a batch drafts thousands of
    replies, and a long-running filter still picks up an edited template."""
    try:
        status = path.stat()
    except OSError:
        status = None
    if status is None or not stat.S_ISREG(status.st_mode):
        raise FileNotFoundError(f"no reply template {str(path)!r} for {kind} on {label}; expected "
                                f"{kind}_{label}.txt or {kind}.txt in {templates_dir()} or your templates folder")
    version = (status.st_mtime_ns, status.st_size)
    cached = _TEMPLATES.get(path)
    if cached is None or cached[0] != version:
        cached = _TEMPLATES[path] = (version, Template(path.read_text(encoding="utf-8")))
    return cached[1]
