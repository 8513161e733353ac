"""Retrain with a person's corrections, compare, and swap the model only when they say so.

``retrain`` fits the current model's candidate on the corpus's training split plus the corrected
messages (each weighted ``weight`` times a corpus message), measures the current and the new model on
the same held-out split, and saves the new one beside the current as ``<name>-candidate``. ``promote``
puts the candidate in place and keeps the replaced model as ``<name>-previous`` for ``rollback``.
Nothing here runs unasked: the screen calls ``promote`` only after the person confirms.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from classifier.classify.model import (DEFAULT_MODEL, MANIFEST, check_manifest, load_model, models_dir as bundled_models,
                                       read_manifest, save_model)
from classifier.classify.text import model_input
from classifier.labels import check_label
from classifier.training import corpus as corpus_module
from classifier.training.candidates import build_candidate, fit
from classifier.training.corpus import corpus_hash, grouped_split, load_corpus
from classifier.training.evaluate import before_after_table, evaluate_real, split_metrics, write_reports
from classifier.training.paths import corpus_path, data_home, has_data_home
from classifier.training.train import corpus_inputs

CORRECTION_WEIGHT = 3.0
"""A corrected message counts this many times a corpus message: it is rare, recent and checked by hand."""


class Example(NamedTuple):
    """One corrected message: what the model reads, and the label a person gave it."""

    subject: str
    text: str
    label: str


@dataclass(frozen=True)
class Relearned:
    """What a retrain produced: where the candidate is, and the numbers before and after."""

    folder: Path
    candidate: str
    before: dict
    after: dict
    corrections: int
    agreed_before: int
    """How many corrections the current model already labels as the person did."""
    agreed_after: int
    corpus_changed: bool = False
    """The current model was trained on another version of the corpus: its held-out numbers may include
    messages it was trained on, so "before" can look better than it is."""

    @property
    def table(self) -> str:
        """The before/after table (markdown) that goes with every model change."""
        return before_after_table(self.before, self.after)

    def in_words(self) -> str:
        """The result as a person reads it: how the new model treats their corrections, and how it does
        on messages neither model was trained on."""
        parts = [f"The new model agrees with your corrections {self.agreed_after} of {self.corrections} times "
                 f"(the current one {self.agreed_before})."]
        held_before = (self.before.get("held_out") or {}).get("macro_f1")
        held_after = (self.after.get("held_out") or {}).get("macro_f1")
        if held_before is not None and held_after is not None:
            change = "better" if held_after > held_before + 0.002 else "worse" if held_after < held_before - 0.002 \
                else "about the same"
            parts.append(f"On the held-out messages it scores {held_after:.3f} (macro-F1) against the current "
                         f"model's {held_before:.3f}: {change}.")
        real_before = ((self.before.get("real") or {}).get("test") or {}).get("macro_f1_measured")
        real_after = ((self.after.get("real") or {}).get("test") or {}).get("macro_f1_measured")
        if real_before is not None and real_after is not None:
            parts.append(f"On the real test messages: {real_after:.3f} against {real_before:.3f}.")
        return " ".join(parts)


def _folder(models_dir: Path | None, name: str) -> Path:
    return Path(models_dir or bundled_models()) / name


def candidate_dir(models_dir: Path | None = None, name: str = DEFAULT_MODEL) -> Path:
    return _folder(models_dir, f"{name}-candidate")


def previous_dir(models_dir: Path | None = None, name: str = DEFAULT_MODEL) -> Path:
    return _folder(models_dir, f"{name}-previous")


def retrain(examples: Iterable[Example], *, corpus: Path | None = None, models_dir: Path | None = None,
            name: str = DEFAULT_MODEL, weight: float = CORRECTION_WEIGHT, home: Path | None | str = "environment",
            progress: Callable[[str, float], None] | None = None) -> Relearned:
    """Train the current model's candidate on the training split plus ``examples``; save it as the
    candidate; return the before/after numbers. ``progress(step, fraction)`` reports each step.

    ``corpus`` and ``models_dir`` default to the built corpus and the bundled models; ``home``, the data
    home whose real messages are measured besides the held-out split, to $OUTREACH_DATA_HOME when it is
    set ("environment"); None measures the held-out split only.
    """
    def step(what: str, fraction: float) -> None:
        if progress is not None:
            progress(what, fraction)

    examples = [Example(e.subject, e.text, check_label(e.label)) for e in examples]
    if weight <= 0:
        raise ValueError(f"weight {weight!r} is not allowed; expected a number > 0")
    corpus = Path(corpus or corpus_path())
    if not corpus.is_file():
        raise FileNotFoundError(f"no corpus at {corpus}: build it first (make corpus, with the data home set)")
    if home == "environment":
        home = data_home() if has_data_home() else None
    current = load_model(_folder(models_dir, name))
    candidate = current.manifest["candidate"]

    step("reading the corpus", 0.02)
    dataset = load_corpus(corpus)
    train_part, held_out = grouped_split(dataset)
    x_train, y_train = corpus_inputs(train_part)
    x_held, y_held = corpus_inputs(held_out)
    x_fixed = [model_input(e.subject, e.text) for e in examples]
    y_fixed = [e.label for e in examples]

    step("measuring the current model", 0.05)
    before = _measure(current.pipeline, x_held, y_held, home)
    agreed_before = _agreed(current.pipeline, x_fixed, y_fixed)
    step(f"training {candidate} on {len(x_train)} messages and {len(examples)} corrections", 0.25)
    pipeline = build_candidate(candidate)
    fit(pipeline, x_train + x_fixed, y_train + y_fixed,
        classify__sample_weight=[1.0] * len(x_train) + [float(weight)] * len(x_fixed))
    step("measuring the new model", 0.75)
    after = _measure(pipeline, x_held, y_held, home)
    agreed_after = _agreed(pipeline, x_fixed, y_fixed)

    step("saving the new model", 0.95)
    folder = candidate_dir(models_dir, name)
    if folder.exists():
        shutil.rmtree(folder)
    training = {"n_train": len(x_train), "n_held_out": len(x_held), "folds": corpus_module.HELD_OUT_FOLDS,
                "seed": corpus_module.SPLIT_SEED, "corrections": len(examples), "correction_weight": weight,
                "based_on": current.model_id}
    headline = {"held_out_macro_f1": after["held_out"]["macro_f1"],
                "held_out_log_loss": after["held_out"]["log_loss"]}
    manifest = save_model(pipeline, folder, candidate=candidate, corpus_sha256=corpus_hash(corpus),
                          metrics=headline, training=training)
    write_reports(folder, manifest, after, None, corpus_module.counts(dataset))
    step("done", 1.0)
    return Relearned(folder, candidate, before, after, len(examples), agreed_before, agreed_after,
                     corpus_changed=current.manifest.get("corpus_sha256") != manifest["corpus_sha256"])


def _measure(pipeline, x_held: list[str], y_held: list[str], home: Path | None) -> dict:
    classes = [str(c) for c in pipeline.classes_]
    return {"held_out": split_metrics(pipeline.predict_proba(x_held), classes, y_held),
            "real": evaluate_real(pipeline.predict_proba, classes, home)}


def _agreed(pipeline, texts: list[str], labels: list[str]) -> int:
    if not texts:
        return 0
    return sum(str(p) == label for p, label in zip(pipeline.predict(texts), labels))


def pending(models_dir: Path | None = None, name: str = DEFAULT_MODEL) -> bool:
    """True when there is a candidate that is not the model in use (so promoting it changes something)."""
    source, target = candidate_dir(models_dir, name), _folder(models_dir, name)
    if not (source / MANIFEST).is_file():
        return False
    if not (target / MANIFEST).is_file():
        return True
    return read_manifest(source).get("sha256") != read_manifest(target).get("sha256")


def promote(models_dir: Path | None = None, name: str = DEFAULT_MODEL) -> Path:
    """Put the candidate in place of model ``name``, keeping the replaced one as ``<name>-previous``
    (an older previous is removed). The candidate is checked like any load first; returns the folder.
    Promoting the model already in use is refused: it would overwrite the previous one with a copy."""
    source, target, previous = candidate_dir(models_dir, name), _folder(models_dir, name), previous_dir(models_dir, name)
    check_manifest(source, read_manifest(source))
    if not pending(models_dir, name):
        raise ValueError(f"the candidate in {source} is already the model in use; nothing to promote")
    staged = target.with_name(f"{name}.incoming")
    if staged.exists():
        shutil.rmtree(staged)
    shutil.copytree(source, staged)
    _rename_manifest(staged, name)
    if target.exists():
        if previous.exists():
            shutil.rmtree(previous)
        target.rename(previous)
    staged.rename(target)
    return target


def rollback(models_dir: Path | None = None, name: str = DEFAULT_MODEL) -> Path:
    """Put ``<name>-previous`` back in place of model ``name``; the candidate stays for another try."""
    target, previous = _folder(models_dir, name), previous_dir(models_dir, name)
    if not previous.is_dir():
        raise FileNotFoundError(f"no previous model to roll back to: {previous} does not exist")
    check_manifest(previous, read_manifest(previous))
    if target.exists():
        shutil.rmtree(target)
    previous.rename(target)
    return target


def _rename_manifest(folder: Path, name: str) -> None:
    """The manifest names its folder (it makes the model id); the artifact and its hash are unchanged."""
    path = folder / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["name"] = name
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
