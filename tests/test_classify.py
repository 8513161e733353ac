"""`triage classify` and the Python API on plain examples of each label."""

import json

import pytest

from classifier.frontends.cli import main
from classifier.labels import LABELS, check_action, check_label


PLAIN = {
    "cold_pitch": ("Exclusive for your readers: our new budgeting app",
                   "Hi, I'm the PR lead at Finly. We're launching our budgeting app next week and I'd love to "
                   "offer you an exclusive first look and an interview with our CEO for your newsletter. "
                   "Would you be interested in covering it?"),
    "charity_ask": ("Sponsor my marathon for the children's hospice",
                    "I'm running the London marathon in April to raise money for the children's hospice that "
                    "cared for my nephew. Every pound helps, could you donate to my fundraising page?"),
    "friend_favour": ("", "hey! any chance you could give me a lift to the airport on saturday morning? my "
                          "flight's at 9 and the trains are off. I'll buy you breakfast x"),
    "spam": ("", "CONGRATULATIONS! You have won a £1000 gift card. Click here to claim your prize now before "
                 "it expires: http://win-prize.example.com"),
    "no_ask": ("Thanks for last night", "Thanks so much for dinner last night, it was lovely to catch up "
                                        "and the kids haven't stopped talking about your dog. See you soon!"),
}


@pytest.mark.parametrize("label", LABELS)
def test_cli_classify_gives_the_right_label_for_a_plain_example(label, capsys):
    subject, text = PLAIN[label]
    assert main(["classify", text, "--subject", subject, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["label"] == label
    assert set(result["probabilities"]) == set(LABELS)


def test_probabilities_sum_to_one_and_the_label_is_the_most_likely(classifier):
    result = classifier.classify(PLAIN["charity_ask"][1], subject=PLAIN["charity_ask"][0])
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert result.label == max(result.probabilities, key=result.probabilities.get)


def test_the_words_that_drove_the_label_come_from_the_text(classifier):
    subject, text = PLAIN["charity_ask"]
    result = classifier.classify(text, subject=subject)
    assert result.top_features
    words = " ".join(f["feature"] for f in result.top_features)
    assert any(w in words for w in ("donate", "raise", "hospice", "fundraising", "marathon", "pound"))
    assert all(f["weight"] > 0 for f in result.top_features)


def test_classify_many_matches_classify_one_at_a_time(classifier):
    from classifier.classify.text import model_input

    inputs = [model_input(s, t) for s, t in PLAIN.values()]
    together = [c.label for c in classifier.classify_many(inputs)]
    alone = [classifier.classify(t, subject=s).label for s, t in PLAIN.values()]
    assert together == alone


def test_the_text_view_prints_the_label_and_a_bar_per_label(capsys):
    assert main(["classify", PLAIN["spam"][1]]) == 0
    out = capsys.readouterr().out
    assert out.startswith("label: spam")
    assert all(label in out for label in LABELS)


def test_an_unknown_model_is_a_one_line_error_with_exit_2(capsys, tmp_path):
    assert main(["classify", "hello", "--model", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("triage: ") and err.count("\n") == 1


def test_errors_name_the_bad_value_and_the_allowed_ones():
    with pytest.raises(ValueError, match=r"'pitch'.*cold_pitch, charity_ask, friend_favour, spam, no_ask"):
        check_label("pitch")
    with pytest.raises(ValueError, match=r"'maybe'.*accept, educate, decline, none"):
        check_action("maybe")


def test_an_unknown_candidate_names_the_allowed_ones():
    from classifier.training.candidates import build_candidate

    with pytest.raises(ValueError, match="'bert'.*logreg"):
        build_candidate("bert")


def test_to_dict_holds_every_field_and_copies_them():
    from dataclasses import asdict

    from classifier.results import Assessment, Classification

    classification = Classification("spam", {"spam": 0.9, "no_ask": 0.1}, [{"feature": "win", "weight": 1.0}], "m@1")
    assert classification.to_dict() == asdict(classification)
    assessment = Assessment(id="<1@x>", sender="a@x.org", date=None, subject="s", label="spam",
                            probabilities={"spam": 0.9}, action="decline", reasons=["r"], needs_review=False,
                            standing={"balance": 0.0}, reply=None, top_features=[{"feature": "win", "weight": 1.0}],
                            model_id="m@1", origin="f#1", flags=["html_only"])
    row = assessment.to_dict()
    assert row == asdict(assessment)
    row["reasons"].append("changed")
    row["top_features"][0]["weight"] = 0
    assert assessment.reasons == ["r"] and assessment.top_features[0]["weight"] == 1.0


def test_features_walked_step_by_step_equal_the_pipelines():
    from classifier.classify.predict import Classifier
    from classifier.classify.text import model_input

    classifier = Classifier.load()
    inputs = [model_input("Quick favour?", "Could you share my launch with your readers? https://x.org"),
              model_input("", "lovely to see you yesterday"), model_input("WIN", "£1000 prize, call 0800 now!!")]
    for batch in (inputs, inputs[:1]):
        walked = classifier._featurise(batch)
        plain = classifier._features.transform(batch).tocsr()
        assert walked.shape == plain.shape and walked.dtype == plain.dtype and (walked != plain).nnz == 0
