"""outreach-triage: label the asks in an inbox and weigh them against each sender's social capital.

    from classifier import Triage
    assessment = Triage.load().assess(raw_mail_bytes)
    assessment.label, assessment.action, assessment.reasons
"""

# The names below are imported on first use (PEP 562), not here: a mail filter starts a process per
# message, and `triage filter --connect` needs only socket and json, not seconds of scikit-learn.
import importlib

_SOURCES = {"ACTIONS": "labels", "LABELS": "labels", "Event": "ledger", "Ledger": "ledger", "Message": "message",
            "Assessment": "triage", "Classification": "triage", "Classifier": "predict", "Triage": "triage"}

__all__ = ["ACTIONS", "LABELS", "Assessment", "Classification", "Classifier", "Event", "Ledger", "Message",
           "Triage"]


def __getattr__(name: str):
    if name not in _SOURCES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_SOURCES[name]}", __name__), name)
    globals()[name] = value  # cache: the next lookup does not come back here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
