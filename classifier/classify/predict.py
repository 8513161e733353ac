"""The loaded model: text in, a label with probabilities and the words that drove it out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.pipeline import FeatureUnion

from classifier.labels import LABELS
from classifier.classify.model import DEFAULT_MODEL, LoadedModel, load_model
from classifier.classify.text import model_input
from classifier.results import Classification

CUE_WORDS = {
    "cue:links": "links", "cue:second_person": "addresses you", "cue:questions": "questions",
    "cue:modal_request": "request phrasing (could you…)", "cue:please_verb": "please + verb",
    "cue:imperative": "imperatives", "cue:amplify": "asks to share or promote", "cue:money": "amounts of money",
    "cue:length": "length", "cue:strongest_sentence": "one sentence asks outright",
    "cue:asking_sentences": "several sentences ask", "cue:ask_at_end": "an ask at the end",
    "cue:sentences": "number of sentences", "cue:on_behalf": "writes for a client",
    "cue:coverage": "asks for coverage (feature, review, gift guide)", "cue:sample": "offers a sample",
    "cue:follow_up": "a follow-up nudge", "cue:meeting": "asks for a call or demo",
    "cue:link_offer": "a link or guest-post offer", "cue:cause": "a cause or donation",
    "cue:bulk": "bulk-mail footer", "cue:scam": "scam words (gift cards, bank details, prizes)",
    "cue:errand": "an errand (pick up, lend, buy for me)",
}
"""Readable names of the AskCues columns, for explanations."""


class Classifier:
    """A loaded model; safe to share between threads (prediction does not change it)."""

    def __init__(self, model: LoadedModel):
        self.model = model
        pipeline = model.pipeline
        self._classes = [str(c) for c in pipeline.classes_]
        self._order = [self._classes.index(label) for label in LABELS]
        self._features = pipeline[:-1]
        weights = _linear_weights(pipeline.named_steps["classify"])
        # A feature's pull towards a class, against the classes' mean: what explanations rank.
        self._lift = None if weights is None else weights - weights.mean(axis=0)
        names = pipeline.named_steps["features"].get_feature_names_out()
        # Only words and cues make readable reasons; character n-grams are left out of explanations.
        self._names = np.array([_readable(name) for name in names], dtype=object)
        self._explainable = np.array([name is not None for name in self._names])

    @classmethod
    def load(cls, name_or_path: str | Path | None = None) -> "Classifier":
        return cls(load_model(name_or_path or DEFAULT_MODEL))

    def prepare(self) -> None:
        """Make now what the first classification makes (spaCy's pipeline, lookup tables of the
        vocabulary): a process that forks workers makes it once for all of them."""
        self.classify_many([model_input("", "Could you share this?")])

    @property
    def model_id(self) -> str:
        return self.model.model_id

    def classify(self, text: str, subject: str = "", top: int = 8) -> Classification:
        return self.classify_many([model_input(subject, text)], top=top)[0]

    def classify_many(self, inputs: list[str], top: int = 8) -> list[Classification]:
        """Classify model-input strings (see text.model_input) in one vectorised pass."""
        if not inputs:
            return []
        features = self._featurise(inputs)
        probabilities = self.model.pipeline.named_steps["classify"].predict_proba(features)[:, self._order]
        labels = [LABELS[int(np.argmax(probs))] for probs in probabilities]
        explained = self._explain(features, labels, top) if top else [[] for _ in labels]
        return [Classification(label=label, probabilities={name: round(float(p), 4) for name, p in zip(LABELS, probs)},
                               top_features=reasons, model_id=self.model_id)
                for label, probs, reasons in zip(labels, probabilities, explained)]

    def _featurise(self, inputs: list[str]):
        """The model's features of ``inputs``, as ``pipeline[:-1].transform`` gives them (tests compare):
        the text steps, then the FeatureUnion's parts stacked. Called directly because the union's
        joblib dispatch cost more than the work when a filter scores one message."""
        union = self._features[-1]
        if not isinstance(union, FeatureUnion) or union.transformer_weights or any(
                t in ("drop", "passthrough") for _, t in union.transformer_list):
            return self._features.transform(inputs).tocsr()
        texts = inputs
        for _, step in self._features.steps[:-1]:
            texts = step.transform(texts)
        return sp.hstack([t.transform(texts) for _, t in union.transformer_list], format="csr")

    def _explain(self, features, labels: list[str], top: int) -> list[list[dict]]:
        """Per row, the features that pushed it towards its label most, against the other labels."""
        if self._lift is None:
            return [[] for _ in labels]
        # Every stored value's contribution to its row's label at once; then a few cheap steps per row.
        classes = np.array([self._classes.index(label) for label in labels], dtype=np.intp)
        rows = np.repeat(np.arange(features.shape[0]), np.diff(features.indptr))
        contributions = features.data * self._lift[classes[rows], features.indices]
        keep = self._explainable[features.indices]
        explained = []
        for start, end in zip(features.indptr[:-1], features.indptr[1:]):
            mask = keep[start:end]
            columns, values = features.indices[start:end][mask], contributions[start:end][mask]
            best = np.argsort(-values)[:top]
            explained.append([{"feature": self._names[columns[i]], "weight": round(float(values[i]), 3)}
                              for i in best if values[i] > 0])
        return explained


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
        return CUE_WORDS.get(feature, feature)
    return None
