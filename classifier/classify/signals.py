"""Relationship signals read from the words of a mail export, for the batch job's history.

- ``answer_intent``: what the user answered to an ask, from their own reply: a refusal becomes a
  ``declined`` event, a yes ``favour_granted``.
- ``deposit_kind``: what a sender's message with no ask gave: a share, an introduction, a referral,
  help, or plain engagement.

The phrases are deliberately plain and few. A reply that matches none records nothing, and a message
that matches none counts as engagement: the safe side, little credit and no blame.
"""

from __future__ import annotations

import re
from functools import lru_cache

from classifier.classify import tokens
from classifier.classify.text import author_zone, without_quotes

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
    nlp = tokens.nlp()
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
    words = f" {tokens.lowered_runs(author_zone(text)[:1500])} "
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


_AFFECTION = re.compile(
    r"\b(?:love\s+(?:you|ya|u)|lots\s+of\s+love|much\s+love|all\s+my\s+love|love\s+always|miss\s+(?:you|ya|u)"
    r"|big\s+hugs?|hugs|xoxo|mwah)\b"
    r"|[\u2764\u2665\U0001F495\U0001F496\U0001F497\U0001F618\U0001F970\U0001F917\U0001F60D]",
    re.IGNORECASE)
FAMILY_WORDS: tuple[str, ...] = (
    "mum", "mummy", "mom", "mommy", "mam", "mama", "dad", "daddy", "papa", "sis", "bro", "nan", "nana", "nanna", "gran",
    "granny", "grandma", "grandpa", "auntie", "aunty", "uncle", "cuz", "hubby", "wifey", "babe", "hun", "hon",
    "darling", "sweetie", "bestie")
_FAMILY = re.compile(rf"\b(?:{'|'.join(FAMILY_WORDS)})\b", re.IGNORECASE)
_KISSES = re.compile(r"^[ \t]*(?:[A-Z][a-z]{0,11}[ \t]*,?[ \t]*)?x{1,4}[ \t]*!*$|^[ \t]*[A-Z]x{1,4}[ \t]*$"
                     r"|(?<=\S)[ \t]+x{1,4}[ \t]*$", re.MULTILINE)
"""A kiss to sign off: a line that is "x", "xx", "C xxx", "Mx" or "Maya x", or a line ending " x"."""
WARMTH_CHARS = 3000
WARMTH_EDGES = (1200, 400)
"""Characters of a long message's start and end that closeness reads: where greetings, the warm words
of a personal note and sign-offs are; the middle of a long message is seldom personal."""


def warmth(body: str) -> bool:
    """Whether the words of ``body`` (its own part, not a quoted reply) show a close relationship:
    affection ("love you", a heart), a kiss to sign off ("Mx", "C xxx") or family words ("Mummy",
    "sis"). Evidence of tie strength only (weigh.tie): it moves no balance."""
    return closeness(body)[0]



_MASS_CUES = (
    ("an unsubscribe link", re.compile(r"\bunsubscribe\b|\bopt[ -]out\b|manage (?:your )?(?:email )?preferences"
                                       r"|update (?:your )?(?:email )?preferences|view (?:this email |it )?in (?:your |a )?"
                                       r"browser|you(?:'re| are) receiving this (?:email |message )?because", re.I)),
    ("a press release", re.compile(r"for immediate release|^\s*-?\s*#{3}\s*-?\s*$|^\s*-\s*ends\s*-\s*$"
                                   r"|\bnotes to editors\b|\bembargoed (?:until|till)\b|\bmedia contact:", re.I | re.M)),
    ("mail-merge placeholders", re.compile(r"\{\{\s*[\w .]+\s*\}\}|\*\|[A-Z_]+\|\*|%[A-Z_]*NAME%|\[(?:first ?name|"
                                           r"name|client(?: name)?|company(?: name)?|insert [^\]\n]{1,30}|"
                                           r"your name|recipient)\]", re.I)),
)
_MASS_GATES = (("unsubscribe", "opt out", "opt-out", "preferences", "browser", "receiving this"),
               ("immediate release", "###", "ends -", "-ends", "notes to editors", "embargo", "media contact:"),
               ("{{", "*|", "name%", "[first", "[name", "[client", "[company", "[insert", "[your name", "[recipient"))
"""Strings each of _MASS_CUES needs (lower case): the pattern runs only where its gate opens."""
_BUMP = re.compile(
    r"\b(?:just |quickly )?bump(?:ing)? (?:this|my|it|up)\b|\bcircling back\b|\bcircle back on\b"
    r"|\bfollowing up on my (?:last|previous|earlier|below)\b|\bfollow(?:ing)?[- ]up on (?:the|my) (?:email|note|"
    r"message) (?:below|i sent)\b|\bfloat(?:ing)? this (?:back )?(?:up|to the top)\b|\bto the top of your inbox\b"
    r"|\bdid you (?:get|have) a chance to (?:read|see|look|review|consider)\b|\bany thoughts on my (?:last|previous)\b"
    r"|\bhaven'?t heard back\b|\bhave not heard back\b|\bone last (?:try|time|attempt)\b|\blast attempt\b"
    r"|\bclose (?:the loop|your file)\b|\bbreak-?up (?:email|note)\b", re.I)
