import numpy as np
import pytest
import pickle

from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks

from classifier.classify.features import AskCues, Normaliser, Zoner
from classifier.classify.tokens import EMAIL, HANDLE, MONEY, NUMBER, URL, normalise_tokens


def test_placeholders_replace_links_addresses_handles_money_and_numbers():
    tokens = normalise_tokens("Hi @sam_b, mail ana@example.org or see https://example.com/x?a=1 for £50 by 2026")
    assert URL in tokens and EMAIL in tokens and HANDLE in tokens and MONEY in tokens and NUMBER in tokens
    assert "hi" in tokens  # lower-cased
    assert not any("example" in t for t in tokens)


def test_normaliser_joins_tokens_with_single_spaces():
    out = Normaliser().fit(["x"]).transform(["Could you  RT this?\n\nThanks!!"])
    assert out == ["could you rt this ? thanks ! !"]


def test_ask_cues_count_request_phrasing_and_links():
    cues = AskCues().fit(["x"])
    normalised = Normaliser().fit(["x"]).transform(
        ["Could you please share this with your readers? https://example.com/launch", "lovely to see you yesterday ."])
    matrix = cues.transform(normalised).toarray()
    names = list(cues.get_feature_names_out())
    ask, chat = matrix
    for cue in ("cue:modal_request", "cue:please_verb", "cue:links", "cue:amplify", "cue:questions"):
        assert ask[names.index(cue)] > 0, cue
        assert chat[names.index(cue)] == 0, cue


def test_zoner_drops_the_quoted_part():
    out = Zoner().fit(["x"]).transform(["Re: pitch\nNo thanks, not for us.\n\nOn Mon, 1 Jun 2026, Bo wrote:\n> buy SEO"])
    assert out == ["Re: pitch\nNo thanks, not for us."]


def test_transformers_accept_a_one_column_array():
    column = np.array([["Could you help?"], ["no"]], dtype=object)
    assert Normaliser().fit(column).transform(column) == ["could you help ?", "no"]


# scikit-learn's common checks feed numeric matrices, so parametrize_with_checks skips estimators that
# take text (as it skips its own CountVectorizer). The API-contract checks below need no input data
# and do run; the data contract is checked by the tests after them.
API_CHECKS = [
    estimator_checks.check_no_attributes_set_in_init,
    estimator_checks.check_parameters_default_constructible,
    estimator_checks.check_get_params_invariance,
    estimator_checks.check_set_params,
    estimator_checks.check_estimator_cloneable,
    estimator_checks.check_estimator_repr,
    estimator_checks.check_mixin_order,
    estimator_checks.check_valid_tag_types,
]
TRANSFORMERS = [Zoner, Normaliser, AskCues]


