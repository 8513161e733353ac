"""The labelling pass over real data: which messages may hold an ask, so that a person reads them.

A dataset's own label ("ham") says nothing about asks. ``find_candidates`` picks, with high recall, the
messages that may hold one: request phrasing (rules, any style of English, texting included) or a model
that does not call it plainly no ask. People then read every candidate and give it a label; a message
the finder passes over keeps the finder's verdict (no ask), and a random sample of those is read too,
to measure what the finder misses. Labels are data (``data/labels``), never code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from classifier.classify.text import model_input

ASK_RULES = re.compile(
    r"""\b(?:
        (?:can|could|would|will|cn|cud|wud|wil)\s+(?:you|u|ya|yu|ü|someone|anyone|sb)\b   # can you / can u
      | (?:pls|plz|pl[sz]e?|please|kindly|pleas|plis)\b                                   # please, pls, kindly
      | (?:help|lend|borrow|loan|transfer|transfr|send|bring|buy|get|pick|fetch|drop|pass|print|book|check|
           call|remind|wake|cover|feed|water|vote|sign|share|retweet|rt|donate|sponsor|support|review|feature|
           cover|mention|introduce|intro|recommend|refer|promote|collab|partner|chat|meet)\s+(?:me|us|my|our|mine|for\s+me|it\s+for)\b
      | (?:need|want|wan|wanna)\s+(?:you|u|ur|your|a\s+favou?r|help|some\s+help|a\s+lift|a\s+ride)\b
      | favou?r\b | (?:do|does)\s+(?:u|you)\s+(?:mind|have|hav|got)\b | (?:mind|mind\s+if)\s+(?:i|u|you)\b
      | (?:any|a)\s+chance\b | (?:is\s+it|would\s+it\s+be)\s+(?:possible|ok|okay)\b | let\s+me\s+know\b
      | (?:interested|open)\s+(?:in|to)\b | quick\s+(?:call|chat)\b | (?:donat|fundrais|sponsor|petition|pledge)\w*
      | \$\s?\d | \d+\s?(?:dollars|bucks|rs|rupees|ringgit|sgd)\b | (?:lah|leh|lor)\s*\?
      | \b(?:abeg|biko|pls\s+po)\b | can\s+or\s+not\b
    )""", re.I | re.X | re.M)
"""Request phrasing, wide on purpose: a text that matches is read by a person, so a false match costs a
moment's reading and a missed ask costs a wrong label. Texting spellings and several Englishes included."""

MODEL_NO_ASK_BELOW = 0.8
"""The model picks a message as a candidate when it gives no_ask less than this."""


@dataclass(frozen=True)
class Candidate:
    """One message and why the finder picked it, or did not."""

    ref: str
    rule: bool
    p_no_ask: float
    model_label: str

    @property
    def picked(self) -> bool:
        return self.rule or self.p_no_ask < MODEL_NO_ASK_BELOW or self.model_label != "no_ask"


def rule_hit(subject: str, text: str) -> bool:
    return ASK_RULES.search(f"{subject}\n{text[:4000]}") is not None


def find_candidates(records: Iterable, classifier, chunk: int = 512) -> Iterator[Candidate]:
    """A Candidate for each corpus Record (ref = its id): the rules, then the model, a chunk at a time."""
    batch: list = []

    def flush() -> Iterator[Candidate]:
        results = classifier.classify_many([model_input(r.subject, r.text) for r in batch], top=0)
        for record, result in zip(batch, results):
            yield Candidate(record.id, rule_hit(record.subject, record.text), result.probabilities["no_ask"],
                            result.label)
        batch.clear()

    for record in records:
        batch.append(record)
        if len(batch) >= chunk:
            yield from flush()
    if batch:
        yield from flush()
