"""cProfile of ``triage score --jobs 1``, folded into the stages of the job.

    .venv/bin/python bench/profile_score.py bench/out/inbox-10000.mbox [-o bench/out/score.prof]

Runs ``classifier.cli.main(["score", MBOX, "--jobs", "1", ...])`` under cProfile in this process and
prints JSON: the stage table (cumulative seconds of the functions that make each stage, and their
share of the run), and the top functions by own time. The raw profile is saved for ``python -m pstats``
or snakeviz.

cProfile's default (wall-clock) timer is kept: a CPU-time timer is a system call per event and
inflated call-heavy code (parsing) by half again. On a busy machine, time the process spends waiting for
a core is charged to whatever function was running, so use the *shares*, not the seconds; the
seconds per message come from bench/stages.py (CPU time, no profiler). cProfile also slows pure-Python code more than C code, so shares here lean towards Python-heavy stages;
bench/stages.py gives the same stages without a profiler.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
from pathlib import Path

# (stage, file suffix, function name[, caller file suffix, caller function]): cumulative time of the
# function (only the calls from that caller, when one is given). Chosen so that no two nest.
STAGES = [
    ("load: Triage.load (imports scikit-learn, hash check, skops load, policy)", "classifier/triage.py", "load",
     "Triage"),
    ("read: split the mbox into raw messages", "classifier/sources.py", "_split_mbox"),
    ("parse: message.parse_bytes (email, compat32)", "message.py", "parse_bytes"),
    ("model: zone (text.zone)", "classifier/features.py", "transform", "Zoner"),
    ("model: tokenise + normalise (Normaliser, spaCy, cached per chunk)", "classifier/features.py", "transform", "Normaliser"),
    ("model: TF-IDF words + chars (CompactTfidfVectorizer.transform)", "classifier/features.py", "transform",
     "CompactTfidfVectorizer"),
    ("model: ask cues (AskCues, ASK_RULES)", "classifier/features.py", "transform", "AskCues"),
    ("model: predict_proba (LogisticRegression)", "sklearn/linear_model/_logistic.py", "predict_proba"),
    ("model: explanations (Classifier._explain)", "classifier/predict.py", "_explain"),
    ("export: signals (answer_intent, deposit_kind)", "classifier/signals.py", "answer_intent"),
    ("export: signals (deposit_kind)", "classifier/signals.py", "deposit_kind"),
    ("export: ExportHistory.add_values (SQLite)", "classifier/batch.py", "add_values"),
    ("export: spool rows (batch.spooled: history values + orjson.dumps)", "classifier/batch.py", "spooled"),
    ("relationship: detect_me + build_events", "classifier/batch.py", "build_events"),
    ("relationship: spool read (orjson.loads)", "~", "<orjson.loads>", "classifier/batch.py",
     "relate_spooled"),
    ("relationship: ExportHistory.timeline (SQL, Event objects, Timeline)", "classifier/batch.py", "timeline"),
    ("relationship: Triage.events_for (ledger, --history)", "classifier/triage.py", "events_for"),
    ("relationship: standing", "classifier/standing.py", "standing"),
    ("relationship: policy.recommend", "classifier/policy.py", "recommend"),
    ("relationship: replies.draft_reply", "classifier/replies.py", "draft_reply"),
    ("write: render_jsonl (to_dict + orjson.dumps)", "classifier/writers.py", "render_jsonl"),
]


def _class_of(stats, key) -> str:
    """The class a method belongs to, told from its line in the source (cProfile keeps no class)."""
    filename, line, _ = key
    try:
        lines = Path(filename).read_text(encoding="utf-8", errors="replace").splitlines()[:line]
    except OSError:
        return ""
    for text in reversed(lines):
        if text.startswith("class "):
            return text[6:].split("(")[0].split(":")[0].strip()
    return ""


def fold(stats: pstats.Stats) -> dict:
    raw = stats.stats  # (file, line, func) -> (cc, nc, tt, ct, callers)
    total = max(ct for (_, _, _, ct, _) in raw.values())
    rows = []
    for stage in STAGES:
        label, suffix, name = stage[:3]
        seconds, calls = 0.0, 0
        for key, (cc, nc, tt, ct, callers) in raw.items():
            filename, _, func = key
            if func != name or not filename.replace(os.sep, "/").endswith(suffix):
                continue
            if len(stage) == 4 and _class_of(stats, key) != stage[3]:
                continue
            if len(stage) == 5:
                for (cfile, _, cfunc), value in callers.items():
                    if cfunc == stage[4] and cfile.replace(os.sep, "/").endswith(stage[3]):
                        seconds += value[3]
                        calls += value[1]
                continue
            seconds += ct
            calls += nc
        rows.append({"stage": label, "cumulative_s": round(seconds, 3), "calls": calls,
                     "share": round(seconds / total, 4) if total else None})
    accounted = sum(r["cumulative_s"] for r in rows)
    rows.append({"stage": "other (imports, summary, glue, profiler)", "cumulative_s": round(total - accounted, 3),
                 "calls": None, "share": round((total - accounted) / total, 4) if total else None})
    top = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:25]
    return {"total_s": round(total, 3), "stages": rows,
            "top_own_time": [{"function": f"{Path(k[0]).name}:{k[1]}({k[2]})", "own_s": round(v[2], 3),
                              "cumulative_s": round(v[3], 3), "calls": v[1]} for k, v in top]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mbox")
    parser.add_argument("-o", "--output", default=None, help="where to save the raw profile")
    args = parser.parse_args(argv)
    from classifier.frontends.cli import main as triage_main

    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        profile = cProfile.Profile()
        profile.enable()
        code = triage_main(["score", args.mbox, "--jobs", "1", "--quiet", "-o", str(Path(tmp) / "scored.jsonl")])
        profile.disable()
    if args.output:
        profile.dump_stats(args.output)
    result = fold(pstats.Stats(profile))
    result.update(mbox=args.mbox, exit_code=code)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