@pytest.mark.parametrize("make", TRANSFORMERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("check", API_CHECKS, ids=lambda c: c.__name__)
def test_sklearn_api_contract(make, check):
    check(make.__name__, make())


TEXTS = ["Could you RT our launch? https://example.com", "lovely to see you", "", "£5 to sponsor my run x"]


@pytest.mark.parametrize("make", TRANSFORMERS, ids=lambda c: c.__name__)
def test_fit_returns_self_and_transform_needs_fit(make):
    with pytest.raises(NotFittedError):
        make().transform(TEXTS)
    estimator = make()
    assert estimator.fit(TEXTS) is estimator


@pytest.mark.parametrize("make", TRANSFORMERS, ids=lambda c: c.__name__)
def test_output_is_row_aligned_order_invariant_and_survives_clone_and_pickle(make):
    fitted = make().fit(TEXTS)
    out = _rows(fitted.transform(TEXTS))
    assert len(out) == len(TEXTS)
    assert _rows(fitted.transform(TEXTS[::-1])) == out[::-1]
    assert _rows(fitted.transform(TEXTS[1:2])) == out[1:2]
    assert _rows(pickle.loads(pickle.dumps(fitted)).transform(TEXTS)) == out
    assert _rows(clone(fitted).fit(TEXTS).transform(TEXTS)) == out


def _rows(output):
    return [list(row) for row in output.toarray()] if hasattr(output, "toarray") else list(output)


# ---------------------------------------------------------------- the fast paths give the plain ones' output

import random
from functools import lru_cache
import re

import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from classifier.classify import cues as C
from classifier.classify import features as F
from classifier.classify import tokens as T
from classifier.classify.model import load_model
from classifier.classify.text import model_input, zone
from literals import written_messages

def _corpus_texts(n: int = 1500, seed: int = 7) -> list[str]:
    messages = written_messages()
    rows = random.Random(seed).sample(messages, min(n, len(messages)))
    return [zone(model_input(row.get("subject", ""), row["text"])) for row in rows]


TRICKY = ["", "   ", "a\u00a0b\tc\r\nd", "Hi,@sam!!https://x.org/a?b=1...(see)", "e-mail:ana@example.org;",
          "£5,000.00 $3 10% 3rd 2026-11-22", "don't can't I'd we'd y'all U.S.A. etc.", "ΟΔΟΣ Straße İstanbul 東京 🙂🙂",
          "\x00\x07 ctrl", "—“quoted”—", "a" * 300]


@lru_cache(maxsize=1)
def _full_nlp():
    """A blank English pipeline as spaCy makes it, every lexeme attribute computed."""
    import spacy

    return spacy.blank("en")


def _plain_normalise(text: str) -> str:
    """The normaliser without the per-chunk cache or the trimmed lexemes: spaCy over the whole text."""
    words = (T._normalise_token(token) for token in _full_nlp().tokenizer(text))
    return " ".join(w for w in words if w is not None)


def test_cached_normaliser_equals_spacy_over_the_whole_text():
    texts = _corpus_texts() + TRICKY
    T._NORMALISED.clear()
    for text, normalised in zip(texts, T.normalise_texts(texts), strict=True):  # from a cold cache, all at once
        assert normalised == _plain_normalise(text), text[:80]
    for text in _corpus_texts(300, seed=8) + TRICKY:  # one at a time, most chunks known
        assert T.normalise_text(text) == _plain_normalise(text), text[:80]


def test_a_chunks_tokens_never_depend_on_the_other_chunks_in_the_batch():
    # spaCy's special cases reach across one space: "course:) :)finally" splits the second smiley.
    # Chunks tokenised together (a cold cache, one call) must still come out as each does alone.
    T._NORMALISED.clear()
    together = T.normalise_texts(["course:)", ":)finally", "x:)", ":)y", ":(", "re:"])
    alone = [_plain_normalise(chunk) for chunk in ["course:)", ":)finally", "x:)", ":)y", ":(", "re:"]]
    assert together == alone == ["course :)", ":) finally", "x :)", ":) y", ":(", "re :"]
    T._NORMALISED.clear()
    assert T.normalise_texts(["course:) :)finally"]) == ["course :) :) finally"]  # not spaCy's ": )" here
    assert _plain_normalise("course:) :)finally") == "course :) : ) finally"  # the one place they differ


def _spacy_matcher():
    """spaCy's Matcher, given ASK_RULES: the reference the plain-Python rule matching must equal."""
    from spacy.matcher import Matcher

    matcher = Matcher(_full_nlp().vocab)
    for cue, rules in C.ASK_RULES.items():
        patterns = []
        for number, steps in enumerate(rules):
            pattern = []
            for step in steps:
                if step == C.ALPHA:
                    pattern.append({"IS_ALPHA": True})
                elif step == C.OPTIONAL:
                    pattern.append({"OP": "?"})
                else:
                    pattern.append({"LOWER": {"IN": sorted(step)}})
            if (cue, number) in C.SENTENCE_START_RULES:
                pattern[0]["IS_SENT_START"] = True
            patterns.append(pattern)
        matcher.add(cue, patterns)
    return matcher


def _matcher_counts(matcher, words: list[str]) -> dict[str, int]:
    from spacy.tokens import Doc

    vocab = _full_nlp().vocab
    doc = Doc(vocab, words=words, sent_starts=[True] + [False] * (len(words) - 1) if words else None)
    counts: dict[str, int] = {}
    for match_id, _, _ in matcher(doc):
        counts[vocab.strings[match_id]] = counts.get(vocab.strings[match_id], 0) + 1
    return counts


def test_ask_rules_count_what_spacys_matcher_counts_on_the_corpus():
    matcher = _spacy_matcher()
    texts = [T.normalise_text(text) for text in _corpus_texts()]
    assert sum(bool(C.count_rule_matches(t.split())) for t in texts) > 500  # the rules do fire
    for text in texts:
        assert C.count_rule_matches(text.split()) == _matcher_counts(matcher, text.split()), text[:80]


RULE_WORDS = sorted({w for rules in C.ASK_RULES.values() for steps in rules for step in steps
                     if isinstance(step, frozenset) for w in step} | {"Please", "YOU", "x1", "ok", "?", "."})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(RULE_WORDS), max_size=12))
