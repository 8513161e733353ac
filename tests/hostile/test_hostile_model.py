"""Tampered or malformed models are refused in one line, before anything in them is built (issue 18, item 10)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from classifier.classify.model import ModelError, load_model, models_dir

from cli_run import one_line_error, run_triage


@pytest.fixture
def model_copy(tmp_path) -> Path:
    folder = tmp_path / "outreach"
    shutil.copytree(models_dir() / "outreach", folder)
    return folder


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def _write_manifest(folder: Path, manifest) -> None:
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _tamper_artifact_path(folder: Path) -> None:
    outside = folder.parent / "elsewhere.skops"
    shutil.copy(folder / "model.skops", outside)
    _write_manifest(folder, {**_manifest(folder), "artifact": "../elsewhere.skops"})


def _tamper_absolute_path(folder: Path) -> None:
    outside = folder.parent / "elsewhere.skops"
    shutil.copy(folder / "model.skops", outside)
    _write_manifest(folder, {**_manifest(folder), "artifact": str(outside)})


def _tamper_symlink(folder: Path) -> None:
    outside = folder.parent / "elsewhere.skops"
    shutil.move(folder / "model.skops", outside)
    (folder / "model.skops").symlink_to(outside)


def _tamper_list(folder: Path) -> None:
    _write_manifest(folder, [_manifest(folder)])


def _tamper_libraries(folder: Path) -> None:
    _write_manifest(folder, {**_manifest(folder), "libraries": "scikit-learn 1.9.1"})


def _tamper_not_zip(folder: Path) -> None:
    junk = b"not a zip archive at all, but its hash matches the manifest"
    (folder / "model.skops").write_bytes(junk)
    _write_manifest(folder, {**_manifest(folder), "sha256": hashlib.sha256(junk).hexdigest()})


def _tamper_broken_zip(folder: Path) -> None:
    data = (folder / "model.skops").read_bytes()
    half = data[: len(data) // 2] + data[-200:]  # a zip's end record on a body cut in half
    (folder / "model.skops").write_bytes(half)
    _write_manifest(folder, {**_manifest(folder), "sha256": hashlib.sha256(half).hexdigest()})


def _tamper_nested_json(folder: Path) -> None:
    (folder / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)


def _tamper_no_sha(folder: Path) -> None:
    manifest = _manifest(folder)
    del manifest["sha256"]
    _write_manifest(folder, manifest)


TAMPERED = {
    "artifact outside the folder": (_tamper_artifact_path, "not a file of the model folder"),
    "artifact by absolute path": (_tamper_absolute_path, "not a file of the model folder"),
    "artifact a symbolic link out": (_tamper_symlink, "not a file of the model folder"),
    "manifest a list": (_tamper_list, "expected an object"),
    "libraries a string": (_tamper_libraries, "'libraries' is str"),
    "not a zip, matching hash": (_tamper_not_zip, "not a zip archive"),
    "a broken zip, matching hash": (_tamper_broken_zip, "refusing to load it"),
    "manifest nested too deep": (_tamper_nested_json, "not valid JSON"),
    "no sha256": (_tamper_no_sha, "'sha256' is NoneType"),
}


@pytest.mark.parametrize("name", TAMPERED)
def test_a_tampered_model_is_refused_in_one_line(name, model_copy):
    tamper, words = TAMPERED[name]
    tamper(model_copy)
    with pytest.raises(ModelError, match=words.replace("(", r"\(")):
        load_model(model_copy)
    run = run_triage("classify", "--model", str(model_copy), "Could you share my launch?")
    assert run.returncode == 2 and words in one_line_error(run)
