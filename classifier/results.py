"""The plain values the stages hand on: what the model says of a message (Classification) and
everything the program says of it (Assessment). Nothing of the package is imported here: every stage
can make and read these, and tests can build them from literals."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    tie: str = "stranger"
    """How close the sender is (labels.TIE_LEVELS): declared, or what the evidence shows."""

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
                "origin": self.origin, "flags": list(self.flags), "tie": self.tie}


def standing_summary(standing) -> dict:
    """The parts of a standing (weigh.standing.Standing) an output row carries."""
    return {"balance": round(standing.balance, 3), "deposits": round(standing.deposits, 3),
            "withdrawals": round(standing.withdrawals, 3), "asks": standing.asks,
            "declined": standing.declined_count, "summary": standing.summary()}
