"""Check that the prototypes in bench/proto give the package's own output, text by text.

    .venv/bin/python bench/proto/check.py [--mbox bench/out/inbox-50000.mbox] [--limit 10000]

Texts: every row of data/corpus.jsonl plus the first ``--limit`` messages of the mbox (and the bundled
sample inbox). Prints, per prototype, how many outputs differ: every count must be 0.

The CPU times printed are indicative only: old and new run in one process, so whichever runs second
finds spaCy's vocabulary and tokenizer caches warm. bench/stages.py times both in fresh processes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from classifier import batch  # noqa: E402
from classifier import features as F  # noqa: E402
from classifier.message import parse_bytes  # noqa: E402
from classifier.text import model_input  # noqa: E402
from classifier.triage import Classifier  # noqa: E402

import fast_features  # noqa: E402
import fast_parse  # noqa: E402
from stages import split_mbox  # noqa: E402

ROOT = HERE.parent.parent


def cpu(f, *args):
    start = time.thread_time()
    result = f(*args)
    return result, time.thread_time() - start


def same_message(a, b) -> list[str]:
    fields = ("id", "sender", "sender_name", "to", "date", "subject", "text", "folders", "in_reply_to", "flags")
    return [f for f in fields if getattr(a, f) != getattr(b, f)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mbox", type=Path, default=ROOT / "bench" / "out" / "inbox-50000.mbox")
    parser.add_argument("--limit", type=int, default=10_000)
    args = parser.parse_args(argv)
    report: dict = {}

    raws = split_mbox(args.mbox, args.limit)
    extra = ROOT / "data" / "sample" / "inbox.mbox"
    if extra.is_file():
        raws += split_mbox(extra, None)
    old, t_old = cpu(lambda: [parse_bytes(r, origin="x", fallback_id="x") for r in raws])
    for name, function in (("parse_bytes (compat32, fast headers)", fast_parse.parse_bytes),
                           ("parse_bytes_exact (compat32 tree, default-policy headers)", fast_parse.parse_bytes_exact)):
        new, t_new = cpu(lambda: [function(r, origin="x", fallback_id="x") for r in raws])
        diffs: dict = {}
        for a, b in zip(old, new):
            for f in same_message(a, b):
                diffs[f] = diffs.get(f, 0) + 1
        report[name] = {"n": len(raws), "differing_fields": diffs, "old_cpu_us": round(t_old / len(raws) * 1e6, 1),
                        "new_cpu_us": round(t_new / len(raws) * 1e6, 1)}

    corpus = [json.loads(line) for line in open(ROOT / "data" / "corpus.jsonl", encoding="utf-8")]
    inputs = [model_input(r.get("subject") or "", r["text"]) for r in corpus]
    inputs += [model_input(m.subject, m.text) for m in old if batch._folder_role(m) is None]
    pipeline = Classifier.load().model.pipeline
    zoned = pipeline.named_steps["zone"].transform(inputs)
    n = len(zoned)

    a, t_old = cpu(lambda: [" ".join(F.normalise_tokens(t)) for t in zoned])
    b, t_new = cpu(lambda: [" ".join(fast_features.normalise_tokens(t)) for t in zoned])
    report["normalise"] = {"n": n, "differ": sum(x != y for x, y in zip(a, b)),
                           "old_cpu_us": round(t_old / n * 1e6, 1), "new_cpu_us": round(t_new / n * 1e6, 1)}
    c, t_chunk = cpu(lambda: [" ".join(fast_features.normalise_tokens_chunked(t)) for t in zoned])
    report["normalise_chunked"] = {"n": n, "differ": sum(x != y for x, y in zip(a, c)),
                                   "old_cpu_us": round(t_old / n * 1e6, 1), "new_cpu_us": round(t_chunk / n * 1e6, 1),
                                   "examples": [(x[:200], y[:200]) for x, y in zip(a, c) if x != y][:3]}
    normalised = a
    union = dict(pipeline.named_steps["features"].transformer_list)
    for name in ("chars",):
        vec = union[name]
        x_old, t_old = cpu(vec.transform, normalised)
        x_new, t_new = cpu(fast_features.char_transform, vec, normalised)
        x_new2, t_warm = cpu(fast_features.char_transform, vec, normalised)
        diff = abs(x_old - x_new)
        report[f"tfidf_{name}"] = {"n": n, "max_abs_diff": float(diff.max()) if diff.nnz else 0.0,
                                   "nnz_old": int(x_old.nnz), "nnz_new": int(x_new.nnz),
                                   "old_cpu_us": round(t_old / n * 1e6, 1), "new_cpu_us": round(t_new / n * 1e6, 1),
                                   "new_warm_cache_cpu_us": round(t_warm / n * 1e6, 1)}
    c_old, t_old = cpu(union["cues"].transform, normalised)
    c_new, t_new = cpu(fast_features.cues_transform, normalised)
    differ_rows = np.flatnonzero(np.abs((c_old - c_new).toarray()).max(axis=1) > 1e-12)
    report["ask_cues"] = {"n": n, "differ": int(len(differ_rows)), "old_cpu_us": round(t_old / n * 1e6, 1),
                          "new_cpu_us": round(t_new / n * 1e6, 1),
                          "examples": [normalised[i][:300] for i in differ_rows[:3]]}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
