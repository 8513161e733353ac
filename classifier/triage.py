"""The public face of the model: text in, a label with probabilities and the words that drove it out."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.pipeline import FeatureUnion

from .labels import LABELS
from .model import DEFAULT_MODEL, LoadedModel, load_model
from .text import model_input

CUE_WORDS = {
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
        # By hand: dataclasses.asdict deep-copies every value, a tenth of a batch's time.
        return {"label": self.label, "probabilities": dict(self.probabilities),
                "top_features": [dict(f) for f in self.top_features], "model_id": self.model_id}


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


# ---------------------------------------------------------------- the facade: model + ledger + policy


@dataclass(frozen=True)
class Assessment:
    """Everything outreach-triage says about one message."""

    id: str
    sender: str | None
    date: str | None  # ISO 8601
    subject: str
    label: str
    probabilities: dict[str, float]
    action: str
    reasons: list[str]
    needs_review: bool
    standing: dict
    reply: str | None
    top_features: list[dict]
    model_id: str
    origin: str = ""
    flags: list[str] = field(default_factory=list)

    @property
    def explanation(self) -> str:
        """One paragraph: the label, what drove it, and the reasons for the action."""
        words = ", ".join(f["feature"] for f in self.top_features[:5])
        driven = f" (driven by: {words})" if words else ""
        return (f"Labelled {self.label.replace('_', ' ')} with probability {self.probabilities[self.label]:.2f}"
                f"{driven}. Recommended: {self.action}. " + " ".join(self.reasons))

    def to_dict(self) -> dict:
        """The fields as plain JSON values (copies: changing the dict leaves the assessment alone)."""
        return {"id": self.id, "sender": self.sender, "date": self.date, "subject": self.subject, "label": self.label,
                "probabilities": dict(self.probabilities), "action": self.action, "reasons": list(self.reasons),
                "needs_review": self.needs_review, "standing": dict(self.standing), "reply": self.reply,
                "top_features": [dict(f) for f in self.top_features], "model_id": self.model_id,
                "origin": self.origin, "flags": list(self.flags)}


def standing_summary(standing) -> dict:
    """The parts of a Standing an output row carries."""
    return {"balance": round(standing.balance, 3), "deposits": round(standing.deposits, 3),
            "withdrawals": round(standing.withdrawals, 3), "asks": standing.asks,
            "declined": standing.declined_count, "summary": standing.summary()}


def assess_classified(message, classification: Classification, events, policy, at=None) -> Assessment:
    """Weigh one classified message against its sender's events and the policy (pure: writes nothing)."""
    from datetime import datetime, timezone

    from .policy import recommend
    from .replies import draft_reply
    from .standing import standing as compute_standing

    when = at or message.date or datetime.now(timezone.utc)
    standing = compute_standing(events, when, policy, with_history=False)
    known = standing if standing.first_seen is not None else None
    recommendation = recommend(classification.label, classification.probabilities, known, policy,
                               ask_text=f"{message.subject}\n{message.text[:5000]}")
    reply = draft_reply(recommendation.action, classification.label, message.sender_name or None, message.subject)
    return Assessment(
        id=message.id, sender=message.sender, date=message.date.isoformat() if message.date else None,
        subject=message.subject, label=classification.label, probabilities=classification.probabilities,
        action=recommendation.action, reasons=recommendation.reasons, needs_review=recommendation.needs_review,
        standing=standing_summary(standing), reply=reply, top_features=classification.top_features,
        model_id=classification.model_id, origin=message.origin, flags=list(message.flags))


class Triage:
    """Model, ledger and policy together: ``Triage.load().assess(raw_mail)``.

    Scoring never writes to the ledger; recording an ask or a deposit is an explicit Ledger call.
    Safe to share between threads: the model is read-only and each call opens no shared state.
    """

    def __init__(self, classifier: Classifier, policy, ledger: str | Path | None = None,
                 history: list | None = None):
        self.classifier = classifier
        self.policy = policy
        self.ledger_path = ledger
        self._local = threading.local()  # one SQLite connection per thread: connections are not shared
        self._history: dict[str, list] = {}
        for event in history or []:
            self._history.setdefault(event.sender, []).append(event)

    @classmethod
    def load(cls, model: str | Path | None = None, policy: str | Path | None = None,
             ledger: str | Path | None = None, history: str | Path | None = None) -> "Triage":
        """Load the model (hash-checked), the policy (defaults, or a TOML file) and optionally a ledger
        database and a history file of events."""
        from .ledger import read_events
        from .policy import load_policy

        return cls(Classifier.load(model), load_policy(policy), ledger,
                   read_events(history) if history is not None else None)

    @property
    def ledger(self):
        """This thread's connection to the ledger database, or None when there is no ledger."""
        from .ledger import Ledger

        if self.ledger_path is None:
            return None
        if getattr(self._local, "ledger", None) is None:
            self._local.ledger = Ledger(self.ledger_path)
        return self._local.ledger

    def events_for(self, sender: str | None, before=None) -> list:
        """The sender's known events: from the ledger (all aliases) and from the history file."""
        if sender is None:
            return []
        events = list(self._history.get(sender, []))
        if self.ledger is not None:
            try:
                events += self.ledger.events(sender, before=before)
            except ValueError:  # an address no ledger key can name ("a@example.com--") has no ledger history
                pass
        return events

    def assess(self, message, at=None) -> Assessment:
        """Assess one message: bytes, ``email.message.EmailMessage``, the project's Message, or text."""
        message = as_message(message)
        [classification] = self.classifier.classify_many([model_input(message.subject, message.text)])
        when = at or message.date
        return assess_classified(message, classification, self.events_for(message.sender, when), self.policy, at)


def as_message(value):
    """Coerce what a caller has into a Message."""
    from email.message import Message as StdlibMessage

    from .message import Message, from_email_message, parse_bytes

    if isinstance(value, Message):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return parse_bytes(bytes(value), origin="bytes")
    if isinstance(value, StdlibMessage):
        return from_email_message(value, origin="email.message")
    if isinstance(value, str):
        return Message(id="text", text=value, origin="text")
    raise TypeError(f"cannot assess a {type(value).__name__}; expected bytes, EmailMessage, Message or str")
