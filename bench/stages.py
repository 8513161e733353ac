"""Time each stage of ``triage score`` in one process, on the messages of a generated mbox.

    .venv/bin/python bench/stages.py bench/out/inbox-50000.mbox [--limit 10000]

The package's own functions are called in the order ``classifier.run.batch.score`` calls them, in
chunks of ``job.CHUNK`` messages, each stage timed on its own with ``time.perf_counter``. Nothing is
profiled, so the numbers carry no profiler overhead; the cProfile run (bench/profile_score.py)
checks that their sum matches a real run. Prints a JSON object: seconds and microseconds per
message for every stage.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path

import scipy.sparse as sp

from classifier.classify.signals import answer_intent, deposit_kind
from classifier.classify.text import model_input
from classifier.labels import LABELS
from classifier.parse import sources
from classifier.parse.message import parse_bytes
from classifier.recommend.decide import recommend
from classifier.recommend.replies import draft_reply
from classifier.results import Classification
from classifier.run.job import CHUNK
from classifier.run.stages import ContentRow, assess_message, folder_role, from_spool, to_spool
from classifier.run.writers import JsonlWriter
from classifier.triage import Triage
from classifier.weigh.history import ExportHistory, history_row
from classifier.weigh.standing import standing as compute_standing


class Timer:
    """Wall seconds and this thread's CPU seconds per stage. CPU time is what the comparison uses: on a
    shared machine other processes stretch the wall time of a stage, not its CPU time."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, stage: str):
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start
            self.cpu[stage] += time.thread_time() - cpu


def split_mbox(path: Path, limit: int | None) -> list[bytes]:
    """The raw messages of ``path`` (the first ``limit``), cut by the batch job's own splitter, not parsed."""
    with open(path, "rb") as f:
        records = islice(sources._split_mbox(f, path.name), limit)
        return [record.raw for record in records if isinstance(record, sources.RawMail)]


