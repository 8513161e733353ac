"""Prototype: the model's feature steps, computed faster with identical output (no retraining).

Not used by the package. bench/proto/check.py verifies the outputs against the package's own steps;
bench/proto/fast_score.py runs ``triage score`` with these patched in, to measure the gain end to end.

1. ``normalise_tokens``: spaCy's tokenizer as before, but instead of creating a ``Token`` object per
   token and reading six attributes from it, map each token's lexeme id (``doc.to_array(ORTH)``) through a
   cache to its normalised word. Every attribute used (is_space, lower_, like_url, like_email,
   is_currency, like_num) is a lexeme attribute, so the result is the same for the same orth.
2. char_wb TF-IDF: the n-grams of ``char_wb`` are generated word by word (" w "), so the vocabulary
   indices of a word's n-grams are cached per word; a document's counts are the concatenation of its
   words' index lists, summed by scipy. Same counts, same TfidfTransformer afterwards.
3. ``AskCues``: the four spaCy Matcher rules written out over the word list (the Doc was built from
   those words, one sentence start, so every predicate is a plain string test). Same counts,
   checked on every text by check.py.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from classifier import features as F

def clear_caches() -> None:
    """Forget every cached word, chunk and n-gram list (for fair repeated timings)."""
    _NORMALISED.clear()
    _CHUNKS.clear()
    for cache in _CHAR_CACHES.values():
        cache.words.clear()


# ---------------------------------------------------------------- 1. normaliser

_NORMALISED: dict[int, str | None] = {}
_CACHE_LIMIT = 500_000


def _normalise_lexeme(lex) -> str | None:
    if lex.is_space:
        return None
    word = lex.lower_
    if lex.like_url:
        return F.URL
    if lex.like_email:
        return F.EMAIL
    if word.startswith("@") and len(word) > 1:
        return F.HANDLE
    if lex.is_currency:
        return F.MONEY
    if lex.like_num or word.isdigit():
        return F.NUMBER
    return word


def normalise_tokens(text: str) -> list[str]:
    from spacy.attrs import ORTH

    nlp = F._nlp()
    doc = nlp.tokenizer(text)
    if len(_NORMALISED) > _CACHE_LIMIT:
        _NORMALISED.clear()
    out = []
    vocab = nlp.vocab
    cache = _NORMALISED
    for orth in doc.to_array(ORTH).tolist():
        try:
            word = cache[orth]
        except KeyError:
            word = cache[orth] = _normalise_lexeme(vocab[orth])
        if word is not None:
            out.append(word)
    return out


_CHUNKS: dict[str, list[str]] = {}


def normalise_tokens_chunked(text: str) -> list[str]:
    """Like normalise_tokens, one whitespace-separated chunk at a time, each chunk's words cached.

    spaCy's tokenizer splits on whitespace first and then works inside each chunk (prefixes, suffixes,
    infixes, special cases), so a chunk's tokens do not depend on its neighbours; a chunk seen before
    ("the", "you", "please,") costs one dict lookup. check.py verifies the claim on every text.
    """
    chunks = _CHUNKS
    if len(chunks) > _CACHE_LIMIT:
        chunks.clear()
    out: list[str] = []
    for chunk in text.split():
        words = chunks.get(chunk)
        if words is None:
            words = chunks[chunk] = normalise_tokens(chunk)
        out.extend(words)
    return out


# ---------------------------------------------------------------- 2. char_wb TF-IDF


class CharIndexCache:
    """word -> vocabulary indices of its char_wb n-grams, for one fitted vectoriser."""

    def __init__(self, vectorizer):
        self.vectorizer = vectorizer
        self.vocabulary = vectorizer.vocabulary_
        self.min_n, self.max_n = vectorizer.ngram_range
        self.words: dict[str, list[int]] = {}

    def indices(self, word: str) -> list[int]:
        vocabulary, w = self.vocabulary, " " + word + " "
        w_len, found = len(w), []
        for n in range(self.min_n, self.max_n + 1):
            offset = 0
            index = vocabulary.get(w[offset: offset + n])
            if index is not None:
                found.append(index)
            while offset + n < w_len:
                offset += 1
                index = vocabulary.get(w[offset: offset + n])
                if index is not None:
                    found.append(index)
            if offset == 0:  # a word shorter than n is counted once (sklearn does the same)
                break
        return found

    def counts(self, documents: list[str]) -> sp.csr_matrix:
        words = self.words
        if len(words) > _CACHE_LIMIT:
            words.clear()
        columns: list[int] = []
        indptr = [0]
        for document in documents:
            for word in document.split():
                found = words.get(word)
                if found is None:
                    found = words[word] = self.indices(word)
                columns.extend(found)
            indptr.append(len(columns))
        indptr_array = np.asarray(indptr, dtype=np.int64)
        data = np.ones(len(columns), dtype=self.vectorizer.dtype)
        matrix = sp.csr_matrix((data, np.asarray(columns, dtype=np.int64), indptr_array),
                               shape=(len(documents), len(self.vocabulary)))
        matrix.sum_duplicates()  # also sorts the indices, as sklearn's _count_vocab does
        return matrix

    def transform(self, documents) -> sp.csr_matrix:
        return self.vectorizer._tfidf.transform(self.counts(list(documents)), copy=False)


_CHAR_CACHES: dict[int, CharIndexCache] = {}


def char_transform(vectorizer, documents):
    cache = _CHAR_CACHES.get(id(vectorizer))
    if cache is None:
        cache = _CHAR_CACHES[id(vectorizer)] = CharIndexCache(vectorizer)
    return cache.transform(documents)


# ---------------------------------------------------------------- 3. ask cues

_MODAL_1 = {"can", "could", "would", "will", "cn", "cud", "wud"}
_YOU = {"you", "u", "ya"}
_MODAL_2A, _MODAL_2C = {"would", "do"}, {"mind", "be", "think", "consider"}
_I_WE, _WAS = {"i", "we"}, {"was", "were", "am", "are"}
_ID, _WOULD_WHAT = {"i'd", "we'd"}, {"love", "appreciate", "be"}
_FAVOUR = {"favour", "favor"}
_PLEASE = {"please", "pls", "plz", "kindly", "pleeease", "plss"}
_IMPERATIVE = set(F._IMPERATIVE_VERBS)
_PUNCT = {".", "!", "?", ":", "-"}
_AMPLIFY = {"share", "retweet", "rt", "promote", "feature", "review", "cover", "mention", "amplify", "boost",
            "repost", "post", "spread", "shout"}
_AMPLIFY_WHAT = {"this", "it", "my", "our", "the", "out", "word"}


def cue_counts(words: list[str]) -> dict[str, float]:
    """The AskCues counts for one normalised word list, without spaCy."""
    n = len(words)
    # spaCy's LOWER of a token is its lower-cased text; the normaliser already lower-cased every word,
    # but placeholders and odd Unicode are lower-cased again here to be exact.
    low = [w.lower() for w in words]
    modal = please = imperative = amplify = 0
    for i, w in enumerate(low):
        nxt = low[i + 1] if i + 1 < n else None
        if w in _MODAL_1 and nxt in _YOU:
            modal += 1
        if w in _MODAL_2A and nxt in _YOU and i + 2 < n and low[i + 2] in _MODAL_2C:
            modal += 1
        if w == "any" and nxt == "chance":
            modal += 1
        if w in _I_WE and nxt in _WAS and i + 2 < n and low[i + 2] == "wondering":
            modal += 1
        if w in _ID and nxt == "love":
            modal += 1
        if w in _I_WE and nxt == "would" and i + 2 < n and low[i + 2] in _WOULD_WHAT:
            modal += 1
        if w == "let" and nxt == "me" and i + 2 < n and low[i + 2] == "know":
            modal += 1
        if w in _FAVOUR:
            modal += 1
        if w in _PLEASE and nxt is not None and words[i + 1].isalpha():
            please += 1
        if i == 0 and w in _IMPERATIVE:
            imperative += 1
        if words[i] in _PUNCT and nxt in _IMPERATIVE:
            imperative += 1
        if w in _AMPLIFY:
            if nxt in _AMPLIFY_WHAT:
                amplify += 1
            if i + 2 < n and low[i + 2] in _AMPLIFY_WHAT:
                amplify += 1
    counts = {"links": 0.0, "second_person": 0.0, "questions": 0.0, "modal_request": float(modal),
              "please_verb": float(please), "imperative": float(imperative), "amplify": float(amplify),
              "money": 0.0, "length": 0.0}
    for word in words:
        if word == F.URL:
            counts["links"] += 1
        elif word == F.MONEY:
            counts["money"] += 1
        elif word == "?":
            counts["questions"] += 1
        elif word in F._SECOND_PERSON:
            counts["second_person"] += 1
    counts["length"] = n / 10
    return counts


def cues_transform(documents) -> sp.csr_matrix:
    rows = []
    for text in F._as_list(documents):
        counts = cue_counts(F._as_text(text).split())
        rows.append([counts[cue] for cue in F.AskCues.CUES])
    return sp.csr_matrix(np.log1p(np.asarray(rows, dtype=np.float64).reshape(-1, len(F.AskCues.CUES))))
