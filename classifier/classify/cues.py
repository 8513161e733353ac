"""The ways people phrase a request, as rules over a message's tokens: what the AskCues feature
counts. They read like spaCy Matcher patterns (tests check that spaCy's Matcher counts the same)."""

from __future__ import annotations

SECOND_PERSON = frozenset({"you", "your", "yours", "yourself", "u", "ur", "ya", "youre", "you're", "y'all"})
_IMPERATIVE_VERBS = [
    "check", "click", "share", "sign", "donate", "join", "call", "send", "let", "help", "reply",
    "visit", "watch", "subscribe", "follow", "claim", "get", "buy", "take", "give", "vote", "retweet",
    "rt", "read", "see", "pick", "lend", "grab", "bring", "tell", "contact", "text", "register",
    "book", "support", "chip", "pledge", "act", "order", "try", "download", "introduce", "forward",
]


ALPHA = "is_alpha"
"""A rule step: any alphabetic word."""
OPTIONAL = "optional"
"""A rule step: one word of any kind, or none."""


def _words(*words: str) -> frozenset[str]:
    return frozenset(words)


_YOU = _words("you", "u", "ya")
ASK_RULES: dict[str, list[tuple]] = {
    "modal_request": [
        (_words("can", "could", "would", "will", "cn", "cud", "wud"), _YOU),
        (_words("would", "do"), _YOU, _words("mind", "be", "think", "consider")),
        (_words("any"), _words("chance")),
        (_words("i", "we"), _words("was", "were", "am", "are"), _words("wondering")),
        (_words("i'd", "we'd"), _words("love")),
        (_words("i", "we"), _words("would"), _words("love", "appreciate", "be")),
        (_words("let"), _words("me"), _words("know")),
        (_words("favour", "favor"),),
    ],
    "please_verb": [(_words("please", "pls", "plz", "kindly", "pleeease", "plss"), ALPHA)],
    "imperative": [
        (_words(*_IMPERATIVE_VERBS),),  # only as the text's first word: see SENTENCE_START_RULES
        (_words(".", "!", "?", ":", "-"), _words(*_IMPERATIVE_VERBS)),
    ],
    "amplify": [
        (_words("share", "retweet", "rt", "promote", "feature", "review", "cover", "mention", "amplify", "boost",
                "repost", "post", "spread", "shout"),
         OPTIONAL, _words("this", "it", "my", "our", "the", "out", "word")),
    ],
}
"""The ways people phrase a request, as sequences of steps: a set of lower-cased words, ALPHA or
OPTIONAL. They read like spaCy Matcher patterns, and tests/test_features.py checks that spaCy's
Matcher, given them, counts exactly what ``count_rule_matches`` counts; matching plain word lists
costs a tenth of building a Doc per message."""
SENTENCE_START_RULES = {("imperative", 0)}
"""(cue, rule index) of the rules that match only at the first word."""




def _match_ends(words: list[str], at: int, steps: tuple) -> int:
    """How many spans starting at ``at`` the steps match (an OPTIONAL step can make two)."""
    if not steps:
        return 1
    step, rest = steps[0], steps[1:]
    if step == OPTIONAL:
        return _match_ends(words, at, rest) + (_match_ends(words, at + 1, rest) if at < len(words) else 0)
    if at >= len(words):
        return 0
    word = words[at]
    matched = word.isalpha() if step == ALPHA else word.lower() in step
    return _match_ends(words, at + 1, rest) if matched else 0


class RuleSet:
    """Rules (a dict like ASK_RULES) indexed by their first word, counted over a list of words."""

    def __init__(self, rules: dict[str, list[tuple]], at_start: frozenset[tuple[str, int]] = frozenset()):
        self.rules = rules
        self.index: dict[str, list[tuple[str, tuple, bool]]] = {}
        for cue, cue_rules in rules.items():
            for number, (first, *rest) in enumerate(cue_rules):
                for word in first:
                    self.index.setdefault(word, []).append((cue, tuple(rest), (cue, number) in at_start))

    def count(self, words: list[str]) -> dict[str, int]:
        """cue -> how many spans of ``words`` its rules match (every match, overlapping ones too)."""
        counts: dict[str, int] = {}
        for at, word in enumerate(words):
            for cue, rest, only_at_start in self.index.get(word.lower(), ()):
                if only_at_start and at:
                    continue
                n = _match_ends(words, at + 1, rest)
                if n:
                    counts[cue] = counts.get(cue, 0) + n
        return counts


ASK = RuleSet(ASK_RULES, frozenset(SENTENCE_START_RULES))