def run(mbox: Path, limit: int | None = None) -> dict:
    timer = Timer()
    with timer("load: Triage.load (model, policy)"):
        triage = Triage.load()
    classifier = triage.classifier
    pipeline = classifier.model.pipeline
    zoner, normaliser = pipeline.named_steps["zone"], pipeline.named_steps["normalise"]
    union = dict(pipeline.named_steps["features"].transformer_list)
    model = pipeline.named_steps["classify"]

    with timer("read: split mbox + parse (sources.iter_messages)"):  # includes the parse below
        count = 0
        for _ in sources.iter_messages(mbox):
            count += 1
            if limit and count >= limit:
                break
    raws = split_mbox(mbox, limit)
    with timer("parse: message.parse_bytes"):
        messages = [parse_bytes(raw, origin=f"x#{i}", fallback_id=f"x#{i}") for i, raw in enumerate(raws)]
    for message in messages:
        message.role = folder_role(message)

    results: list = []
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as tmp:
        history = ExportHistory(Path(tmp) / "history.db")
        spool = io.BytesIO()  # the batch spools rows as orjson lines
        seq = 0
        for start in range(0, len(messages), CHUNK):
            chunk = messages[start:start + CHUNK]
            inputs = [model_input(m.subject, m.text) for m in chunk if m.role is None]
            if inputs:
                with timer("model: zone (text.zone)"):
                    zoned = zoner.transform(inputs)
                with timer("model: tokenise + normalise (features.Normaliser, spaCy, cached per chunk)"):
                    normalised = normaliser.transform(zoned)
                with timer("model: TF-IDF words (1-2 grams)"):
                    words = union["words"].transform(normalised)
                with timer("model: TF-IDF chars (char_wb 3-5 grams)"):
                    chars = union["chars"].transform(normalised)
                with timer("model: ask cues (AskCues, ASK_RULES)"):
                    cues = union["cues"].transform(normalised)
                with timer("model: hstack to CSR (FeatureUnion)"):
                    features = sp.hstack([words, chars, cues]).tocsr()
                with timer("model: predict_proba (LogisticRegression)"):
                    probabilities = model.predict_proba(features)[:, classifier._order]
                with timer("model: explanations + Classification (Classifier._explain)"):
                    labels = [LABELS[int(probs.argmax())] for probs in probabilities]
                    classifications = [
                        Classification(label=label, probabilities={n: round(float(p), 4) for n, p in zip(LABELS, probs)},
                                       top_features=reasons, model_id=classifier.model_id)
                        for label, probs, reasons in zip(labels, probabilities,
                                                         classifier._explain(features, labels, 8))]
            classified = iter(classifications if inputs else [])
            for item in chunk:
                classification = next(classified) if item.role is None else None
                label = classification.label if classification else None
                with timer("export: signals (answer_intent, deposit_kind)"):
                    if item.role == "sent":
                        signal = answer_intent(item.text) if item.in_reply_to else None
                    else:
                        signal = deposit_kind(item.text) if label == "no_ask" else None
                row = ContentRow(item, classification, signal)
                with timer("export: history row + ExportHistory.add (SQLite insert)"):
                    history.add([history_row(seq, item, row.label, signal)])
                with timer("export: spool write (stages.to_spool)"):
                    spool.write(to_spool(row) + b"\n")
                seq += 1
        with timer("relationship: detect_me + build_events (SQL)"):
            me = history.detect_me([])
            history.build_events(me)
        spool.seek(0)
        out = io.StringIO()
        writer = JsonlWriter(out)
        scored = 0
        event_counts: list[int] = []
        for line in spool:
            with timer("relationship: spool read (stages.from_spool)"):
                row = from_spool(line)
            message, classification = row.message, row.classification
            if message.role is not None or message.sender in me:
                continue
            when = message.date or datetime.now(timezone.utc)
            with timer("relationship: ExportHistory.events (SQL + Event objects)"):
                events = history.events(message.sender, when) + triage.events_for(message.sender, when)
            event_counts.append(len(events))
            with timer("relationship: standing"):
                standing = compute_standing(events, when, triage.policy, with_history=False)
            known = standing if standing.first_seen is not None else None
            with timer("relationship: policy.recommend"):
                rec = recommend(classification.label, classification.probabilities, known, triage.policy,
                                ask_text=f"{message.subject}\n{message.text[:5000]}")
            with timer("relationship: replies.draft_reply (reads a template file)"):
                draft_reply(rec.action, classification.label, message.sender_name or None, message.subject)
            with timer("relationship: assess_message (all of the above again, as batch calls it)"):
                assessment = assess_message(message, classification, events, triage.policy)
            with timer("write: JSONL row (to_dict + orjson.dumps)"):
                writer.write(assessment)
            scored += 1
            results.append(assessment.label)
    # assess_message repeats standing + recommend + draft_reply: count it once, under its own name.
    total_keys = [k for k in timer.seconds if k.startswith(("parse", "model", "export", "relationship", "write"))
                  and not k.startswith("relationship: standing") and "policy.recommend" not in k
                  and "draft_reply" not in k]
    total = sum(timer.cpu[k] for k in total_keys)
    wall = sum(timer.seconds[k] for k in total_keys)
    n = len(messages)
    return {
        "mbox": str(mbox), "messages": n, "classified": sum(1 for m in messages if m.role is None),
        "scored": scored, "pipeline_cpu_s": round(total, 3), "pipeline_wall_s": round(wall, 3),
        "pipeline_messages_per_cpu_s": round(n / total, 1),
        "loadavg": os.getloadavg(),
        "events_per_scored_message": {"mean": round(sum(event_counts) / max(len(event_counts), 1), 1),
                                      "max": max(event_counts, default=0)},
        "stages": {k: {"cpu_s": round(timer.cpu[k], 3), "wall_s": round(v, 3),
                       "cpu_us_per_message": round(timer.cpu[k] / n * 1e6, 1),
                       "share_of_cpu": round(timer.cpu[k] / total, 4) if k in total_keys else None}
                   for k, v in timer.seconds.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mbox", type=Path)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.mbox, args.limit), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
