"""How the relationship stage (stage 2 of ``triage score``) grows with the size of the export.

    .venv/bin/python bench/relationship_scaling.py bench/out/inbox-10000.mbox bench/out/inbox-50000.mbox ...

For each mbox: the export history is built as batch.score builds it (content rows into ExportHistory,
detect_me, build_events), then stage 2 is timed (CPU) on an evenly spread sample of ``--sample``
inbound messages: ``ExportHistory.events`` + ``assess_classified``, exactly as batch.score calls
them; then again with bench/proto's cached per-sender events (and ``Event.id`` computed once), whose
one-off build (every event of the export, once) is timed apart and also given per scored message.

The model is not run: each message gets a label drawn from the corpus's label shares, seeded by its
Message-ID (stage 2's cost depends on how many events a sender has, not on which label each carries).
Parsing uses bench/proto/fast_parse (same Message as the package, checked by proto/check.py).
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
sys.path[:0] = [str(HERE), str(HERE / "proto")]

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
    import os

    os.environ["BENCH_PATCHES"] = "none"  # importing fast_score must not patch anything yet
    import fast_parse
    import fast_score
    from classifier import batch
    from classifier.policy import load_policy
    from classifier.triage import Classification, assess_classified
    from stages import split_mbox

    policy = load_policy(None)
    messages = [fast_parse.parse_bytes(raw, origin=f"x#{i}", fallback_id=f"x#{i}")
                for i, raw in enumerate(split_mbox(mbox, None))]
    with tempfile.TemporaryDirectory(prefix="bench-relationship-") as tmp:
        history = batch.ExportHistory(Path(tmp) / "history.db")
        inbound = []
        for seq, message in enumerate(messages):
            message.role = batch._folder_role(message)
            classification = None
            if message.role is None:
                label = pseudo_label(message.id)
                classification = Classification(label=label, probabilities={l: float(l == label) for l, _ in
                                                                            LABEL_SHARES}, model_id="bench")
            row = batch._content_row(message, classification, None)
            history.add(seq, row)
            if classification is not None:
                inbound.append((message, classification))
        me = history.detect_me([])
        history.build_events(me)
        inbound = [(m, c) for m, c in inbound if m.sender not in me]
        step = max(1, len(inbound) // sample)
        picked = inbound[::step][:sample]

        def stage2(events_function) -> tuple[float, float]:
            total_events, start = 0, time.thread_time()
            for message, classification in picked:
                when = message.date or datetime.now(timezone.utc)
                events = events_function(history, message.sender, when)
                total_events += len(events)
                assess_classified(message, classification, events, policy)
            return (time.thread_time() - start) / len(picked), total_events / len(picked)

        package_s, mean_events = stage2(batch.ExportHistory.events)
        fast_score.apply({"history"})  # Event.id cached from here on, in this process
        start = time.thread_time()
        fast_score._cached_events(history, "nobody@example.org", datetime.now(timezone.utc))  # builds the cache
        build_s = time.thread_time() - start
        cached_s, _ = stage2(fast_score._cached_events)
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
    # One process per mbox would be cleaner for the Event.id patch; it is applied after the package's
    # timing, so each mbox's package number must come first: run them one process each.
    if len(args.mboxes) > 1:
        import subprocess

        results = [json.loads(subprocess.run([sys.executable, __file__, str(m), "--sample", str(args.sample)],
                                             capture_output=True, text=True, check=True).stdout)[0]
                   for m in args.mboxes]
    else:
        results = [measure(args.mboxes[0], args.sample)]
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