def test_ask_rules_count_what_spacys_matcher_counts_on_dense_sequences(words):
    assert C.count_rule_matches(words) == _matcher_counts(_MATCHER, words)


_MATCHER = _spacy_matcher()


def test_ngram_counts_equal_scikit_learns_for_both_vectorisers():
    union = dict(load_model().pipeline.named_steps["features"].transformer_list)
    assert union["chars"].analyzer == "char_wb" and union["words"].token_pattern == r"\S+"
    # odd whitespace too: the word path splits with str.split, scikit-learn with the pattern \S+
    documents = [T.normalise_text(text) for text in _corpus_texts(800) + TRICKY] + ["a\u2003b\x1cc  d\u3000e", ""]
    for name in ("words", "chars"):
        vectoriser = union[name]
        vectoriser.__dict__.pop("_ngram_index_cache", None)
        for _ in range(2):  # from a cold cache, then a warm one
            _, fast = vectoriser._count_vocab(documents, fixed_vocab=True)
            _, plain = TfidfVectorizer._count_vocab(vectoriser, documents, fixed_vocab=True)
            assert fast.shape == plain.shape and fast.dtype == plain.dtype, name
            assert fast.has_sorted_indices and (fast != plain).nnz == 0, name
            assert sp.isspmatrix_csr(fast)
        assert "_ngram_index_cache" not in vectoriser.__getstate__()  # never saved with the model


def test_whitespace_splitting_is_what_the_word_pattern_finds():
    every_character = "".join(map(chr, range(0x110000)))
    assert re.findall(r"\S+", every_character) == every_character.split()


def test_tfidf_transform_equals_scikit_learns_for_both_vectorisers():
    union = dict(load_model().pipeline.named_steps["features"].transformer_list)
    documents = [T.normalise_text(text) for text in _corpus_texts(600, seed=3) + TRICKY]
    for name in ("words", "chars"):
        vectoriser = union[name]
        with pytest.raises(ValueError):  # no documents: scikit-learn's error, kept
            vectoriser.transform([])
        for batch in (documents, documents[:1]):
            fast = vectoriser.transform(batch)
            plain = TfidfVectorizer.transform(vectoriser, batch)
            assert type(fast) is type(plain) and fast.dtype == plain.dtype and fast.shape == plain.shape, name
            assert fast.has_sorted_indices and (fast != plain).nnz == 0, name


@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 2), (2, 2), (1, 3)])
def test_word_counts_equal_scikit_learns_for_any_ngram_range_and_after_a_refit(ngram_range):
    texts = [T.normalise_text(text) for text in _corpus_texts(300, seed=5)]
    vectoriser = F.CompactTfidfVectorizer(token_pattern=r"\S+", lowercase=False, ngram_range=ngram_range)
    for part in (texts[:150], texts[150:]):  # the second fit makes a new vocabulary: no stale word table
        vectoriser.fit(part)
        documents = texts + ["", "one", "a  b\tc"]
        _, fast = vectoriser._count_vocab(documents, fixed_vocab=True)
        _, plain = TfidfVectorizer._count_vocab(vectoriser, documents, fixed_vocab=True)
        assert fast.shape == plain.shape and fast.has_sorted_indices and (fast != plain).nnz == 0
    assert "_word_table" not in vectoriser.__getstate__()


