"""Tokens of a message, as the model reads them: spaCy's blank English tokenizer, lower case, with
placeholders for links, addresses, handles, amounts and numbers.

Everything here is per process and cached (a batch sees the same chunks of text again and again), and
nothing is stored on an estimator, so a model file holds plain data only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from itertools import chain

URL, EMAIL, HANDLE, NUMBER, MONEY = "_url_", "_email_", "_handle_", "_num_", "_money_"
"""Placeholders: a model should learn that a message has a link or an amount, not which one."""

LEXEME_ATTRIBUTES = ("LOWER", "IS_SPACE", "LIKE_URL", "LIKE_EMAIL", "IS_CURRENCY", "LIKE_NUM")
"""What is read of a word: by _normalise_token, and (LOWER) by the signals' phrases."""


@lru_cache(maxsize=1)
def nlp():
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


CACHE_LIMIT = 200_000
"""Entries each per-process cache below keeps before it starts again (a few tens of MB at most)."""


def bounded(cache: dict) -> dict:
    """``cache``, emptied first when it holds CACHE_LIMIT entries (a bound on a per-process cache)."""
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
    return frozenset(nlp().tokenizer.rules)


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
    english, normalised, lowered = nlp(), {}, {}
    specials = _special_cases()
    left = []
    for chunk in chunks:
        if chunk in specials:
            left.append(chunk)
        elif _ONE_TOKEN.fullmatch(chunk):
            lexeme = english.vocab[chunk]
            normalised[chunk] = word = _normalise_token(lexeme)  # the lexeme's attributes, as a token reads them
            lowered[chunk] = word if word == lexeme.lower_ else lexeme.lower_
        elif _WORD_AND_MARK.fullmatch(chunk) and chunk[:-1] not in specials:
            lexemes = (english.vocab[chunk[:-1]], english.vocab[chunk[-1]])
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
        for token in english.tokenizer("\n".join(group)):
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
