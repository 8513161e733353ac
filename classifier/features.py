"""Transformers used inside the model's Pipeline, so training and serving cannot drift.

Each keeps scikit-learn's estimator contract: ``__init__`` only stores parameters, ``fit`` returns
``self``. The spaCy objects are built once per process and never stored on an estimator, so a model
file holds plain data only.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from .text import zone

URL, EMAIL, HANDLE, NUMBER, MONEY = "_url_", "_email_", "_handle_", "_num_", "_money_"
"""Placeholders: a model should learn that a message has a link or an amount, not which one."""

_SECOND_PERSON = frozenset({"you", "your", "yours", "yourself", "u", "ur", "ya", "youre", "you're", "y'all"})
_IMPERATIVE_VERBS = [
    "check", "click", "share", "sign", "donate", "join", "call", "send", "let", "help", "reply",
    "visit", "watch", "subscribe", "follow", "claim", "get", "buy", "take", "give", "vote", "retweet",
    "rt", "read", "see", "pick", "lend", "grab", "bring", "tell", "contact", "text", "register",
    "book", "support", "chip", "pledge", "act", "order", "try", "download", "introduce", "forward",
]


@lru_cache(maxsize=1)
def _nlp():
    import spacy

    return spacy.blank("en")


@lru_cache(maxsize=1)
def _ask_matcher():
    """spaCy Matcher rules for the ways people phrase a request."""
    from spacy.matcher import Matcher

    matcher = Matcher(_nlp().vocab)
    you = {"LOWER": {"IN": ["you", "u", "ya"]}}
    matcher.add("modal_request", [
        [{"LOWER": {"IN": ["can", "could", "would", "will", "cn", "cud", "wud"]}}, you],
        [{"LOWER": {"IN": ["would", "do"]}}, you, {"LOWER": {"IN": ["mind", "be", "think", "consider"]}}],
        [{"LOWER": "any"}, {"LOWER": "chance"}],
        [{"LOWER": {"IN": ["i", "we"]}}, {"LOWER": {"IN": ["was", "were", "am", "are"]}}, {"LOWER": "wondering"}],
        [{"LOWER": {"IN": ["i'd", "we'd"]}}, {"LOWER": "love"}],
        [{"LOWER": {"IN": ["i", "we"]}}, {"LOWER": "would"}, {"LOWER": {"IN": ["love", "appreciate", "be"]}}],
        [{"LOWER": "let"}, {"LOWER": "me"}, {"LOWER": "know"}],
        [{"LOWER": {"IN": ["favour", "favor"]}}],
    ])
    matcher.add("please_verb", [
        [{"LOWER": {"IN": ["please", "pls", "plz", "kindly", "pleeease", "plss"]}}, {"IS_ALPHA": True}],
    ])
    matcher.add("imperative", [
        [{"IS_SENT_START": True, "LOWER": {"IN": _IMPERATIVE_VERBS}}],
        [{"ORTH": {"IN": [".", "!", "?", ":", "-"]}}, {"LOWER": {"IN": _IMPERATIVE_VERBS}}],
    ])
    matcher.add("amplify", [
        [{"LOWER": {"IN": ["share", "retweet", "rt", "promote", "feature", "review", "cover", "mention",
                           "amplify", "boost", "repost", "post", "spread", "shout"]}},
         {"OP": "?"}, {"LOWER": {"IN": ["this", "it", "my", "our", "the", "out", "word"]}}],
    ])
    return matcher


def normalise_tokens(text: str) -> list[str]:
    """spaCy blank-English tokens, lower-cased, with placeholders for links, addresses, handles and numbers."""
    tokens = []
    for token in _nlp().tokenizer(text):
        if token.is_space:
            continue
        word = token.lower_
        if token.like_url:
            word = URL
        elif token.like_email:
            word = EMAIL
        elif word.startswith("@") and len(word) > 1:
            word = HANDLE
        elif token.is_currency:
            word = MONEY
        elif token.like_num or word.isdigit():
            word = NUMBER
        tokens.append(word)
    return tokens


class _TextTransformer(TransformerMixin, BaseEstimator):
    """Stateless text-in transformer: ``fit`` learns nothing, and the input is a list of strings."""

    def fit(self, X, y=None):
        self.n_features_in_ = 1
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags


class Zoner(_TextTransformer):
    """Model-input strings to the text the model reads: the author's own zone, cleaned (see text.zone)."""

    def transform(self, X):
        check_is_fitted(self, "n_features_in_")
        return [zone(_as_text(x)) for x in _as_list(X)]


