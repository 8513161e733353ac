"""Save and load the outreach classifier (candidates are built in training.candidates).

A model is a scikit-learn Pipeline (zoning, normalisation and features inside it) saved with skops,
next to a manifest that records the artifact's sha256, the library versions, the labels and the
corpus it was trained on. Loading checks all of that before any object is built, and builds only
the types on the allowlist below: a model file is data, never code to trust.
"""

from __future__ import annotations

import hashlib
import json
import platform

import zipfile
from importlib import resources
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

from classifier.labels import LABELS

DEFAULT_MODEL = "outreach"
ARTIFACT = "model.skops"
MANIFEST = "manifest.json"

PINNED_LIBRARIES = ("scikit-learn", "skops", "spacy", "numpy", "scipy")
"""A model is refused when any of these differs from the versions it was saved with."""

TRUSTED_TYPES = [
    # The project's own transformers, and the scikit-learn, NumPy and SciPy types a model is built
    # from. skops refuses to build anything else, so a tampered file cannot run code on load.
    "classifier.classify.features.AskCues",
    "classifier.classify.features.CompactTfidfVectorizer",
    "classifier.classify.features.Normaliser",
    "classifier.classify.features.Zoner",
    "builtins.slice",
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "numpy.ndarray",
    "scipy.sparse._csr.csr_matrix",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.naive_bayes.ComplementNB",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.pipeline.Pipeline",
    "sklearn.svm._classes.LinearSVC",
]


class ModelError(Exception):
    """A model file is missing, altered, or was made by other library versions."""


def library_versions() -> dict[str, str]:
    versions = {name: version(name) for name in PINNED_LIBRARIES}
    versions["python"] = platform.python_version()
    return versions


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def models_dir() -> Path:
    """The folder of the models that ship with the package: models/ in a checkout, package data
    (classifier.models) in an installed wheel. Found when asked, not when imported."""
    return Path(str(resources.files("classifier.models")))


def model_dir(name_or_path: str | Path = DEFAULT_MODEL) -> Path:
    """A model name (a folder of models_dir()), or a path to a model folder."""
    path = Path(name_or_path)
    if path.is_dir() or path.is_absolute() or len(path.parts) > 1:
        return path
    return models_dir() / str(name_or_path)


def save_model(pipeline, folder: Path, *, candidate: str, corpus_sha256: str, metrics: dict,
               training: dict) -> dict:
    """Write the skops artifact and its manifest; returns the manifest."""
    import skops.io as sio

    folder.mkdir(parents=True, exist_ok=True)
    artifact = folder / ARTIFACT
    sio.dump(pipeline, artifact, compression=zipfile.ZIP_DEFLATED)
    untrusted = set(sio.get_untrusted_types(file=artifact)) - set(TRUSTED_TYPES)
    if untrusted:
        artifact.unlink()
        raise ModelError(f"the model holds types outside the allowlist: {', '.join(sorted(untrusted))}")
    manifest = {
        "name": folder.name,
        "candidate": candidate,
        "artifact": ARTIFACT,
        "sha256": sha256_file(artifact),
        "size_bytes": artifact.stat().st_size,
        "labels": list(LABELS),
        "libraries": library_versions(),
        "corpus_sha256": corpus_sha256,
        "training": training,
        "metrics": metrics,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


MANIFEST_FIELDS = {"name": str, "artifact": str, "sha256": str, "labels": list, "libraries": dict}
"""What a manifest must hold to be checked at all, with the type each must be."""


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        raise ModelError(f"no model at {folder}: {MANIFEST} is missing (train one with `triage train`)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise ModelError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(manifest, dict):
        raise ModelError(f"{path} holds a JSON {type(manifest).__name__}; expected an object with "
                         f"{', '.join(MANIFEST_FIELDS)}")
    for name, kind in MANIFEST_FIELDS.items():
        if not isinstance(manifest.get(name), kind):
            raise ModelError(f"{path}: {name!r} is {type(manifest.get(name)).__name__}; expected a JSON "
                             f"{ {str: 'string', list: 'array', dict: 'object'}[kind]}")
    return manifest


def check_manifest(folder: Path, manifest: dict) -> Path:
    """Refuse a model whose artifact, labels or library versions do not match its manifest."""
    artifact = folder / manifest["artifact"]
    if artifact.resolve().parent != folder.resolve():
        raise ModelError(f"model artifact {manifest['artifact']!r} is not a file of the model folder {folder}; "
                         "refusing to load it")
    if not artifact.is_file():
        raise ModelError(f"model artifact {artifact} is missing")
    actual = sha256_file(artifact)
    if actual != manifest.get("sha256"):
        raise ModelError(f"model artifact {artifact} has sha256 {actual}, but the manifest says "
                         f"{manifest.get('sha256')}: the file was altered; refusing to load it")
    if manifest.get("labels") != list(LABELS):
        raise ModelError(f"model labels {manifest.get('labels')} differ from this version's {list(LABELS)}")
    installed = library_versions()
    for name in PINNED_LIBRARIES:
        saved = manifest["libraries"].get(name)
        if saved != installed[name]:
            raise ModelError(f"model {folder.name} was saved with {name} {saved}, but {installed[name]} is "
                             f"installed; install the pinned versions (make setup) or retrain (triage train)")
    return artifact


@dataclass(frozen=True)
class LoadedModel:
    pipeline: object
    manifest: dict
    folder: Path

    @property
    def model_id(self) -> str:
        """Name and the first 12 hex digits of the artifact hash, e.g. ``outreach@3f2a9c0d1e4b``."""
        return f"{self.manifest['name']}@{self.manifest['sha256'][:12]}"


def load_model(name_or_path: str | Path = DEFAULT_MODEL) -> LoadedModel:
    """Load a model after checking its hash, labels and library versions against the manifest."""
    import skops.io as sio

    folder = model_dir(name_or_path)
    manifest = read_manifest(folder)
    artifact = check_manifest(folder, manifest)
    if not zipfile.is_zipfile(artifact):
        raise ModelError(f"model artifact {artifact} is not a skops file (not a zip archive); refusing to load it")
    try:
        untrusted = set(sio.get_untrusted_types(file=artifact)) - set(TRUSTED_TYPES)
        if untrusted:
            raise ModelError(f"model {artifact} holds types outside the allowlist: {', '.join(sorted(untrusted))}")
        pipeline = sio.load(artifact, trusted=TRUSTED_TYPES)
    except ModelError:
        raise
    except Exception as error:  # skops reads an archive an attacker may have shaped: any failure is a refusal  # noqa: BLE001
        raise ModelError(f"model artifact {artifact} cannot be read as a model ({type(error).__name__}); "
                         "refusing to load it") from None
    return LoadedModel(pipeline, manifest, folder)
