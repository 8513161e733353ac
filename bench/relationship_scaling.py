"""How the relationship stage (stage 2 of ``triage score``) grows with the size of the export.

    .venv/bin/python bench/relationship_scaling.py bench/out/inbox-10000.mbox bench/out/inbox-50000.mbox ...

For each mbox: the export history is built as batch.score builds it (content rows into ExportHistory,
detect_me, build_events), then stage 2 is timed (CPU) on an evenly spread sample of ``--sample``
inbound messages: ``ExportHistory.events`` + ``stages.assess_message``, exactly as batch.score calls
them, with the per-sender event cache empty at the start, as a run starts (each sampled sender's
events are read on its first message: fewer messages share that read than in a whole run); then
again with the sample's senders already cached. The one-off cost of reading every sender's events
once is timed apart and also given per scored message.

The model is not run: each message gets a label drawn from the corpus's label shares, seeded by its
Message-ID (stage 2's cost depends on how many events a sender has, not on which label each carries).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # stages.split_mbox

LABEL_SHARES = [("no_ask", 0.44), ("spam", 0.27), ("charity_ask", 0.15), ("cold_pitch", 0.07),
                ("friend_favour", 0.07)]


def pseudo_label(message_id: str) -> str:
    x = int(hashlib.sha1(message_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    for label, share in LABEL_SHARES:
        if x < share:
            return label
        x -= share
    return "no_ask"


def measure(mbox: Path, sample: int) -> dict:
    from classifier.parse.message import parse_bytes
    from classifier.policy import load_policy
    from classifier.results import Classification
    from classifier.run.stages import assess_message, folder_role
    from classifier.weigh.history import ExportHistory, history_row
    from stages import split_mbox

    policy = load_policy(None)
    messages = [parse_bytes(raw, origin=f"x#{i}", fallback_id=f"x#{i}")
                for i, raw in enumerate(split_mbox(mbox, None))]
    with tempfile.TemporaryDirectory(prefix="bench-relationship-") as tmp:
        path = Path(tmp) / "history.db"
        history = ExportHistory(path)
        inbound = []
        for seq, message in enumerate(messages):
            message.role = folder_role(message)
            classification = None
            if message.role is None:
                label = pseudo_label(message.id)
                classification = Classification(label=label, probabilities={l: float(l == label) for l, _ in
                                                                            LABEL_SHARES}, model_id="bench")
            history.add([history_row(seq, message, classification.label if classification else None, None)])
            if classification is not None:
                inbound.append((message, classification))
        me = history.detect_me([])
        history.build_events(me)
        inbound = [(m, c) for m, c in inbound if m.sender not in me]
        step = max(1, len(inbound) // sample)
        picked = inbound[::step][:sample]

        def stage2(reader) -> tuple[float, float]:
            total_events, start = 0, time.thread_time()
            for message, classification in picked:
                when = message.date or datetime.now(timezone.utc)
                events = reader.events(message.sender, when)
                total_events += len(events)
                assess_message(message, classification, events, policy)
            return (time.thread_time() - start) / len(picked), total_events / len(picked)

        def fresh(senders) -> tuple:
            """A new read-only connection, as a pool worker opens one (so its event cache starts empty),
            with ``senders``' events read into that cache; and the CPU seconds the reads took."""
            reader, start = ExportHistory(path, read_only=True), time.thread_time()
            for sender in senders:
                reader.events(sender)
            return reader, time.thread_time() - start

        package_s, mean_events = stage2(fresh(())[0])
        build_s = fresh({m.sender for m, _ in inbound})[1]
        cached_s, _ = stage2(fresh({m.sender for m, _ in picked})[0])
    return {"mbox": str(mbox), "messages": len(messages), "scored_in_sample": len(picked),
            "mean_events_per_message": round(mean_events, 1),
            "package_stage2_cpu_us_per_message": round(package_s * 1e6, 1),
            "cached_events_stage2_cpu_us_per_message": round(cached_s * 1e6, 1),
            "cached_events_build_once_s": round(build_s, 2),
            "cached_events_build_us_per_message": round(build_s / max(len(inbound), 1) * 1e6, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mboxes", nargs="+", type=Path)
    parser.add_argument("--sample", type=int, default=1000)
    args = parser.parse_args(argv)
    print(json.dumps([measure(mbox, args.sample) for mbox in args.mboxes], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
