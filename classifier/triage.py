"""The public face of the model: text in, a label with probabilities and the words that drove it out."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .labels import LABELS
from .model import DEFAULT_MODEL, LoadedModel, load_model
from .text import model_input

_CUE_WORDS = {
    "cue:links": "links", "cue:second_person": "addresses you", "cue:questions": "questions",
    "cue:modal_request": "request phrasing (could you…)", "cue:please_verb": "please + verb",
    "cue:imperative": "imperatives", "cue:amplify": "asks to share or promote", "cue:money": "amounts of money",
    "cue:length": "length",
}


@dataclass(frozen=True)
class Classification:
    """What the model says about one message."""

    label: str
    probabilities: dict[str, float]
    top_features: list[dict] = field(default_factory=list)
    model_id: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


class Classifier:
    """A loaded model; safe to share between threads (prediction does not change it)."""

    def __init__(self, model: LoadedModel):
        self.model = model
        pipeline = model.pipeline
        self._classes = [str(c) for c in pipeline.classes_]
        self._order = [self._classes.index(label) for label in LABELS]
        self._features = pipeline[:-1]
        self._weights = _linear_weights(pipeline.named_steps["classify"])
        names = pipeline.named_steps["features"].get_feature_names_out()
        # Only words and cues make readable reasons; character n-grams are left out of explanations.
        self._names = np.array([_readable(name) for name in names], dtype=object)
        self._explainable = np.array([name is not None for name in self._names])

    @classmethod
    def load(cls, name_or_path: str | Path | None = None) -> "Classifier":
        return cls(load_model(name_or_path or DEFAULT_MODEL))

    @property
    def model_id(self) -> str:
        return self.model.model_id

    def classify(self, text: str, subject: str = "", top: int = 8) -> Classification:
        return self.classify_many([model_input(subject, text)], top=top)[0]

    def classify_many(self, inputs: list[str], top: int = 8) -> list[Classification]:
        """Classify model-input strings (see text.model_input) in one vectorised pass."""
        if not inputs:
            return []
        features = self._features.transform(inputs)
        probabilities = self.model.pipeline.named_steps["classify"].predict_proba(features)[:, self._order]
        results = []
        for row, probs in enumerate(probabilities):
            label = LABELS[int(np.argmax(probs))]
            results.append(Classification(
                label=label,
                probabilities={name: round(float(p), 4) for name, p in zip(LABELS, probs)},
                top_features=self._explain(features[row], label, top) if top else [],
                model_id=self.model_id))
        return results

    def _explain(self, row, label: str, top: int) -> list[dict]:
        """The features that pushed this message towards ``label`` most, against the other labels."""
        if self._weights is None:
            return []
        row = row.tocsr()
        columns, values = row.indices, row.data
        keep = self._explainable[columns]
        columns, values = columns[keep], values[keep]
        k = self._classes.index(label)
        weights = self._weights[k, columns] - self._weights[:, columns].mean(axis=0)
        contributions = values * weights
        best = np.argsort(-contributions)[:top]
        return [{"feature": self._names[columns[i]], "weight": round(float(contributions[i]), 3)}
                for i in best if contributions[i] > 0]


def _linear_weights(classifier) -> np.ndarray | None:
    """Per-class weights of a linear classifier (also inside CalibratedClassifierCV), or None."""
    if hasattr(classifier, "calibrated_classifiers_"):
        stacked = [_linear_weights(c.estimator) for c in classifier.calibrated_classifiers_]
        stacked = [w for w in stacked if w is not None]
        return np.mean(stacked, axis=0) if stacked else None
    if hasattr(classifier, "coef_"):
        coef = np.asarray(classifier.coef_)
        return coef if coef.shape[0] > 1 else np.vstack([-coef, coef])
    if hasattr(classifier, "feature_log_prob_"):
        return np.asarray(classifier.feature_log_prob_)
    return None


def _readable(name: str) -> str | None:
    step, _, feature = name.partition("__")
    if step == "words":
        return feature
    if step == "cues":
        return _CUE_WORDS.get(feature, feature)
    return None
