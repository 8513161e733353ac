"""Retraining with corrections, promoting and rolling back: on a tiny corpus, in temporary folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifier.classify.model import ModelError, load_model, models_dir, read_manifest
from classifier.training import relearn
from classifier.training.relearn import Example
from tiny_corpus import save_tiny_model, write_corpus

# A friend's ask in a pitch's words: the tiny model calls it cold_pitch; the person says friend_favour.
CORRECTED = Example("", "Hey mate, could you share my new book with your readers? It is out Tuesday.", "friend_favour")


@pytest.fixture()
def setup(tmp_path):
    corpus = write_corpus(tmp_path / "corpus.jsonl")
    models = tmp_path / "models"
    save_tiny_model(corpus, models / "outreach")
    return corpus, models, None  # no data home: the held-out split only


def _sha(folder: Path) -> str:
    return read_manifest(folder)["sha256"]


def test_retrain_saves_a_candidate_measured_against_the_current_model(setup):
    corpus, models, eval_dir = setup
    real_manifest = (models_dir() / "outreach" / "manifest.json").read_bytes() if (models_dir() / "outreach").is_dir() else None
    steps = []
    result = relearn.retrain([CORRECTED], corpus=corpus, models_dir=models, home=eval_dir, weight=30,
                             progress=lambda what, done: steps.append(done))

    assert result.folder == models / "outreach-candidate"
    manifest = read_manifest(result.folder)
    assert manifest["candidate"] == "logreg"  # the current model's candidate, read from its manifest
    assert manifest["training"]["corrections"] == 1 and manifest["training"]["correction_weight"] == 30
    assert load_model(result.folder).pipeline is not None  # hash-checked like any model
    assert (result.folder / "README.md").is_file() and (result.folder / "metrics.json").is_file()
    # Both models measured on the same held-out split.
    assert result.before["held_out"]["n"] == result.after["held_out"]["n"] > 0
    assert "| held-out macro-F1 |" in result.table
    # The correction taught the model: the current one disagrees with the person, the new one agrees.
    assert (result.agreed_before, result.agreed_after) == (0, 1)
    assert steps == sorted(steps) and steps[-1] == 1.0
    assert result.corpus_changed is False  # the tiny model was trained on this very corpus
    # The model in use is untouched, here and in the project.
    assert _sha(models / "outreach") != manifest["sha256"]
    if real_manifest is not None:
        assert (models_dir() / "outreach" / "manifest.json").read_bytes() == real_manifest


def test_the_weight_is_what_makes_a_single_correction_count(setup):
    corpus, models, eval_dir = setup
    light = relearn.retrain([CORRECTED], corpus=corpus, models_dir=models, home=eval_dir, weight=0.01)
    heavy = relearn.retrain([CORRECTED], corpus=corpus, models_dir=models, home=eval_dir, weight=30)
    assert (light.agreed_after, heavy.agreed_after) == (0, 1)


def test_retrain_refuses_bad_input(setup):
    corpus, models, eval_dir = setup
    with pytest.raises(ValueError, match="unknown label 'pitch'"):
        relearn.retrain([Example("", "text", "pitch")], corpus=corpus, models_dir=models, home=eval_dir)
    with pytest.raises(ValueError, match="weight"):
        relearn.retrain([CORRECTED], corpus=corpus, models_dir=models, home=eval_dir, weight=0)
    assert not relearn.candidate_dir(models).exists()


def test_promote_then_rollback(setup):
    corpus, models, eval_dir = setup
    original = _sha(models / "outreach")
    assert not relearn.pending(models)
    candidate = _sha(relearn.retrain([CORRECTED], corpus=corpus, models_dir=models, home=eval_dir).folder)
    assert relearn.pending(models)

    relearn.promote(models)
    assert _sha(models / "outreach") == candidate
    assert read_manifest(models / "outreach")["name"] == "outreach"  # the model id names the folder in use
    assert load_model(models / "outreach").model_id == f"outreach@{candidate[:12]}"
    assert _sha(models / "outreach-previous") == original
    assert not relearn.pending(models)
    with pytest.raises(ValueError, match="already the model in use"):
        relearn.promote(models)  # a second click must not overwrite the previous model with a copy
    assert _sha(models / "outreach-previous") == original

    relearn.rollback(models)
    assert _sha(models / "outreach") == original
    assert not (models / "outreach-previous").exists()
    assert relearn.pending(models)  # the candidate is still there for another try
    with pytest.raises(FileNotFoundError, match="no previous model"):
        relearn.rollback(models)


def test_promote_refuses_an_altered_candidate(setup):
    corpus, models, eval_dir = setup
    original = _sha(models / "outreach")
    folder = relearn.retrain([CORRECTED], corpus=corpus, models_dir=models, home=eval_dir).folder
    with open(folder / "model.skops", "ab") as f:
        f.write(b"tampered")
    with pytest.raises(ModelError, match="altered"):
        relearn.promote(models)
    assert _sha(models / "outreach") == original and not (models / "outreach-previous").exists()


def test_promote_keeps_only_one_previous(setup):
    corpus, models, eval_dir = setup
    first = _sha(models / "outreach")
    relearn.retrain([CORRECTED], corpus=corpus, models_dir=models, home=eval_dir, weight=30)
    relearn.promote(models)
    second = _sha(models / "outreach")
    relearn.retrain([CORRECTED._replace(label="spam")], corpus=corpus, models_dir=models, home=eval_dir, weight=30)
    relearn.promote(models)
    assert _sha(models / "outreach-previous") == second != first
    assert json.loads((models / "outreach" / "manifest.json").read_text())["training"]["based_on"].startswith("outreach@")


def test_retrain_says_when_the_current_model_saw_another_corpus(setup, tmp_path):
    corpus, models, eval_dir = setup
    grown = tmp_path / "grown.jsonl"
    grown.write_text(corpus.read_text(encoding="utf-8") + json.dumps(
        {"id": "extra", "text": "Thanks for the chat yesterday!", "subject": "", "channel": "email",
         "label": "no_ask", "source": "test", "group": "extra"}) + "\n", encoding="utf-8")
    assert relearn.retrain([], corpus=grown, models_dir=models, home=eval_dir).corpus_changed is True
