"""What the tests share: the model, loaded once, and the public data home, when there is one."""

from __future__ import annotations

import pytest

from classifier import Triage
from classifier.policy import Policy, load_policy
from classifier.training.paths import DATA_HOME_VARIABLE, data_home


@pytest.fixture(scope="session")
def base() -> Triage:
    """The bundled model and the default policy, with no ledger: loaded (hash-checked) once."""
    return Triage.load()


@pytest.fixture(scope="session")
def classifier(base):
    return base.classifier


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="session")
def home():
    """The data home of the public datasets; tests that need it are skipped, with the reason, without it
    (a user's checkout has none; CI and the Makefile set OUTREACH_DATA_HOME when the team's folder is there)."""
    try:
        return data_home()
    except ValueError as error:
        pytest.skip(f"{error} (the public datasets stay outside the repository; {DATA_HOME_VARIABLE} is unset here)")


@pytest.fixture(scope="session")
def built_corpus(home, tmp_path_factory):
    """The corpus as `triage corpus build` makes it from the data home, built once."""
    from classifier.training.corpus import build_corpus, write_corpus
    from classifier.training.paths import project_data

    rows, _ = build_corpus(project_data(), home)
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    write_corpus(rows, path)
    return path
