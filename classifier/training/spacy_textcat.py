"""spaCy's own text classifier (bag-of-words architecture) wrapped as a scikit-learn estimator.

It is one of the candidates compared in the model card; it trains a blank English pipeline, so no
model download is needed.
"""

from __future__ import annotations

import random

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from classifier.classify.features import as_list, as_text


class SpacyTextcat(ClassifierMixin, BaseEstimator):
    """``textcat`` with ``spacy.TextCatBOW.v3`` over uni- and bigrams, exclusive classes."""

    def __init__(self, epochs: int = 8, ngram_size: int = 2, batch_size: int = 64, seed: int = 0):
        self.epochs = epochs
        self.ngram_size = ngram_size
        self.batch_size = batch_size
        self.seed = seed

    def fit(self, X, y):
        import spacy
        from spacy.training import Example

        texts = [as_text(x) for x in as_list(X)]
        labels = [str(label) for label in y]
        self.classes_ = np.array(sorted(set(labels)), dtype=object)
        spacy.util.fix_random_seed(self.seed)
        nlp = spacy.blank("en")
        textcat = nlp.add_pipe("textcat", config={"model": {
            "@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": True,
            "ngram_size": self.ngram_size, "no_output_layer": False, "length": 262144}})
        for label in self.classes_:
            textcat.add_label(label)
        examples = [Example.from_dict(nlp.make_doc(text), {"cats": {c: float(c == label) for c in self.classes_}})
                    for text, label in zip(texts, labels)]
        optimizer = nlp.initialize(lambda: examples)
        rng = random.Random(self.seed)
        for _ in range(self.epochs):
            rng.shuffle(examples)
            for start in range(0, len(examples), self.batch_size):
                nlp.update(examples[start: start + self.batch_size], sgd=optimizer, drop=0.0)
        self.nlp_ = nlp
        return self

    def predict_proba(self, X):
        check_is_fitted(self, "nlp_")
        docs = self.nlp_.pipe(as_text(x) for x in as_list(X))
        return np.array([[doc.cats[c] for c in self.classes_] for doc in docs], dtype=np.float64)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def artifact_size(self) -> int:
        """Bytes of the serialised pipeline, for the comparison table."""
        check_is_fitted(self, "nlp_")
        return len(self.nlp_.to_bytes())
