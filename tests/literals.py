"""The messages the tests share, written once: a PR agency that pitches three times, a friend who asks
a favour and says thanks, a stranger who asks the same favour, and the events the user noted down."""

from __future__ import annotations

PITCH = ("Would you feature our new budgeting app in your newsletter? We'd love a mention to your readers, "
         "and I can offer an exclusive interview with our CEO.")
LIFT = "hey! any chance you could give me a lift to the airport on saturday morning? I'll buy breakfast x"
PITCHES = [
    {"id": "p1", "sender": "pat@brightpr.example", "date": "2026-03-02T10:00:00+00:00", "subject": "Exclusive for you",
     "text": PITCH},
    {"id": "p2", "sender": "pat@brightpr.example", "date": "2026-03-09T10:00:00+00:00", "subject": "Re: Exclusive",
     "text": "Just bumping this up. " + PITCH},
    {"id": "p3", "sender": "pat@brightpr.example", "date": "2026-03-16T10:00:00+00:00", "subject": "Following up",
     "text": "Following up one more time. " + PITCH},
]
FRIEND = [
    {"id": "f1", "sender": "ana@example.com", "date": "2026-03-21T10:00:00+00:00", "subject": "", "text": LIFT},
    {"id": "n1", "sender": "ana@example.com", "date": "2026-03-25T10:00:00+00:00", "subject": "thank you",
     "text": "Thanks so much for the lift, it was lovely to catch up. See you soon!"},
]
HISTORY = [{"sender": "ana@example.com", "date": "2026-02-01", "kind": "helped", "note": "fixed my bike"},
           {"sender": "ana@example.com", "date": "2026-01-10", "kind": "met", "note": "book club"}]
"""Ana, the friend: events the user noted down outside mail."""


def written_messages() -> list[dict]:
    """Every message written for the project (data/written: committed, ours), for tests that need many
    varied texts without the public datasets."""
    import json
    from pathlib import Path

    folder = Path(__file__).resolve().parent.parent / "data" / "written"
    return [json.loads(line) for path in sorted(folder.glob("*.jsonl")) for line in path.open(encoding="utf-8")
            if line.strip()]
