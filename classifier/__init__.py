"""outreach-triage: label the asks in an inbox and weigh them against each sender's social capital.

    from classifier import Triage
    assessment = Triage.load().assess(raw_mail_bytes)
    assessment.label, assessment.action, assessment.reasons

The flow, one subpackage a stage: parse (mail in) -> classify (the model) -> weigh (the ledger and a
sender's standing) -> recommend (the policy and the reply), composed by ``triage.Triage`` for one
message and by ``run`` for an export; ``frontends`` are the command, the filter and the screen.
"""

# The names below are imported on first use (PEP 562), not here: a mail filter starts a process per
# message, and `triage filter --connect` needs only socket and json, not seconds of scikit-learn.
import importlib

_SOURCES = {
    "ACTIONS": "classifier.labels", "LABELS": "classifier.labels",
    "Assessment": "classifier.results", "Classification": "classifier.results",
    "Classifier": "classifier.classify.predict", "ModelError": "classifier.classify.model",
    "Event": "classifier.weigh.events", "Ledger": "classifier.weigh.ledger", "LedgerError": "classifier.weigh.ledger",
    "FormatError": "classifier.parse.sources", "Message": "classifier.parse.message",
    "Triage": "classifier.triage",
}

__all__ = ["ACTIONS", "LABELS", "Assessment", "Classification", "Classifier", "Event", "FormatError", "Ledger",
           "LedgerError", "Message", "ModelError", "Triage"]


def __getattr__(name: str):
    if name not in _SOURCES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_SOURCES[name]), name)
    globals()[name] = value  # cache: the next lookup does not come back here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
