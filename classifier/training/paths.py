"""Where the training data lives, found when asked (never at import).

- The project's own data (written messages, labels, the sample inbox) is the checkout's ``data/``.
- The public datasets are not in the repository: they are in a **data home**, a folder holding
  ``data/real/`` (the training pool) and ``eval/real/`` (evaluation only), each dataset with its
  SOURCE.md. Commands name it with ``--data-home``, or the OUTREACH_DATA_HOME variable.
- What is built from them (the corpus, its datasets cache) goes to ``data/build/``, which git ignores:
  the corpus holds the public texts, so it is never committed.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_HOME_VARIABLE = "OUTREACH_DATA_HOME"


def data_home(given: str | Path | None = None) -> Path:
    """The data home: ``given`` (--data-home), else $OUTREACH_DATA_HOME; a one-line error when neither
    names a folder that holds data/real/ and eval/real/."""
    value = str(given) if given else os.environ.get(DATA_HOME_VARIABLE, "").strip()
    what = (f"the public datasets: give --data-home DIR or set {DATA_HOME_VARIABLE} to the folder that holds "
            "data/real/ (the training pool) and eval/real/ (evaluation only)")
    if not value:
        raise ValueError(f"this needs {what}")
    home = Path(value).expanduser()
    missing = [part for part in ("data/real", "eval/real") if not (home / part).is_dir()]
    if missing:
        raise ValueError(f"data home {home} has no {' or '.join(missing)}; it must be {what}")
    return home


def has_data_home(given: str | Path | None = None) -> bool:
    try:
        data_home(given)
    except ValueError:
        return False
    return True


def training_pool(home: Path) -> Path:
    return home / "data" / "real"


def eval_pool(home: Path) -> Path:
    return home / "eval" / "real"


def checkout() -> Path:
    """The checkout this package runs from (the folder above classifier/)."""
    return Path(__file__).resolve().parents[2]


def project_data() -> Path:
    """The checkout's data/ folder: written messages, labels, the sample inbox."""
    folder = checkout() / "data"
    if not (folder / "written").is_dir():
        raise ValueError(f"no project data at {folder}: building the corpus and training run in a checkout of "
                         "outreach-triage (its data/written and data/labels folders)")
    return folder


def build_dir() -> Path:
    """data/build/ in the checkout: what is built from the public data (git ignores it)."""
    return checkout() / "data" / "build"


def corpus_path() -> Path:
    """Where `triage corpus build` writes the corpus, and training reads it."""
    return build_dir() / "corpus.jsonl"
