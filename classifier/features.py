"""Transformers used inside the model's Pipeline, so training and serving cannot drift.

Each keeps scikit-learn's estimator contract: ``__init__`` only stores parameters, ``fit`` returns
``self``. The spaCy objects are built once per process and never stored on an estimator, so a model
file holds plain data only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from itertools import chain, repeat

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2
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


LEXEME_ATTRIBUTES = ("LOWER", "IS_SPACE", "LIKE_URL", "LIKE_EMAIL", "IS_CURRENCY", "LIKE_NUM")
"""What is read of a word: by _normalise_token, and (LOWER) by the signals' phrases."""


@lru_cache(maxsize=1)
def _nlp():
    """The project's blank English pipeline: spaCy's tokenizer rules and lexeme attributes.

    spaCy works out every lexeme attribute it knows the first time it meets a word: word shape, norm,
    stop word and a dozen more. On new words (most of the normaliser's time in a batch) that was a
    third of the cost, for attributes nothing here reads, so this pipeline's vocabulary computes only
    LEXEME_ATTRIBUTES, with spaCy's own functions. The tokens are the same (tests compare them with a
    full blank English pipeline); an attribute outside the list reads as unset.
    """
    import spacy
    from spacy.attrs import IDS

    nlp = spacy.blank("en")
    getters = nlp.vocab.lex_attr_getters
    nlp.vocab.lex_attr_getters = {IDS[name]: getters[IDS[name]] for name in LEXEME_ATTRIBUTES}
    return nlp


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


def _rule_index() -> dict[str, list[tuple[str, tuple, bool]]]:
    """First word -> the rules that can start with it: (cue, steps after the first, only at the start)."""
    index: dict[str, list[tuple[str, tuple, bool]]] = {}
    for cue, rules in ASK_RULES.items():
        for number, (first, *rest) in enumerate(rules):
            for word in first:
                index.setdefault(word, []).append((cue, tuple(rest), (cue, number) in SENTENCE_START_RULES))
    return index


_RULES_BY_FIRST_WORD = _rule_index()


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


def count_rule_matches(words: list[str]) -> dict[str, int]:
    """cue -> how many spans of ``words`` its ASK_RULES match (every match, overlapping ones too)."""
    counts: dict[str, int] = {}
    for at, word in enumerate(words):
        for cue, rest, only_at_start in _RULES_BY_FIRST_WORD.get(word.lower(), ()):
            if only_at_start and at:
                continue
            n = _match_ends(words, at + 1, rest)
            if n:
                counts[cue] = counts.get(cue, 0) + n
    return counts


CACHE_LIMIT = 200_000
"""Entries each per-process cache below keeps before it starts again (a few tens of MB at most)."""


def _bounded(cache: dict) -> dict:
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    return cache


def _normalise_token(token) -> str | None:
    """One spaCy token's (or lexeme's) normalised word, or None for whitespace. Reads lexeme attributes only."""
    if token.is_space:
        return None
    word = token.lower_
    if token.like_url:
        return URL
    if token.like_email:
        return EMAIL
    if word.startswith("@") and len(word) > 1:
        return HANDLE
    if token.is_currency:
        return MONEY
    if token.like_num or word.isdigit():
        return NUMBER
    return word


_NORMALISED: dict[str, str] = {}
"""chunk -> its normalised tokens, space-joined: the per-process cache of normalise_texts."""
_LOWERED: dict[str, str] = {}
"""chunk -> its lower-cased tokens (no placeholders), space-joined: the cache of lowered_runs."""
_TOKENISE_AT_ONCE = 10_000


_ONE_TOKEN = re.compile(r"[A-Za-z]+|[0-9]+")
"""Chunks spaCy's English tokenizer leaves whole unless they are special cases: no prefix, suffix or
infix rule matches ASCII letters alone or digits alone (tests check)."""
_WORD_AND_MARK = re.compile(r"[A-Za-z]+[,;:!?]|[A-Za-z]*[a-z]\.")
"""A word and one mark, which the tokenizer splits off: ,;:!? always, a full stop after a lower-case
letter (after a capital it may stay: "A."). Unless the chunk, or the word, is a special case."""


