"""Compare model variants on the real dev set (never the test set) and the written held-out split.

    .venv/bin/python tools/dev_experiments.py --data-home "$OUTREACH_DATA_HOME" [--only a,b]

Each variant is a scikit-learn Pipeline built here from the package's own estimators, fitted on the
training part of the corpus's grouped split (and, where a variant says so, with some sources capped).
Prints one line per variant: real dev macro-F1 (labels with 20+ messages) and per-label F1, held-out
macro-F1, and short messages per second. The choice it informs is written down in the model card.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classifier.classify.features import AskCues, CompactTfidfVectorizer, Normaliser, Zoner  # noqa: E402
from classifier.training.corpus import grouped_split, load_corpus  # noqa: E402
from classifier.training.evaluate import labelled_set, set_metrics, short_messages, split_metrics, throughput  # noqa: E402
from classifier.training.paths import corpus_path, data_home  # noqa: E402
from classifier.training.train import corpus_inputs  # noqa: E402


def union(cues: AskCues, words_max: int = 60_000, chars_max: int = 80_000) -> FeatureUnion:
    return FeatureUnion([
        ("words", CompactTfidfVectorizer(token_pattern=r"\S+", lowercase=False, ngram_range=(1, 2), min_df=2,
                                         sublinear_tf=True, max_features=words_max, dtype=np.float32)),
        ("chars", CompactTfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=3, lowercase=False,
                                         sublinear_tf=True, max_features=chars_max, dtype=np.float32)),
        ("cues", cues),
    ])


def pipe(cues: AskCues, c: float = 32.0, weights="balanced", **kw) -> Pipeline:
    return Pipeline([("zone", Zoner()), ("normalise", Normaliser()), ("features", union(cues, **kw)),
                     ("classify", LogisticRegression(C=c, class_weight=weights, max_iter=2000))])


def softened(labels: list[str], power: float) -> dict[str, float]:
    """Class weights between none (power 0) and scikit-learn's "balanced" (power 1)."""
    counts = {label: labels.count(label) for label in set(labels)}
    mean = len(labels) / len(counts)
    return {label: (mean / n) ** power for label, n in counts.items()}


def capped(dataset, caps: dict[tuple[str, str], int]):
    """The rows of ``dataset`` with (source, label) kept to a cap, by a hash of the id."""
    totals: dict = {}
    for source, label in zip(dataset["source"], dataset["label"]):
        totals[source, label] = totals.get((source, label), 0) + 1
    keep = []
    for i, (row_id, source, label) in enumerate(zip(dataset["id"], dataset["source"], dataset["label"])):
        cap = caps.get((source, label))
        fraction = int(hashlib.sha256(row_id.encode()).hexdigest()[:12], 16) / 16**12
        if cap is None or fraction < cap / totals[source, label]:
            keep.append(i)
    return dataset.select(keep)


VARIANTS = {
    "baseline": dict(cues=dict()),
    "sentences": dict(cues=dict(sentences=True)),
    "genres": dict(cues=dict(genres=True)),
    "both": dict(cues=dict(sentences=True, genres=True)),
    "both_nus4000": dict(cues=dict(sentences=True, genres=True), caps={("nus_sms_corpus", "no_ask"): 4000}),
    "both_nus2000": dict(cues=dict(sentences=True, genres=True), caps={("nus_sms_corpus", "no_ask"): 2000}),
    "both_c8": dict(cues=dict(sentences=True, genres=True), c=8.0),
    "both_c8_nus4000": dict(cues=dict(sentences=True, genres=True), c=8.0, caps={("nus_sms_corpus", "no_ask"): 4000}),
    "sentences_w05": dict(cues=dict(sentences=True), power=0.5),
    "sentences_w025": dict(cues=dict(sentences=True), power=0.25),
    "sentences_w0": dict(cues=dict(sentences=True), power=0.0),
    "both_w05": dict(cues=dict(sentences=True, genres=True), power=0.5),
    "sentences_w05_nus8000": dict(cues=dict(sentences=True), power=0.5, caps={("nus_sms_corpus", "no_ask"): 8000}),
    "sentences_w075": dict(cues=dict(sentences=True), power=0.75),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--only", default=None)
    args = parser.parse_args(argv)
    home = data_home(args.data_home)
    dataset = load_corpus(corpus_path())
    train_part, held_out = grouped_split(dataset)
    x_held, y_held = corpus_inputs(held_out)
    dev = labelled_set(home, "dev")
    names = args.only.split(",") if args.only else list(VARIANTS)
    for name in names:
        spec = VARIANTS[name]
        part = capped(train_part, spec.get("caps", {}))
        x_train, y_train = corpus_inputs(part)
        weights = softened(y_train, spec["power"]) if "power" in spec else "balanced"
        model = pipe(AskCues(**spec["cues"]), c=spec.get("c", 32.0), weights=weights)
        start = time.perf_counter()
        with threadpool_limits(1):
            model.fit(x_train, y_train)
            classes = list(model.classes_)
            d = set_metrics(model.predict_proba, classes, dev)
            h = split_metrics(model.predict_proba(x_held), classes, y_held)
            speed = throughput(model.predict_proba, short_messages(x_held))
        print(json.dumps({"variant": name, "train": len(x_train), "seconds": round(time.perf_counter() - start),
                          "dev_macro": round(d["macro_f1_measured"], 3),
                          "dev_f1": {k: round(v["f1"], 3) for k, v in d["per_class"].items()},
                          "held_macro": round(h["macro_f1"], 3),
                          "held_f1": {k: round(v["f1"], 3) for k, v in h["per_class"].items()},
                          "msgs_per_s": round(speed)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
