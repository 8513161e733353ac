import re

from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.classify import text as text_module
from classifier.classify.text import author_zone, clean, model_input, zone


def test_quoted_reply_is_cut_at_the_on_wrote_line():
    body = ("Any thoughts on the below?\n\nOn Tue, 3 Mar 2026 at 10:02, Ana Lopes <ana@example.com> wrote:\n"
            "> We would love you to review our app\n> Thanks")
    assert author_zone(body) == "Any thoughts on the below?"


def test_two_line_reply_header_is_recognised():
    body = "Sounds good, see you then.\n\nOn Tue, 3 Mar 2026 at 10:02, Ana Lopes\n<ana@example.com> wrote:\n> old text"
    assert author_zone(body) == "Sounds good, see you then."


def test_outlook_original_message_and_signature_are_dropped():
    body = ("Could you send me the deck before Friday please?\n-- \nTom Reyes\nHead of Growth\n"
            "-----Original Message-----\nFrom: someone\nSent: Monday\nold stuff")
    assert author_zone(body) == "Could you send me the deck before Friday please?"


def test_phone_footer_and_confidentiality_notice_are_dropped():
    body = ("Happy to chat next week about it.\nSent from my iPhone\n")
    assert author_zone(body) == "Happy to chat next week about it."
    body = ("We are launching a new app for landlords and would value coverage.\n\n"
            "This email and any attachments are confidential and intended solely for the addressee.")
    assert "confidential" not in author_zone(body)


def test_lines_quoted_inline_are_removed_but_the_authors_lines_stay():
    body = "> can you pick me up?\nyes, at 6\n> and bring the charger\nsure thing mate"
    assert author_zone(body) == "yes, at 6\nsure thing mate"


def test_a_bare_forward_keeps_the_forwarded_text():
    body = "see below\n\n---------- Forwarded message ---------\nFrom: Jo\n\nCould you introduce me to your editor?"
    zoned = author_zone(body)
    assert "introduce me to your editor" in zoned


def test_clean_unescapes_entities_and_strips_tags_and_controls():
    assert clean("Tom &amp; Jerry<br />are\x00 here\ufeff") == "Tom & Jerry are here"


def test_model_input_keeps_subject_on_one_line_and_zone_cleans_both():
    text = model_input("Hello\r\nX-Injected: yes", "body &amp; more")
    subject, _, body = text.partition("\n")
    assert "\n" not in subject and "\r" not in subject
    assert zone(text) == "Hello X-Injected: yes\nbody & more"


def test_zone_caps_a_huge_body():
    text = model_input("", "word " * 200_000)
    assert len(zone(text)) < 10_000


_SPACE_RUN = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", "b", " ", "\t", "\n", "\u00a0", "\u2003", "\u200b", "\u3000", "é"])))
def test_clean_collapses_space_runs_as_one_substitution_per_run_would(text):
    # clean() leaves a lone plain space unmatched; collapsing every run, lone spaces too, is the reference
    assert text_module._SPACES.sub(" ", text) == _SPACE_RUN.sub(" ", text)
