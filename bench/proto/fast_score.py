"""Prototype: ``triage score`` with the bench/proto speed-ups patched in at run time (package untouched).

    BENCH_PATCHES=parse,normalise,chars,cues,history .venv/bin/python bench/proto/fast_score.py score IN.mbox ...

Arguments are those of ``triage``. ``BENCH_PATCHES`` picks the patches (default: all; "none" for none),
so that each one's gain can be measured alone. The patches are applied when this module is imported,
which the ``spawn`` pool workers do too (they import the parent's main module), so --jobs N sees them.

- parse:     classifier.message.parse_bytes -> fast_parse.parse_bytes (compat32 tree, cheap headers)
- parse_exact: the same with the default policy's header parser (headers decoded exactly as now)
- normalise: features.normalise_tokens -> per-chunk cache over spaCy's tokenizer
- chars:     char_wb TfidfVectorizer.transform -> per-word cache of n-gram indices
- cues:      AskCues.transform -> the Matcher rules as plain string tests
- history:   ExportHistory.events -> each sender's events built once, sliced by date (bisect);
             Event.id computed once per event (standing sorts by it on every call)
"""

from __future__ import annotations

import bisect
import functools
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

ALL = ("parse", "normalise", "chars", "cues", "history")


def chosen() -> set[str]:
    value = os.environ.get("BENCH_PATCHES", ",".join(ALL)).strip()
    if value in ("", "none"):
        return set()
    names = {v.strip() for v in value.split(",") if v.strip()}
    unknown = names - set(ALL) - {"parse_exact"}
    if unknown:
        raise SystemExit(f"unknown BENCH_PATCHES {sorted(unknown)}; expected some of {', '.join(ALL)}, parse_exact")
    return names


def _cached_events(self, sender, before):
    """ExportHistory.events, from a per-sender list built once (events do not change after build_events)."""
    if sender is None:
        return []
    cache = getattr(self, "_bench_cache", None)
    if cache is None:
        from classifier.events import Event

        cache = {}
        for s, date, kind, label in self.db.execute("SELECT sender, date, kind, label FROM events ORDER BY sender, date"):
            dates, events = cache.setdefault(s, ([], []))
            dates.append(date)
            events.append(Event(sender=s, date=datetime.fromisoformat(date), kind=kind, label=label, source="export"))
        self._bench_cache = cache
    if sender not in cache:
        return []
    dates, events = cache[sender]
    return events[: bisect.bisect_left(dates, before.astimezone(timezone.utc).isoformat())]


def apply(patches: set[str]) -> None:
    from classifier import batch, features, message, sources

    if "parse" in patches or "parse_exact" in patches:
        import fast_parse

        function = fast_parse.parse_bytes if "parse" in patches else fast_parse.parse_bytes_exact
        message.parse_bytes = function
        sources.parse_bytes = function  # RawMail.parse and the readers call the name bound in sources
    if "normalise" in patches:
        import fast_features

        features.normalise_tokens = fast_features.normalise_tokens_chunked
    if "chars" in patches:
        import fast_features

        original = features.CompactTfidfVectorizer.transform

        def transform(self, raw_documents):
            if self.analyzer == "char_wb" and not callable(self.preprocessor) and self.lowercase is False:
                return fast_features.char_transform(self, raw_documents)
            return original(self, raw_documents)

        features.CompactTfidfVectorizer.transform = transform
    if "cues" in patches:
        import fast_features

        features.AskCues.transform = lambda self, X: fast_features.cues_transform(X)
    if "history" in patches:
        from classifier.events import Event

        batch.ExportHistory.events = _cached_events
        ident = functools.cached_property(Event.id.fget)
        ident.__set_name__(Event, "id")
        Event.id = ident


apply(chosen())

if __name__ == "__main__":
    from classifier.cli import main

    sys.exit(main())
