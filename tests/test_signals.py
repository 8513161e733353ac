"""The export's relationship signals: the phrase search must find what spaCy's PhraseMatcher finds."""

from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.classify import tokens as F
from classifier.classify import signals
from classifier.classify.text import author_zone
from literals import written_messages

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "inbox.mbox"


@lru_cache(maxsize=1)
def _reference():
    """spaCy's PhraseMatcher on LOWER over a Doc of the text, with every phrase: the reference."""
    import spacy
    from spacy.matcher import PhraseMatcher

    nlp = spacy.blank("en")
    matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
    matcher.add("declined", [nlp.make_doc(p) for p in signals.DECLINE_PHRASES])
    matcher.add("granted", [nlp.make_doc(p) for p in signals.GRANT_PHRASES])
    for kind, phrases in signals.DEPOSIT_PHRASES.items():
        matcher.add(kind, [nlp.make_doc(p) for p in phrases])
    return nlp, matcher


def _reference_found(text: str) -> set[str]:
    nlp, matcher = _reference()
    doc = nlp.make_doc(author_zone(text)[:1500])
    return {nlp.vocab.strings[match_id] for match_id, _, _ in matcher(doc)}


TRICKY = [
    "No thanks", "no  thanks", "no\nthanks", "no \n thanks", "NO, THANKS!", "No,thanks", "not one for me",
    "not 1 for me", "I'll pass.", "I’ll pass", "i'llpass", "happy to\thelp", "Happy to help!!", "sure", "Sure?",
    "unsure", "cc'ing Ana", "CC'ing", "you two should\u00a0meet", "you two should meet", "  done  ", "done.",
    "abandoned", "Absolutely.\n\n> no thanks", "On Mon, Ana wrote:\n> no thanks", "please remove me.", "",
    "take me off your list", "take  me off", "i've attached the data: https://x.org/a.csv",
]


def _texts() -> list[str]:
    return [row["text"] for row in random.Random(11).sample(written_messages(), 2000)] + TRICKY


def test_phrase_search_finds_what_spacys_phrase_matcher_finds():
    texts = _texts()
    assert sum(bool(_reference_found(t)) for t in texts) > 200  # the phrases do occur
    for warm in (False, True):  # from a cold token cache, then a warm one
        if not warm:
            F._NORMALISED.clear()
        for text in texts:
            assert signals._found(text) == _reference_found(text), text[:120]


WORDS = ["no", "No", "thanks", "not", "one", "1", "for", "me", "i'll", "I’ll", "pass", "happy", "to", "sure",
         "done", ",", ".", "cc'ing", "put", "you", "in", "touch", "!", "x"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from([" ", "  ", "\n", " \n", "\t", ""])),
                max_size=10))
def test_phrase_search_matches_the_reference_on_dense_text(pieces):
    text = "".join(word + space for word, space in pieces)
    assert signals._found(text) == _reference_found(text)


def test_lowered_runs_are_spacys_tokens_between_whitespace_tokens():
    nlp, _ = _reference()
    text = "Hi  Ana,\nI'll SHARE it:\thttps://x.org/a  \n\n— £5, 3rd (see)"
    runs, run = [], []
    for token in nlp.make_doc(text):
        if token.is_space:
            runs.append(run)
            run = []
        else:
            run.append(token.lower_)
    runs.append(run)
    assert F.lowered_runs(text) == " \n ".join(" ".join(r) for r in runs if r)
    assert F.lowered_runs(text) == "hi \n ana , \n i 'll share it : \n https://x.org/a \n — £ 5 , 3rd ( see )"


@pytest.mark.parametrize("reply, intent", [
    ("Thanks for thinking of me, but I'll pass on this one.", "declined"),
    ("Happy to help, but I'm afraid I can't this month.", "declined"),  # a refusal wins
    ("Of course! Send it over.", "granted"),
    ("Let me think about it.", None),
])
def test_answer_intent(reply, intent):
    assert signals.answer_intent(reply) == intent


@pytest.mark.parametrize("body, kind", [
    ("Ana, meet my friend Joe: you two should meet.", "introduced"),
    ("I shared your piece with my team this morning.", "shared"),
    ("Lovely to see you last week!", "engaged"),
])
def test_deposit_kind(body, kind):
    assert signals.deposit_kind(body) == kind