MASS_CUE_CHARS = 20_000
_BUMP_GATE = ("bump", "circl", "following up on", "follow up on", "follow-up on", "floating this", "float this",
              "top of your inbox", "a chance to", "any thoughts on my", "heard back", "one last", "last attempt",
              "close the loop", "close your file", "break-up", "breakup")


def mass_mail_cues(subject: str, body: str) -> list[str]:
    """What in the words shows a message went to many people, in plain words: an unsubscribe link, a
    press release's marks, mail-merge placeholders left unfilled."""
    text = f"{subject}\n{body[:MASS_CUE_CHARS]}"
    lowered = text.lower()
    return [what for (what, pattern), gate in zip(_MASS_CUES, _MASS_GATES)
            if any(word in lowered for word in gate) and pattern.search(text)]


def is_bump(body: str) -> bool:
    """Whether the sender's own words chase an earlier message ("just bumping this", "circling back")."""
    own = without_quotes(body[:MASS_CUE_CHARS])[:3000]
    lowered = own.lower()
    return any(word in lowered for word in _BUMP_GATE) and bool(_BUMP.search(own))


_KIN = (r"mum|mummy|mom|mommy|mam|mammy|ma|mama|mamá|dad|daddy|papa|papá|pops|sis|sissy|bro|bruv|mijo|mija"
        r"|hermanito|hermanita|nan|nana|nanna|grandma|grandpa|granny|abuela|abuelo|auntie|aunty")
_KIN_CUES = (
    # greeting or address at the start of a line: "Mummy, sorry!", "Hi Mum", "sis the cards..."
    re.compile(rf"^\W*(?:(?:hi|hey|hello|dear|hiya|morning|evening|yes|of course|ok|okay|sure|thanks|thank you"
               rf"|sorry|love you)[\s,!]+)?(?:{_KIN})\b(?!['’])", re.IGNORECASE | re.MULTILINE),
    # a vocative after a short phrase: "Of course Ma.", "Love you Ma", "thank you hermanito"
    re.compile(rf"\b(?:yes|of course|sure|thanks|thank you|love you|sorry|ok|okay|hi|hey|bye|night|morning)[\s,]+"
               rf"(?:{_KIN})\b(?!['’])", re.IGNORECASE),
    # a vocative in the middle of a line: "Home safe Mummy, sorry!" (not "my mum, who...")
    re.compile(rf"\b(?!(?:my|your|his|her|their|the|a|an)\s)[a-z]+\s+(?:{_KIN})\s*[,!?](?!['’])", re.IGNORECASE),
    # a sign-off: "love, Mum", "Mom", "your big sis x"
    re.compile(r"^\W*(?:(?:lots of |all my |much )?love,?\s*)?(?:your\s+(?:big\s+|little\s+)?)?"
               r"(?:mum|mummy|mom|mommy|mam|dad|daddy|mama|papa|sis|sister|bro|brother)\b[^\n\w]{0,20}(?:x+)?\W*$"
               r"|^\W*love,?\s*(?:mum|mom|dad)\b", re.IGNORECASE | re.MULTILINE),
    # a parent you share: "our mum", and the Spanish diminutives of a child or sibling
    re.compile(r"\bour\s+(?:mum|mom|mam|dad|nan|gran|grandma|grandpa|abuela)\b|\b(?:mijo|mija|hermanit[oa])\b",
               re.IGNORECASE),
)


def kinship(body: str) -> bool:
    """Whether the words of ``body`` (its own part) speak as family to the reader: they address them
    as kin ("Hi Mum", "Of course Ma", "sis"), sign as kin ("love, Mum") or name a parent they share
    ("our mum"). Evidence of a family tie (weigh.tie); a mention of someone's own mother is not."""
    return closeness(body)[1]


_PUNCTUATION = ".,;:!?()[]{}\"'’“”…-—*_~<>/\\|"
_KISS_WORD = re.compile(r"[a-z]?x{1,4}")
_HEARTS = re.compile("[\u2764\u2665\U0001F495\U0001F496\U0001F497\U0001F618\U0001F970\U0001F917\U0001F60D]")
_AFFECTION_WORDS = frozenset({"love", "miss", "hug", "hugs", "xoxo", "mwah"})
_FAMILY_WORDS = frozenset(FAMILY_WORDS)
_KIN_WORDS = frozenset(_KIN.split("|")) | {"sister", "brother"}


def closeness(body: str) -> tuple[bool, bool]:
    """(warmth, kinship) of ``body``, its own part read once: the batch reads every message for both.
    The patterns run only when a word they need is there: most mail has none of them."""
    own = without_quotes(body[:WARMTH_CHARS * 3])[:WARMTH_CHARS]
    if len(own) > WARMTH_EDGES[0] + WARMTH_EDGES[1]:  # a long message: its greeting and its sign-off
        own = own[:WARMTH_EDGES[0]] + "\n" + own[-WARMTH_EDGES[1]:]
    words = {word.strip(_PUNCTUATION) for word in own.lower().split()}  # split: a third of a regex's time
    kiss = any(_KISS_WORD.fullmatch(w) for w in words if "x" in w)  # "x", "xx", "mx" (an initial and a kiss)
    warm = bool((words & _AFFECTION_WORDS and _AFFECTION.search(own)) or (kiss and _KISSES.search(own))
                or (words & _FAMILY_WORDS and _FAMILY.search(own)) or _HEARTS.search(own))
    kin = bool(words & _KIN_WORDS) and any(pattern.search(own) for pattern in _KIN_CUES)
    return warm, kin