class Normaliser(_TextTransformer):
    """Text to a space-joined string of normalised tokens, so vectorisers split on spaces only."""

    def transform(self, X):
        check_is_fitted(self, "n_features_in_")
        return [" ".join(normalise_tokens(_as_text(x))) for x in _as_list(X)]


class AskCues(_TextTransformer):
    """A few structural cues of asking, read from normalised text with spaCy's Matcher.

    Columns: links, second person, questions, request phrasings, "please"+verb, imperatives,
    amplification asks, amounts of money, length. Counts are log-scaled so that one long message
    cannot outweigh its words.
    """

    CUES = ("links", "second_person", "questions", "modal_request", "please_verb", "imperative",
            "amplify", "money", "length")

    def transform(self, X):
        check_is_fitted(self, "n_features_in_")
        from spacy.tokens import Doc

        vocab = _nlp().vocab
        matcher = _ask_matcher()
        names = {vocab.strings[name]: name for name in ("modal_request", "please_verb", "imperative", "amplify")}
        rows = []
        for text in _as_list(X):
            words = _as_text(text).split()
            doc = Doc(vocab, words=words, sent_starts=[True] + [False] * (len(words) - 1) if words else None)
            counts = dict.fromkeys(self.CUES, 0.0)
            for match_id, _, _ in matcher(doc):
                counts[names[match_id]] += 1
            for word in words:
                if word == URL:
                    counts["links"] += 1
                elif word == MONEY:
                    counts["money"] += 1
                elif word == "?":
                    counts["questions"] += 1
                elif word in _SECOND_PERSON:
                    counts["second_person"] += 1
            counts["length"] = len(words) / 10
            rows.append([counts[cue] for cue in self.CUES])
        return sp.csr_matrix(np.log1p(np.asarray(rows, dtype=np.float64).reshape(-1, len(self.CUES))))

    def get_feature_names_out(self, input_features=None):
        return np.asarray([f"cue:{cue}" for cue in self.CUES], dtype=object)


class CompactTfidfVectorizer(TfidfVectorizer):
    """TfidfVectorizer whose saved state holds its vocabulary as one array of terms, not a dict.

    skops stores a dict entry by entry, so an 80,000-term vocabulary made a 100 MB file that took
    seconds to load; the terms in index order as one UTF-8 byte array are a few MB and load at once. The pruned
    terms in ``stop_words_`` are dropped (scikit-learn documents them as introspection only).
    """

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("stop_words_", None)
        vocabulary = state.pop("vocabulary_", None)
        if vocabulary is not None:
            # Terms never contain a newline: the Normaliser joins tokens with single spaces.
            terms = "\n".join(sorted(vocabulary, key=vocabulary.__getitem__))
            state["vocabulary_utf8_"] = np.frombuffer(terms.encode("utf-8"), dtype=np.uint8).copy()
        return state

    def __setstate__(self, state):
        state = dict(state)
        terms = state.pop("vocabulary_utf8_", None)
        super().__setstate__(state)
        if terms is not None:
            self.vocabulary_ = {term: index for index, term in enumerate(terms.tobytes().decode("utf-8").split("\n"))}


def _as_list(X) -> list:
    """Accept a list, a 1-D array or a one-column 2-D array of strings."""
    if hasattr(X, "ndim") and getattr(X, "ndim", 1) == 2:
        return [row[0] for row in X]
    return list(X)


def _as_text(value) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))