def test_word_counts_skip_vocabulary_terms_no_tokens_can_make():
    terms = ["a", "b", "a b", "a  b", " a", "b ", "a b c", "x\u2003y", "b a"]
    vectoriser = F.CompactTfidfVectorizer(token_pattern=r"\S+", lowercase=False, ngram_range=(1, 2),
                                          vocabulary=terms).fit(["a"])
    documents = ["a b a b", "b a", "x\u2003y a", "", "c"]
    _, fast = vectoriser._count_vocab(documents, fixed_vocab=True)
    _, plain = TfidfVectorizer._count_vocab(vectoriser, documents, fixed_vocab=True)
    assert (fast != plain).nnz == 0 and fast.toarray()[0].tolist() == [2, 2, 2, 0, 0, 0, 0, 0, 1]


def _tokenizer_words(chunk: str) -> list[str]:
    return [token.text for token in _full_nlp().tokenizer(chunk)]


def test_letters_or_digits_are_one_token_and_a_word_with_a_mark_two_unless_special_cases():
    # What _tokenise_chunks relies on to skip the tokenizer for such chunks.
    specials = set(_full_nlp().tokenizer.rules)
    assert {"gonna", "Im", "cannot", "Mr.", "a.m."} <= specials and T._special_cases() == frozenset(specials)
    chunks = {chunk for text in _corpus_texts(3000, seed=4) for chunk in text.split()} - specials
    alone = {chunk for chunk in chunks if T._ONE_TOKEN.fullmatch(chunk)}
    marked = {chunk for chunk in chunks if T._WORD_AND_MARK.fullmatch(chunk) and chunk[:-1] not in specials}
    assert len(alone) > 3000 and len(marked) > 1000 and any(c.endswith(".") for c in marked)
    assert any(c.isdigit() for c in alone)
    for chunk in sorted(alone):
        assert _tokenizer_words(chunk) == [chunk]
    for chunk in sorted(marked):
        assert _tokenizer_words(chunk) == [chunk[:-1], chunk[-1]]


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?", min_size=1,
               max_size=30))
def test_random_chunks_of_letters_digits_and_marks_tokenise_as_spacy_does(chunk):
    # the shortcuts give what the tokenizer gives, whichever path the chunk takes
    normalised, lowered = T._tokenise_chunks([chunk])
    assert normalised[chunk] == _plain_normalise(chunk)
    assert lowered[chunk] == " ".join(token.lower_ for token in _full_nlp().tokenizer(chunk))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(T._special_cases())), st.sampled_from(["", ",", ".", "!", "?", ":", ";"]))
def test_special_cases_with_or_without_a_mark_tokenise_as_spacy_does(special, mark):
    chunk = special + mark
    if any(ch.isspace() for ch in chunk):
        return  # a chunk never holds whitespace
    normalised, lowered = T._tokenise_chunks([chunk])
    assert normalised[chunk] == _plain_normalise(chunk)
    assert lowered[chunk] == " ".join(token.lower_ for token in _full_nlp().tokenizer(chunk))


def test_char_counts_equal_scikit_learns_after_a_refit():
    # the per-word cache of character n-gram indices belongs to one vocabulary
    vectoriser = F.CompactTfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), lowercase=False)
    documents = ["alpha delta zeta", "beta  theta", ""]
    for corpus in (["alpha beta gamma", "delta epsilon"], ["zeta eta theta alpha", "iota kappa"]):
        vectoriser.fit(corpus)
        _, fast = vectoriser._count_vocab(documents, fixed_vocab=True)
        _, plain = TfidfVectorizer._count_vocab(vectoriser, documents, fixed_vocab=True)
        assert fast.shape == plain.shape and (fast != plain).nnz == 0
    assert "_ngram_index_cache" not in vectoriser.__getstate__()  # (it holds the vocabulary it belongs to)
