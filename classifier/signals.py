"""Relationship signals read from the words of a mail export, for the batch job's history.

- ``answer_intent``: what the user answered to an ask, from their own reply: a refusal becomes a
  ``declined`` event, a yes ``favour_granted``.
- ``deposit_kind``: what a sender's message with no ask gave: a share, an introduction, a referral,
  help, or plain engagement.

The phrases are deliberately plain and few. A reply that matches none records nothing, and a message
that matches none counts as engagement: the safe side, little credit and no blame.
"""

from __future__ import annotations

from functools import lru_cache

from .text import author_zone

DECLINE_PHRASES = (
    "not for me", "not for us", "i'll pass", "i will pass", "going to pass", "pass on this", "pass this time",
    "not able to", "unable to", "can't help", "cannot help", "can't do this", "won't be able", "not in a position",
    "no thanks", "no, thanks", "no thank you", "not the right fit", "not a fit", "not a good fit", "say no",
    "have to decline", "must decline", "going to decline", "i decline", "please remove me", "take me off",
    "not interested", "don't cover", "doesn't cover", "doesn't take", "don't take", "please don't contact",
    "don't contact me", "do not cover", "don't do sponsored", "don't take guest", "don't accept guest",
    "don't run", "not something i", "isn't something i", "not one for", "i'm afraid not", "afraid i can't",
    "afraid i won't", "not going to be able", "don't share", "stop emailing", "please stop",
)
GRANT_PHRASES = (
    "happy to", "of course", "delighted to", "glad to", "count me in", "i'd love to", "i would love to",
    "will do", "consider it done", "i can do", "no problem", "absolutely", "i've shared", "shared it", "i'll share",
    "i'll introduce", "introducing you", "i've introduced", "i'll send", "sent it", "yes", "sure", "go for it",
    "i'm in", "with pleasure", "done", "leave it with me", "i'll do it", "i'll write", "i'll read", "i'll have a look",
)


DEPOSIT_PHRASES = {
    "introduced": ("introduce you", "introducing you", "introduced you", "put you in touch", "connect you with",
                   "copying in", "cc'ing", "meet my", "you two should meet", "you should meet"),
    "referred": ("subscribed", "signed up", "new readers", "new subscribers", "sent your way", "recommended you",
                 "referred", "reading list", "booked you", "passed your name"),
    "shared": ("shared your", "i shared", "posted your", "reposted", "retweeted", "on my insta", "on my stories",
               "forwarded your", "linked to your", "put your", "quoted your", "shared it", "posted it"),
    "helped": ("thought you'd want to know", "thought you might want", "a tip", "quick tip", "for your issue",
               "free to use", "you can use", "feel free to use", "i've attached", "attached is", "the data",
               "spreadsheet", "as a gift", "made you", "for free", "no charge", "happy to help"),
}
"""Deposit kinds in precedence order: the rarer, costlier gift wins when a message shows several."""


@lru_cache(maxsize=1)
def _phrases() -> list[tuple[str, frozenset[str], str]]:
    """(kind, the phrase's lower-cased spaCy tokens, the same joined by spaces with a space either side)."""
    from .features import _nlp

    nlp = _nlp()
    kinds = {"declined": DECLINE_PHRASES, "granted": GRANT_PHRASES, **DEPOSIT_PHRASES}
    found = []
    for kind, phrases in kinds.items():
        for phrase in phrases:
            words = [token.lower_ for token in nlp.make_doc(phrase)]
            found.append((kind, frozenset(words), f" {' '.join(words)} "))
    return found


def _found(text: str) -> set[str]:
    """The kinds whose phrases occur in the author's zone of ``text`` (its first 1,500 characters), on
    spaCy's tokens, case-insensitively: what spaCy's PhraseMatcher on LOWER finds (tests compare).
    Read from the tokens the normaliser has cached: a Doc per message was most of a batch's signal time."""
    from .features import lowered_runs

    words = f" {lowered_runs(author_zone(text)[:1500])} "
    vocabulary = set(words.split())  # a phrase whose words are not all here cannot occur: no search
    return {kind for kind, needed, phrase in _phrases() if needed <= vocabulary and phrase in words}


def answer_intent(reply_body: str) -> str | None:
    """"declined", "granted" or None for the user's own reply; a refusal wins over polite yes-words
    ("happy to chat, but I'll pass")."""
    found = _found(reply_body)
    if "declined" in found:
        return "declined"
    if "granted" in found:
        return "granted"
    return None


def deposit_kind(body: str) -> str:
    """The ledger kind of a sender's message with no ask: introduced, referred, shared, helped or engaged."""
    found = _found(body)
    return next((kind for kind in DEPOSIT_PHRASES if kind in found), "engaged")
