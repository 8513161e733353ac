"""Prior correction: moving a trained model's class boundaries to where real mail puts them.

The candidates are trained with softened class weights (training.candidates.BALANCE_POWER), which
lift the rare labels. How far to lift them is a threshold, and thresholds are chosen on the real dev
set (never the test set): each label's probability is multiplied by a weight from a small grid, the
weights that maximise the mean of the dev set's macro-F1 and the held-out split's are kept, and a
multinomial logistic regression takes them into its intercepts (softmax(z + log w) is P·w renormalised),
so the saved model is an ordinary scikit-learn model that needs no extra step to use.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import f1_score

GRID = (0.5, 0.6, 0.7, 0.85, 1.0, 1.2, 1.4, 1.7, 2.0)
"""Multipliers tried for each label's probability: a coarse grid, so that 700 dev messages cannot be fitted."""
MIN_GAIN = 0.002
"""A change of weights is kept only when it gains at least this much: smaller gains are noise."""
PASSES = 3


def score(probabilities: np.ndarray, truth: list[str], classes: list[str], labels: list[str],
          weights: np.ndarray) -> float:
    """Macro-F1 over ``labels`` of the labels ``probabilities`` times ``weights`` pick."""
    predicted = [classes[i] for i in np.argmax(probabilities * weights, axis=1)]
    return float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0))


def tune(classes: list[str], dev: tuple[np.ndarray, list[str], list[str]],
         held_out: tuple[np.ndarray, list[str]]) -> dict[str, float]:
    """Per-label weights (label -> multiplier) chosen by coordinate ascent over GRID on the mean of the
    dev set's macro-F1 (over ``dev``'s measured labels) and the held-out split's (all labels). Labels too
    rare on the dev set to be measured keep weight 1."""
    dev_p, dev_truth, measured = dev
    held_p, held_truth = held_out

    def objective(w: np.ndarray) -> float:
        return (score(dev_p, dev_truth, classes, measured, w) + score(held_p, held_truth, classes, classes, w)) / 2

    weights = np.ones(len(classes))
    best = objective(weights)
    for _ in range(PASSES):
        improved = False
        for index, label in enumerate(classes):
            if label not in measured:
                continue
            for multiplier in GRID:
                trial = weights.copy()
                trial[index] = multiplier
                value = objective(trial)
                if value >= best + MIN_GAIN:
                    best, weights, improved = value, trial, True
        if not improved:
            break
    return {label: float(w) for label, w in zip(classes, weights)}


def can_adjust(estimator) -> bool:
    """Whether ``estimator`` takes prior weights into its intercepts exactly: a multinomial linear model."""
    return (type(estimator).__name__ == "LogisticRegression" and getattr(estimator, "intercept_", None) is not None
            and len(estimator.classes_) > 2)


def apply(estimator, weights: dict[str, float]) -> None:
    """Add log(weight) to each class's intercept (see the module's docstring)."""
    estimator.intercept_ = estimator.intercept_ + np.array([math.log(weights[c]) for c in estimator.classes_])