@lru_cache(maxsize=1)
def _special_cases() -> frozenset[str]:
    """The strings spaCy's English tokenizer splits by its own table ("gonna" -> "gon", "na")."""
    return frozenset(_nlp().tokenizer.rules)


def _tokenise_chunks(chunks: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """(chunk -> normalised tokens, chunk -> lower-cased tokens), each space-joined, tokenising many
    chunks at once. The two hold the same string object unless a placeholder replaced a token.

    One spaCy call over many chunks costs a thirtieth of one call per chunk; the tokens go back to
    their chunks by character offset. The chunks are joined by newlines, not spaces: spaCy's special
    cases can reach across a single space ("course:) :)x" splits the second smiley), and a newline
    stops that, so each chunk is tokenised as it would be alone, whichever chunks share the call.

    A chunk of ASCII letters or of digits that is no special case ("gonna", "Im" are) is one token,
    itself, and a word with one mark after it (_WORD_AND_MARK) is two. Their tokens are known without
    the tokenizer's affix searches, which were most of the cost of a new chunk; digits and marked words
    were nearly half of the new chunks that still went to the tokenizer (tests compare with it on
    every such chunk of the corpus, and random ones). Their lexemes are read straight from the vocabulary.
    """
    nlp, normalised, lowered = _nlp(), {}, {}
    specials = _special_cases()
    left = []
    for chunk in chunks:
        if chunk in specials:
            left.append(chunk)
        elif _ONE_TOKEN.fullmatch(chunk):
            lexeme = nlp.vocab[chunk]
            normalised[chunk] = word = _normalise_token(lexeme)  # the lexeme's attributes, as a token reads them
            lowered[chunk] = word if word == lexeme.lower_ else lexeme.lower_
        elif _WORD_AND_MARK.fullmatch(chunk) and chunk[:-1] not in specials:
            lexemes = (nlp.vocab[chunk[:-1]], nlp.vocab[chunk[-1]])
            words = [_normalise_token(lexeme) for lexeme in lexemes]  # never None: no whitespace
            normalised[chunk] = joined = " ".join(words)
            lower = [lexeme.lower_ for lexeme in lexemes]
            lowered[chunk] = joined if words == lower else " ".join(lower)
        else:
            left.append(chunk)
    chunks = left
    for start in range(0, len(chunks), _TOKENISE_AT_ONCE):
        group = chunks[start:start + _TOKENISE_AT_ONCE]
        ends, end = [], -1
        for chunk in group:
            end += len(chunk) + 1
            ends.append(end)  # offset just past the chunk (where its separating newline is)
        words: list[list[str]] = [[] for _ in group]
        lower: list[list[str]] = [[] for _ in group]
        at = 0
        for token in nlp.tokenizer("\n".join(group)):
            while token.idx >= ends[at]:
                at += 1
            word = _normalise_token(token)
            if word is not None:
                words[at].append(word)
                lower[at].append(token.lower_)
        for chunk, chunk_words, chunk_lower in zip(group, words, lower):
            normalised[chunk] = joined = " ".join(chunk_words)
            lowered[chunk] = joined if chunk_words == chunk_lower else " ".join(chunk_lower)
    return normalised, lowered


def _learn(chunks: Iterable[str]) -> None:
    """Tokenise the chunks the caches lack (in sorted order, so that a run repeats exactly)."""
    new = set(chunks).difference(_NORMALISED)
    if new:
        if len(_NORMALISED) + len(new) > CACHE_LIMIT:
            _NORMALISED.clear()
            _LOWERED.clear()
        normalised, lowered = _tokenise_chunks(sorted(new))
        _LOWERED.update(lowered)  # first: a chunk in _NORMALISED is in _LOWERED too
        _NORMALISED.update(normalised)


def normalise_texts(texts: list[str]) -> list[str]:
    """spaCy blank-English tokens of each text, lower-cased, with placeholders for links, addresses,
    handles, amounts and numbers, joined by single spaces (what the vectorisers read).

    Each whitespace-separated chunk is tokenised by spaCy as if alone (prefixes, suffixes, infixes,
    special cases; every attribute read is the lexeme's), so its tokens never depend on its
    neighbours or on what else is in the batch. Text repeats ("the", "you", "please,"), so each chunk
    is tokenised once per process and cached: this was a third of the batch job's CPU time. spaCy over
    a whole text differs only where two special cases with affixes meet across one space
    ("course:) :)x"); tests check the rest, and that the output never depends on the batch.
    """
    chunked = [text.split() for text in texts]
    _learn(chain.from_iterable(chunked))
    out = []
    for chunks in chunked:
        try:
            out.append(" ".join(map(_NORMALISED.__getitem__, chunks)))
        except KeyError:  # another thread emptied the cache meanwhile
            normalised, _ = _tokenise_chunks(sorted(set(chunks)))
            out.append(" ".join(map(normalised.__getitem__, chunks)))
    return out


_TOKEN_BREAK = re.compile(r"\s{2,}|[^\S ]")
"""Whitespace that spaCy makes a token of: any run but a single space."""


def lowered_runs(text: str) -> str:
    """spaCy's lower-cased tokens of ``text`` (no placeholders), separated by single spaces where no
    whitespace token comes between them and by " \n " where one does (spaCy makes a token of every
    whitespace run but a single space). So a phrase's tokens, space-joined and with a space either
    side, occur in " " + lowered_runs(text) + " " exactly where spaCy's PhraseMatcher on LOWER finds
    them in a Doc of the text (tests compare). Read from the normaliser's cache."""
    runs = [run.split() for run in _TOKEN_BREAK.split(text)]
    _learn(chain.from_iterable(runs))
    try:
        return " \n ".join(" ".join(map(_LOWERED.__getitem__, run)) for run in runs if run)
    except KeyError:  # another thread emptied the cache meanwhile
        _, lowered = _tokenise_chunks(sorted(set(chain.from_iterable(runs))))
        return " \n ".join(" ".join(map(lowered.__getitem__, run)) for run in runs if run)


def normalise_text(text: str) -> str:
    """normalise_texts for one text."""
    return normalise_texts([text])[0]


def normalise_tokens(text: str) -> list[str]:
    """normalise_text as a list of tokens."""
    return normalise_text(text).split()


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
        return normalise_texts([_as_text(x) for x in _as_list(X)])


class AskCues(_TextTransformer):
    """A few structural cues of asking, read from normalised text with the ASK_RULES.

    Columns: links, second person, questions, request phrasings, "please"+verb, imperatives,
    amplification asks, amounts of money, length. Counts are log-scaled so that one long message
    cannot outweigh its words.
    """

    CUES = ("links", "second_person", "questions", "modal_request", "please_verb", "imperative",
            "amplify", "money", "length")

    def transform(self, X):
        check_is_fitted(self, "n_features_in_")
        rows = []
        for text in _as_list(X):
            words = _as_text(text).split()
            counts = dict.fromkeys(self.CUES, 0.0)
            for cue, n in count_rule_matches(words).items():
                counts[cue] += n
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

    def transform(self, raw_documents):
        """TfidfVectorizer.transform's steps, without its per-call input validation: a mail filter
        scoring one message paid more for the checks than for the work. Same matrix (tests compare)."""
        tfidf = getattr(self, "_tfidf", None)
        if isinstance(raw_documents, str) or tfidf is None or tfidf.norm not in ("l2", None) or self.binary:
            return super().transform(raw_documents)
        check_is_fitted(self, "vocabulary_")
        _, counts = self._count_vocab(raw_documents, fixed_vocab=True)
        if counts.dtype not in (np.float32, np.float64) or not counts.shape[0]:  # scikit-learn's errors for odd input
            return tfidf.transform(counts, copy=False)
        if tfidf.sublinear_tf:
            np.log(counts.data, counts.data)
            counts.data += 1.0
        if hasattr(tfidf, "idf_"):
            counts.data *= tfidf.idf_[counts.indices]
        if tfidf.norm == "l2":
            inplace_csr_row_normalize_l2(counts)
        return counts

    def _count_vocab(self, raw_documents, fixed_vocab):
        # Serving a fitted vectoriser of the model's two kinds, the counts are built from index lists:
        # - char_wb: a word's n-grams never depend on its neighbours, so each word's vocabulary indices
        #   are computed once per process and a document's counts are their concatenation;
        # - words split on whitespace: each word is looked up once in a table of the vocabulary's
        #   words (_WordTable), and which pairs are bigram features is array arithmetic on the ids.
        # Same matrix as scikit-learn's (tests compare them), a fraction of the time.
        plain_input = (fixed_vocab and self.input == "content" and not self.lowercase and self.preprocessor is None
                       and self.strip_accents is None)
        by_words = (self.analyzer == "word" and self.token_pattern == r"\S+" and self.tokenizer is None
                    and self.stop_words is None and 1 <= self.ngram_range[0] <= self.ngram_range[1] <= 2)
        if not (plain_input and (self.analyzer == "char_wb" or by_words)):
            return super()._count_vocab(raw_documents, fixed_vocab)
        documents = list(raw_documents)
        if not all(isinstance(document, str) for document in documents):
            return super()._count_vocab(documents, fixed_vocab)
        counts = self._char_wb_counts if self.analyzer == "char_wb" else self._word_counts
        return self.vocabulary_, counts(documents)

    def _word_counts(self, documents: list[str]) -> sp.csr_matrix:
        """Counts of the word unigrams and bigrams (scikit-learn's _word_ngrams: tokens joined by one
        space). Each word is looked up once, as an id in a table of the vocabulary's words; which word
        pairs are in the vocabulary is then array arithmetic on the ids, with no pair string built."""
        table = self._per_vocabulary("_word_table", lambda: _WordTable(self))
        split = [document.split() for document in documents]  # what token_pattern \S+ finds (tests compare)
        words = list(chain.from_iterable(split))
        ids = np.fromiter(map(table.ids.get, words, repeat(-1)), dtype=np.int64, count=len(words))
        rows = np.repeat(np.arange(len(documents)), np.fromiter(map(len, split), dtype=np.int64, count=len(split)))
        found_rows, found_columns = [], []
        if table.unigrams is not None:
            columns = table.unigrams[ids]  # id -1, a word in no term, reads the last entry: -1
            known = columns >= 0
            found_rows.append(rows[known])
            found_columns.append(columns[known])
        if table.pair_codes is not None and len(table.pair_codes):
            first, second = ids[:-1], ids[1:]
            paired = (first >= 0) & (second >= 0) & (rows[:-1] == rows[1:])  # both words known, one document
            codes = first[paired] * len(table.ids) + second[paired]
            at = np.minimum(np.searchsorted(table.pair_codes, codes), len(table.pair_codes) - 1)
            hit = table.pair_codes[at] == codes
            found_rows.append(rows[:-1][paired][hit])
            found_columns.append(table.pair_columns[at[hit]])
        found_rows = np.concatenate(found_rows) if found_rows else np.zeros(0, dtype=np.int64)
        found_columns = np.concatenate(found_columns) if found_columns else np.zeros(0, dtype=np.int64)
        counts = sp.csr_matrix((np.ones(len(found_rows), dtype=self.dtype), (found_rows, found_columns)),
                               shape=(len(documents), len(self.vocabulary_)))
        counts.sum_duplicates()  # merges repeats and sorts the indices, as scikit-learn's matrix is
        return counts

    def _char_wb_counts(self, documents: list[str]) -> sp.csr_matrix:
        cache = self._per_vocabulary("_ngram_index_cache", dict)  # word -> its n-grams' indices
        pieces: list[bytes] = []
        indptr, size = [0], 0
        for document in documents:
            for word in document.split():
                found = cache.get(word)
                if found is None:
                    found = _bounded(cache)[word] = self._word_ngram_indices(word)
                pieces.append(found)
                size += len(found)
            indptr.append(size // 4)  # bytes to int32 entries
        columns = np.frombuffer(b"".join(pieces), dtype=np.int32).copy()  # scipy sorts it in place
        return self._csr_counts(columns, indptr, len(documents))

    def _per_vocabulary(self, key: str, make):
        """What ``make()`` builds from the fitted vocabulary, kept under ``key`` for this process and made
        again after a refit (a word's indices belong to one vocabulary); never pickled."""
        vocabulary, made = self.__dict__.get(key, (None, None))
        if vocabulary is not self.vocabulary_:
            made = make()
            self.__dict__[key] = (self.vocabulary_, made)
        return made

    def _csr_counts(self, columns: np.ndarray, indptr: list[int], documents: int) -> sp.csr_matrix:
        """The count matrix of each document's vocabulary indices (repeats allowed, any order)."""
        counts = sp.csr_matrix((np.ones(len(columns), dtype=self.dtype), columns, np.asarray(indptr, dtype=np.int64)),
                               shape=(documents, len(self.vocabulary_)))
        counts.sum_duplicates()  # merges repeats and sorts the indices, as scikit-learn's matrix is
        return counts

    def _word_ngram_indices(self, word: str) -> bytes:
        """The vocabulary indices of the char_wb n-grams of one word, as packed int32 (compact to cache)."""
        vocabulary, (min_n, max_n) = self.vocabulary_, self.ngram_range
        padded = " " + word + " "
        found = []
        for n in range(min_n, max_n + 1):
            # scikit-learn's _char_wb_ngrams: every n-gram of the padded word; a word shorter than n once
            for offset in range(max(1, len(padded) - n + 1)):
                index = vocabulary.get(padded[offset:offset + n])
                if index is not None:
                    found.append(index)
            if len(padded) <= n:
                break
        return np.asarray(found, dtype=np.int32).tobytes()

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_ngram_index_cache", None)  # per-process caches (_per_vocabulary), not model state
        state.pop("_word_table", None)
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


class _WordTable:
    """A fitted word vectoriser's vocabulary as arrays over word ids, for _word_counts.

    ``ids``: every word of a vocabulary term -> its id; ``unigrams``: id -> the word's own column or -1,
    with one more entry, -1, that id -1 (a word in no term) reads; ``pair_codes``: the bigram terms as
    first id * len(ids) + second id, sorted, with their columns in ``pair_columns``. None for an n-gram
    size outside the vectoriser's range. A term no \\S+ tokens can make (a user's own vocabulary) is left
    out: it never counts, as in scikit-learn.
    """

    def __init__(self, vectoriser: TfidfVectorizer):
        min_n, max_n = vectoriser.ngram_range
        self.ids: dict[str, int] = {}
        unigrams, pairs = [], []
        for term, column in vectoriser.vocabulary_.items():
            words = term.split(" ")
            if not all(words) or len(words) > 2 or words != term.split():
                continue
            ids = [self.ids.setdefault(word, len(self.ids)) for word in words]
            (unigrams if len(ids) == 1 else pairs).append((*ids, column))
        self.unigrams = self.pair_codes = self.pair_columns = None
        if min_n == 1:
            self.unigrams = np.full(len(self.ids) + 1, -1, dtype=np.int64)
            for word_id, column in unigrams:
                self.unigrams[word_id] = column
        if max_n == 2:
            codes = np.array([first * len(self.ids) + second for first, second, _ in pairs], dtype=np.int64)
            order = np.argsort(codes)
            self.pair_codes = codes[order]
            self.pair_columns = np.array([column for *_, column in pairs], dtype=np.int64)[order]


def _as_list(X) -> list:
    """Accept a list, a 1-D array or a one-column 2-D array of strings."""
    if hasattr(X, "ndim") and getattr(X, "ndim", 1) == 2:
        return [row[0] for row in X]
    return list(X)


def _as_text(value) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))
