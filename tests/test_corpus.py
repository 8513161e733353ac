"""The corpus: size, balance, sources, duplicates, and no evaluation text inside."""

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from classifier.corpus import (CORPUS_PATH, DATA_DIR, FIELDS, NEAR_DUPLICATE, _similarity_graph, dedup_key,
                               grouped_split, load_corpus, read_hand_labels, read_real)
from classifier.labels import LABELS


@pytest.fixture(scope="module")
def rows():
    with open(CORPUS_PATH, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_every_row_has_the_fields_and_a_known_label(rows):
    for row in rows:
        assert tuple(row) == FIELDS
        assert row["label"] in LABELS
        assert row["text"].strip()
    assert len({row["id"] for row in rows}) == len(rows)


def test_size_and_balance(rows):
    tally = Counter(row["label"] for row in rows)
    assert len(rows) >= 4000
    assert all(tally[label] >= 400 for label in LABELS), tally


def test_every_label_draws_from_at_least_two_sources(rows):
    sources = defaultdict(set)
    for row in rows:
        # The written briefs are one source, however many files they fill.
        sources[row["label"]].add("written" if row["source"].startswith("written:") else row["source"])
    assert all(len(sources[label]) >= 2 for label in LABELS), dict(sources)


def test_written_messages_span_at_least_five_channels(rows):
    channels = {row["channel"] for row in rows if row["source"].startswith("written:")}
    assert len(channels) >= 5


def test_near_duplicate_pairs_are_under_one_percent(rows):
    keys = [dedup_key(row["subject"], row["text"]) for row in rows]
    graph = _similarity_graph(keys, NEAR_DUPLICATE)
    pairs = (graph.nnz - graph.shape[0]) // 2  # the diagonal is each message with itself
    assert pairs / len(rows) < 0.01


def test_no_evaluation_text_is_in_the_corpus(rows):
    """The leak test: data/eval/ is for evaluation only; no normalised eval text may be trained on."""
    eval_keys = {dedup_key(r.subject, r.text) for r in read_real(DATA_DIR / "eval")}
    assert len(eval_keys) > 1000  # the evaluation data really was read
    leaked = [row["id"] for row in rows if dedup_key(row["subject"], row["text"]) in eval_keys]
    assert leaked == []


def test_hand_labels_name_real_messages_and_known_labels():
    hand = read_hand_labels(DATA_DIR / "labels" / "hand_labels.csv")
    raw_ids = {record.id for record in read_real(DATA_DIR / "raw")}
    assert hand and set(hand) <= raw_ids
    assert set(hand.values()) <= set(LABELS) | {"drop"}


def test_grouped_split_keeps_each_group_on_one_side():
    dataset = load_corpus()
    train, held_out = grouped_split(dataset)
    assert not set(train["group"]) & set(held_out["group"])
    assert 0.1 < len(held_out) / len(dataset) < 0.3
    assert set(held_out["label"]) == set(LABELS)


def test_every_raw_dataset_keeps_its_source_note():
    for folder in (DATA_DIR / "raw").iterdir():
        if folder.is_dir():
            assert (folder / "SOURCE.md").is_file(), folder


def test_the_committed_corpus_is_exactly_what_the_build_makes(rows, tmp_path):
    """`triage corpus build` is reproducible: the same inputs give the same file, byte for byte."""
    from classifier.corpus import build_corpus, write_corpus

    built, _ = build_corpus(DATA_DIR)
    write_corpus(built, tmp_path / "corpus.jsonl")
    assert (tmp_path / "corpus.jsonl").read_bytes() == CORPUS_PATH.read_bytes()


def test_the_data_card_counts_match_the_corpus(rows):
    from classifier.corpus import COUNTS_END, COUNTS_START, counts_markdown

    card = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    generated = card[card.index(COUNTS_START) + len(COUNTS_START): card.index(COUNTS_END)]
    assert generated.strip() == counts_markdown(rows).strip(), "run `triage corpus build` to refresh data/README.md"
