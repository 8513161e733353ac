"""The training workflow: split the corpus by group, fit every candidate, compare, keep the best.

The saved model is the one fitted on the training part only, so the held-out numbers in its card
stay honest and ``triage evaluate`` reproduces them.
"""

from __future__ import annotations

import json
import logging
import time
import zipfile
from pathlib import Path

from threadpoolctl import threadpool_limits

from . import corpus as corpus_module
from .corpus import CORPUS_PATH, corpus_hash, grouped_split, load_corpus
from .evaluate import evaluate_real, short_messages, split_metrics, throughput, write_reports
from .model import (CANDIDATES, DEFAULT_MODEL, SAVABLE, build_candidate, fit_timed, model_dir, read_manifest,
                    save_model)
from .text import model_input

log = logging.getLogger(__name__)


def corpus_inputs(dataset) -> tuple[list[str], list[str]]:
    """Model-input strings and labels of a corpus dataset."""
    texts = [model_input(subject, text) for subject, text in zip(dataset["subject"], dataset["text"])]
    return texts, list(dataset["label"])


def _artifact_bytes(pipeline) -> int:
    classify = pipeline.named_steps["classify"]
    if hasattr(classify, "artifact_size"):
        return classify.artifact_size()
    import skops.io as sio

    return len(sio.dumps(pipeline, compression=zipfile.ZIP_DEFLATED))


def train(corpus_path: Path = CORPUS_PATH, name: str = DEFAULT_MODEL,
          candidates: tuple[str, ...] = CANDIDATES) -> dict:
    """Train and compare ``candidates``, save the best savable one as model ``name``; returns its metrics."""
    unknown = [c for c in candidates if c not in CANDIDATES]
    if unknown:
        raise ValueError(f"unknown candidate {unknown[0]!r}; expected one of {', '.join(CANDIDATES)}")
    dataset = load_corpus(corpus_path)
    train_part, held_out = grouped_split(dataset)
    x_train, y_train = corpus_inputs(train_part)
    x_held, y_held = corpus_inputs(held_out)
    speed_texts = short_messages(x_held)
    comparison, fitted = [], {}
    # One thread, so the speed column is per core and candidates are measured alike.
    with threadpool_limits(1):
        for candidate in candidates:
            log.info("training %s on %d messages", candidate, len(x_train))
            pipeline = build_candidate(candidate)
            seconds = fit_timed(pipeline, x_train, y_train)
            probabilities = pipeline.predict_proba(x_held)
            row = {"candidate": candidate, "train_seconds": seconds,
                   "held_out": split_metrics(probabilities, list(pipeline.classes_), y_held),
                   "messages_per_second": throughput(pipeline.predict_proba, speed_texts),
                   "artifact_bytes": _artifact_bytes(pipeline)}
            log.info("%s: macro-F1 %.3f, log-loss %.3f, %.0f msgs/s", candidate, row["held_out"]["macro_f1"],
                     row["held_out"]["log_loss"], row["messages_per_second"])
            comparison.append(row)
            fitted[candidate] = pipeline
    savable = [row for row in comparison if row["candidate"] in SAVABLE]
    if not savable:
        raise ValueError(f"none of {', '.join(candidates)} can be saved; include one of {', '.join(SAVABLE)}")
    # Macro-F1 to three places decides; log-loss breaks a tie (better-calibrated probabilities).
    best = min(savable, key=lambda row: (-round(row["held_out"]["macro_f1"], 3), row["held_out"]["log_loss"]))
    pipeline = fitted[best["candidate"]]
    training = {"n_train": len(x_train), "n_held_out": len(x_held), "folds": corpus_module.HELD_OUT_FOLDS,
                "seed": corpus_module.SPLIT_SEED, "train_seconds": best["train_seconds"]}
    folder = model_dir(name)
    metrics = {"held_out": best["held_out"], "real": evaluate_real(pipeline.predict),
               "speed": {"short_messages_per_second": best["messages_per_second"]}}
    manifest = save_model(pipeline, folder, candidate=best["candidate"], corpus_sha256=corpus_hash(corpus_path),
                          metrics=_headline(metrics), training=training)
    (folder / "comparison.json").write_text(json.dumps(comparison, indent=2) + "\n", encoding="utf-8")
    metrics["speed"]["load_seconds"] = load_seconds(name)
    write_reports(folder, manifest, metrics, comparison, corpus_module.counts(dataset))
    return metrics


def load_seconds(name: str) -> float:
    """Seconds to check and load the saved model (hash, versions, allowlist, skops), best of three."""
    from .model import load_model

    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        load_model(name)
        best = min(best, time.perf_counter() - start)
    return best


def _headline(metrics: dict) -> dict:
    """The few numbers the manifest keeps; the full set is in metrics.json."""
    real = metrics["real"]
    return {
        "held_out_macro_f1": metrics["held_out"]["macro_f1"],
        "held_out_log_loss": metrics["held_out"]["log_loss"],
        "sms_eval_spam_f1": real.get("sms_spam_collection", {}).get("spam", {}).get("f1"),
        "political_eval_charity_recall": real.get("political_fundraising_emails", {}).get("charity_ask", {}).get("recall"),
        "short_messages_per_second": metrics["speed"]["short_messages_per_second"],
    }


def evaluate_saved(name: str = DEFAULT_MODEL, corpus_path: Path = CORPUS_PATH) -> dict:
    """Re-measure a saved model on the held-out split and the real evaluation data; rewrite its reports."""
    from .model import load_model

    model = load_model(name)
    seconds_to_load = load_seconds(name)
    dataset = load_corpus(corpus_path)
    _, held_out = grouped_split(dataset)
    x_held, y_held = corpus_inputs(held_out)
    pipeline = model.pipeline
    with threadpool_limits(1):
        metrics = {"held_out": split_metrics(pipeline.predict_proba(x_held), list(pipeline.classes_), y_held),
                   "real": evaluate_real(pipeline.predict),
                   "speed": {"short_messages_per_second": throughput(pipeline.predict_proba,
                                                                      short_messages(x_held)),
                             "load_seconds": seconds_to_load}}
    comparison_path = model.folder / "comparison.json"
    comparison = json.loads(comparison_path.read_text()) if comparison_path.is_file() else None
    write_reports(model.folder, read_manifest(model.folder), metrics, comparison, corpus_module.counts(dataset))
    return metrics
