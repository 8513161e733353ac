"""The estimators inside the model's Pipeline, so training and serving cannot drift: zoning,
tokens (classify.tokens), ask cues (classify.cues) and the TF-IDF vectoriser.

Each keeps scikit-learn's estimator contract: ``__init__`` only stores parameters, ``fit`` returns
``self``. The spaCy objects are built once per process and never stored on an estimator, so a model
file holds plain data only.
"""

from __future__ import annotations

from itertools import chain, repeat

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2
from sklearn.utils.validation import check_is_fitted

from classifier.classify.cues import GENRE_RULES, GENRES, SECOND_PERSON, count_rule_matches, sentence_asks
from classifier.classify.text import zone
from classifier.classify.tokens import MONEY, URL, bounded, normalise_texts

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
        return [zone(as_text(x)) for x in as_list(X)]


class Normaliser(_TextTransformer):
    """Text to a space-joined string of normalised tokens, so vectorisers split on spaces only."""

    def transform(self, X):
        check_is_fitted(self, "n_features_in_")
        return normalise_texts([as_text(x) for x in as_list(X)])


class AskCues(_TextTransformer):
    """Structural cues of asking, read from normalised text with the rules of classify.cues.

    Columns: links, second person, questions, request phrasings, "please"+verb, imperatives,
    amplification asks, amounts of money, length; with ``sentences``, the strongest sentence's request
    phrasings, how many sentences ask, whether the last two do, and how many sentences there are (the
    ask is often one sentence of a long message); with ``genres``, the genre words of cues.GENRE_RULES
    (an agency's client, coverage, samples, a follow-up bump, a meeting, a link offer, a cause, a bulk
    mailing, a scam, an errand). Counts are log-scaled so that one long message cannot outweigh its words.
    """

    CUES = ("links", "second_person", "questions", "modal_request", "please_verb", "imperative",
            "amplify", "money", "length")
    SENTENCE_CUES = ("strongest_sentence", "asking_sentences", "ask_at_end", "sentences")
    sentences = genres = False  # a model saved before these parameters existed reads as without them

    def __init__(self, sentences: bool = False, genres: bool = False):
        self.sentences = sentences
        self.genres = genres

    def _columns(self) -> tuple[str, ...]:
        return (self.CUES + (self.SENTENCE_CUES if self.sentences else ())
                + (tuple(GENRE_RULES) if self.genres else ()))

    def transform(self, X):
        check_is_fitted(self, "n_features_in_")
        columns = self._columns()
        rows = []
        for text in as_list(X):
            words = as_text(text).split()
            counts = dict.fromkeys(columns, 0.0)
            for cue, n in count_rule_matches(words).items():
                counts[cue] += n
            for word in words:
                if word == URL:
                    counts["links"] += 1
                elif word == MONEY:
                    counts["money"] += 1
                elif word == "?":
                    counts["questions"] += 1
                elif word in SECOND_PERSON:
                    counts["second_person"] += 1
            counts["length"] = len(words) / 10
            if self.sentences:
                counts.update(zip(self.SENTENCE_CUES, sentence_asks(words)))
            if self.genres:
                counts.update(GENRES.count(words))
            rows.append([counts[cue] for cue in columns])
        return sp.csr_matrix(np.log1p(np.asarray(rows, dtype=np.float64).reshape(-1, len(columns))))

    def get_feature_names_out(self, input_features=None):
        return np.asarray([f"cue:{cue}" for cue in self._columns()], dtype=object)


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
                    found = bounded(cache)[word] = self._word_ngram_indices(word)
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


def as_list(X) -> list:
    """Accept a list, a 1-D array or a one-column 2-D array of strings."""
    if hasattr(X, "ndim") and getattr(X, "ndim", 1) == 2:
        return [row[0] for row in X]
    return list(X)


def as_text(value) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))