def count_rule_matches(words: list[str]) -> dict[str, int]:
    """cue -> how many spans of ``words`` its ASK_RULES match (every match, overlapping ones too)."""
    return ASK.count(words)


# ---------------------------------------------------------------- genres of asking

GENRE_RULES: dict[str, list[tuple]] = {
    "on_behalf": [
        (_words("on"), _words("behalf")),
        (_words("our", "my", "a"), _words("client", "clients", "client's")),
        (_words("i", "we"), _words("represent", "work")),
        (_words("pr", "publicist", "agency", "publicity"),),
    ],
    "coverage": [
        (_words("feature", "featured", "featuring", "coverage", "spotlight", "roundup", "round-up", "interview",
                "exclusive", "embargo", "embargoed", "story", "segment", "listicle"),),
        (_words("gift"), _words("guide", "guides")),
        (_words("press"), _words("release", "kit", "pass")),
    ],
    "sample": [
        (_words("sample", "samples", "send"), OPTIONAL, _words("you", "over", "a", "one")),
        (_words("review"), _words("unit", "copy", "sample")),
    ],
    "follow_up": [
        (_words("following", "circling", "bumping", "checking"), _words("up", "back", "this", "in")),
        (_words("bump", "bumping", "nudge"),),
        (_words("top"), _words("of"), _words("your"), _words("inbox")),
        (_words("any"), _words("update", "thoughts")),
        (_words("did"), _words("you"), _words("get", "see", "have")),
    ],
    "meeting": [
        (_words("quick", "short", "brief"), _words("call", "chat", "demo")),
        (_words("minutes", "mins", "min"), OPTIONAL, _words("call", "chat", "this", "next")),
        (_words("calendar", "calendly", "demo", "schedule"),),
        (_words("hop", "jump"), _words("on")),
    ],
    "link_offer": [
        (_words("guest"), _words("post", "posts", "article", "blog")),
        (_words("backlink", "backlinks", "dofollow", "do-follow", "seo"),),
        (_words("link"), _words("insertion", "exchange", "placement")),
        (_words("sponsored"), _words("post", "content", "article")),
    ],
    "cause": [
        (_words("donate", "donation", "donations", "fundraiser", "fundraising", "petition", "charity", "volunteer",
                "volunteers", "appeal", "sponsor", "pledge", "nonprofit", "non-profit"),),
    ],
    "bulk": [
        (_words("unsubscribe", "unsub"),),
        (_words("view"), _words("in"), _words("browser")),
        (_words("manage"), OPTIONAL, _words("preferences", "subscription")),
        (_words("you"), _words("are", "were", "received"), _words("receiving", "subscribed", "signed", "this")),
    ],
    "scam": [
        (_words("gift"), _words("card", "cards")),
        (_words("new"), _words("number", "account", "bank")),
        (_words("bank"), _words("details", "account")),
        (_words("bitcoin", "btc", "crypto", "wallet", "usdt", "verify", "suspended", "winner", "won", "prize",
                "lottery", "inheritance", "beneficiary"),),
    ],
    "errand": [
        (_words("pick", "drop", "fetch", "collect", "buy", "bring", "lend", "borrow", "loan", "transfer", "transfr",
                "print", "cover", "feed", "water"), OPTIONAL, _words("me", "my", "for", "mine", "us", "it", "one")),
    ],
}
"""Words that mark the genre an ask comes in: a PR agency's pitch, a sales intro, a follow-up bump, a
link offer, a cause, a bulk mailing, a scam, an errand between friends. Same step form as ASK_RULES."""


GENRES = RuleSet(GENRE_RULES)
REQUEST_CUES = ("modal_request", "please_verb", "imperative", "amplify")
SENTENCE_ENDS = frozenset({".", "!", "?"})


def sentences(words: list[str]) -> list[list[str]]:
    """``words`` cut after each full stop, exclamation or question mark (the marks stay with their sentence)."""
    out, current = [], []
    for word in words:
        current.append(word)
        if word in SENTENCE_ENDS:
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def sentence_asks(words: list[str]) -> tuple[int, int, int, int]:
    """(request phrasings in the strongest sentence, sentences that hold one, whether the last two
    sentences hold one, how many sentences): the ask is often one sentence in a long message."""
    parts = sentences(words)
    strengths = []
    for part in parts:
        found = count_rule_matches(part)
        strengths.append(sum(found.get(cue, 0) for cue in REQUEST_CUES) + ("?" in part))
    if not strengths:
        return 0, 0, 0, 0
    return max(strengths), sum(1 for s in strengths if s), int(any(strengths[-2:])), len(parts)
