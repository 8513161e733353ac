"""Choose logistic regression's C by 3-fold grouped CV on the training part of the corpus only.

Never the held-out split, never data/eval. Usage:

    .venv/bin/python tools/tune_c.py data/corpus.jsonl 2,8,32
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold

from classifier.training.corpus import grouped_split, load_corpus
from classifier.classify.features import Normaliser, Zoner
from classifier.training.candidates import features as feature_union
from classifier.training.train import corpus_inputs


def main(corpus: str, grid: str) -> None:
    train, _ = grouped_split(load_corpus(Path(corpus)))  # the held-out part is never looked at here
    texts, labels = corpus_inputs(train)
    labels, groups = np.array(labels), np.array(train["group"])
    # Zoning and normalising learn nothing, so they run once; the vectorisers are fitted per fold.
    normalised = np.array(Normaliser().fit(texts).transform(Zoner().fit(texts).transform(texts)), dtype=object)
    scores: dict[float, list[float]] = {}
    folds = StratifiedGroupKFold(3, shuffle=True, random_state=1).split(normalised, labels, groups)
    for fold, (fit_rows, test_rows) in enumerate(folds):
        union = feature_union()
        fit_x, test_x = union.fit_transform(normalised[fit_rows]), union.transform(normalised[test_rows])
        for c in (float(value) for value in grid.split(",")):
            start = time.perf_counter()
            model = LogisticRegression(C=c, class_weight="balanced", max_iter=1000).fit(fit_x, labels[fit_rows])
            scores.setdefault(c, []).append(f1_score(labels[test_rows], model.predict(test_x), average="macro"))
            print(f"fold {fold} C={c:g}: macro-F1 {scores[c][-1]:.4f} ({time.perf_counter() - start:.0f}s)", flush=True)
    for c, values in sorted(scores.items(), key=lambda item: -np.mean(item[1])):
        print(f"C={c:g}: mean macro-F1 {np.mean(values):.4f} {[round(v, 3) for v in values]}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
