"""Model files: the committed model matches its corpus, and loading refuses anything altered."""

import json
import shutil

import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from classifier.training.corpus import corpus_hash
from classifier.classify.model import (ARTIFACT, DEFAULT_MODEL, MANIFEST, ModelError, load_model, model_dir, sha256_file)


@pytest.fixture()
def model_copy(tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(model_dir(DEFAULT_MODEL), folder)
    return folder


def _edit_manifest(folder, change):
    manifest = json.loads((folder / MANIFEST).read_text())
    change(manifest)
    (folder / MANIFEST).write_text(json.dumps(manifest))


def test_the_committed_model_was_trained_on_the_corpus_the_build_makes(built_corpus):
    manifest = json.loads((model_dir(DEFAULT_MODEL) / MANIFEST).read_text())
    assert manifest["corpus_sha256"] == corpus_hash(built_corpus), (
        "the corpus changed since the model was trained: run `make corpus train` and commit models/")


def test_committed_model_is_small_and_loads():
    folder = model_dir(DEFAULT_MODEL)
    assert (folder / ARTIFACT).stat().st_size <= 25 * 1024 * 1024
    model = load_model(DEFAULT_MODEL)
    assert model.model_id.startswith(f"{DEFAULT_MODEL}@")
    assert len(model.pipeline.predict(["\nwin a free iphone now, click here"])) == 1


def test_an_altered_artifact_is_refused(model_copy):
    artifact = model_copy / ARTIFACT
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="altered"):
        load_model(model_copy)


def test_other_library_versions_are_refused(model_copy):
    _edit_manifest(model_copy, lambda m: m["libraries"].update({"scikit-learn": "0.24.2"}))
    with pytest.raises(ModelError, match="scikit-learn 0.24.2"):
        load_model(model_copy)


def test_other_labels_are_refused(model_copy):
    _edit_manifest(model_copy, lambda m: m.update({"labels": ["spam", "ham"]}))
    with pytest.raises(ModelError, match="labels"):
        load_model(model_copy)


def test_a_missing_manifest_says_how_to_make_one(tmp_path):
    with pytest.raises(ModelError, match="triage train"):
        load_model(tmp_path)


def test_a_file_with_types_outside_the_allowlist_is_refused_even_with_a_matching_hash(model_copy):
    # A model that would call an arbitrary function: its hash is right, but its types are not trusted.
    hostile = Pipeline([("f", FunctionTransformer(print))])
    sio.dump(hostile, model_copy / ARTIFACT)
    _edit_manifest(model_copy, lambda m: m.update({"sha256": sha256_file(model_copy / ARTIFACT)}))
    with pytest.raises(ModelError, match="allowlist"):
        load_model(model_copy)
