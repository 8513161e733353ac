"""outreach-triage: label the asks in an inbox and weigh them against each sender's social capital.

    from classifier import Triage
    assessment = Triage.load().assess(raw_mail_bytes)
    assessment.label, assessment.action, assessment.reasons
"""

from .labels import ACTIONS, LABELS
from .ledger import Event, Ledger
from .message import Message
from .triage import Assessment, Classification, Classifier, Triage

__all__ = ["ACTIONS", "LABELS", "Assessment", "Classification", "Classifier", "Event", "Ledger", "Message",
           "Triage"]
