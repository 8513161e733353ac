"""Experiment: what would replacing spaCy's tokenizer in the Normaliser with one regex cost in accuracy?

    .venv/bin/python bench/proto/retrain_regex.py

The Normaliser (spaCy tokenizer + placeholders) is the largest model cost left after the package's
identical-output speed-ups (about 1 ms per message with a cold vocabulary). A regex tokenizer is ~20x
cheaper but splits differently ("can't" stays one token), so the model must be retrained; this fits the
project's ``logreg`` candidate on the same grouped split twice, with the current normaliser and with
the regex one, and reports held-out macro-F1, log-loss, the real evaluation sets and the CPU speed of
both. Nothing is saved: no model file is written anywhere.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

_TOKEN = re.compile(r"""
    (?P<url>(?:https?://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|io|co|uk|edu|gov|ly|me|info|biz)\b(?:/\S*)?)
  | (?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)
  | (?P<handle>@\w+)
  | (?P<money>[$£€¥₹])
  | (?P<num>\d+(?:[.,:/]\d+)*(?:st|nd|rd|th|k|m|pm|am)?\b)
  | (?P<word>\w+(?:['’]\w+)*)
  | (?P<punct>[^\w\s])
""", re.VERBOSE)


def regex_tokens(text: str) -> list[str]:
    """Lower-cased tokens with the same placeholders as features.normalise_texts."""
    from classifier.classify import tokens as F

    out = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "url":
            out.append(F.URL)
        elif kind == "email":
            out.append(F.EMAIL)
        elif kind == "handle":
            out.append(F.HANDLE)
        elif kind == "money":
            out.append(F.MONEY)
        elif kind == "num":
            out.append(F.NUMBER)
        else:
            out.append(match.group().lower())
    return out


def regex_texts(texts: list[str]) -> list[str]:
    """features.normalise_texts with regex_tokens: what the Normaliser calls, so patching it retrains."""
    return [" ".join(regex_tokens(text)) for text in texts]


def fit_and_measure(name: str, x_train, y_train, x_held, y_held, speed_texts) -> dict:
    from threadpoolctl import threadpool_limits

    from classifier.training.evaluate import evaluate_real, split_metrics
    from classifier.training.candidates import build_candidate
    from classifier.training.paths import data_home, has_data_home

    pipeline = build_candidate("logreg")
    start = time.perf_counter()
    pipeline.fit(x_train, y_train)
    train_s = time.perf_counter() - start
    with threadpool_limits(1):
        held = split_metrics(pipeline.predict_proba(x_held), list(pipeline.classes_), y_held)
        real = evaluate_real(pipeline.predict_proba, list(pipeline.classes_), data_home() if has_data_home() else None)
        pipeline.predict_proba(speed_texts[:50])
        best = float("inf")
        for _ in range(3):
            cpu = time.thread_time()
            pipeline.predict_proba(speed_texts)
            best = min(best, time.thread_time() - cpu)
    return {"normaliser": name, "train_s": round(train_s, 1), "held_out_macro_f1": round(held["macro_f1"], 4),
            "held_out_log_loss": round(held["log_loss"], 4),
            "per_class_f1": {k: round(v["f1"], 3) for k, v in held["per_class"].items()},
            "real": {dataset: {(f"{key} F1" if isinstance(value, dict) else key):
                               round(value["f1"] if isinstance(value, dict) else value, 3)
                               for key, value in values.items()
                               if (isinstance(value, dict) and "f1" in value) or isinstance(value, float)}
                     for dataset, values in real.items()},
            "short_messages_per_cpu_s": round(len(speed_texts) / best, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    from classifier.classify import features
    from classifier.training.corpus import grouped_split, load_corpus
    from classifier.training.paths import corpus_path
    from classifier.training.evaluate import short_messages
    from classifier.training.train import corpus_inputs

    dataset = load_corpus(corpus_path())
    train, held = grouped_split(dataset)
    x_train, y_train = corpus_inputs(train)
    x_held, y_held = corpus_inputs(held)
    speed = short_messages(x_held)
    results = [fit_and_measure("spaCy tokenizer (current)", x_train, y_train, x_held, y_held, speed)]
    original = features.normalise_texts
    features.normalise_texts = regex_texts
    try:
        results.append(fit_and_measure("one regex", x_train, y_train, x_held, y_held, speed))
    finally:
        features.normalise_texts = original
    # The cost of the normaliser alone, on the held-out texts after zoning.
    from classifier.classify.features import Zoner

    zoned = Zoner().fit([]).transform(x_held)
    timings = {}
    for name, function in (("spaCy", original), ("regex", regex_texts)):
        cpu = time.thread_time()
        function(zoned)  # all at once, as the Normaliser calls it (spaCy's chunk cache is warm from the fits)
        timings[name] = round((time.thread_time() - cpu) / len(zoned) * 1e6, 1)
    print(json.dumps({"fits": results, "normaliser_cpu_us_per_held_out_text_warm": timings,
                      "n_train": len(x_train), "n_held_out": len(x_held)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
