"""Reply drafts: the kind answer behind `educate`, and a courteous no where one is due.

The wording lives in data/templates/ as plain text so that it can be rewritten without touching code.
Templates use string.Template placeholders: $name (the sender's name, or "there"), $subject (the
subject of the ask, or "your message") and $about (' about "<subject>"', or nothing).
"""

from __future__ import annotations

import re
import stat
import unicodedata
from pathlib import Path
from string import Template

from .labels import ASK_LABELS, check_action, check_label

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "data" / "templates"
MAX_NAME = 80
MAX_SUBJECT = 120
_REPLY_PREFIX = re.compile(r"^(?:\s*(?:re|fwd?|aw|wg|sv|tr)\s*:\s*)+", re.IGNORECASE)


def template_path(action: str, label: str) -> Path:
    """Where the template for ``action`` on a ``label`` ask lives (it may not exist)."""
    return TEMPLATES_DIR / f"{action}_{label}.txt"


def draft_reply(action: str, label: str, sender_name: str | None, subject: str | None) -> str | None:
    """A reply draft for an educate or decline recommendation on a genuine ask; None when no reply is
    due (accept, none, and spam, which gets no answer at all)."""
    check_action(action)
    check_label(label)
    if action not in ("educate", "decline") or label not in ASK_LABELS:
        return None
    template = _template(template_path(action, label), action, label)
    name = clean(sender_name, MAX_NAME)
    topic = _REPLY_PREFIX.sub("", clean(subject, MAX_SUBJECT))
    values = {"name": name or "there", "subject": topic or "your message",
              "about": f' about "{topic}"' if topic else ""}
    return template.safe_substitute(values)


_TEMPLATES: dict[Path, tuple[tuple[int, int], Template]] = {}


def _template(path: Path, action: str, label: str) -> Template:
    """The template at ``path``, read again only when the file changes: a batch drafts thousands of
    replies, and a long-running filter still picks up an edited template."""
    try:
        status = path.stat()
    except OSError:
        status = None
    if status is None or not stat.S_ISREG(status.st_mode):
        raise FileNotFoundError(f"no reply template {str(path)!r} for {action} on {label}; "
                                f"expected one per ask label ({', '.join(ASK_LABELS)}) in {TEMPLATES_DIR}")
    version = (status.st_mtime_ns, status.st_size)
    cached = _TEMPLATES.get(path)
    if cached is None or cached[0] != version:
        cached = _TEMPLATES[path] = (version, Template(path.read_text(encoding="utf-8")))
    return cached[1]


def clean(value: str | None, limit: int) -> str:
    """``value`` on one line with control and format characters removed (they could hide text or
    reorder it in the draft), trimmed to ``limit`` characters."""
    if not value:
        return ""
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
