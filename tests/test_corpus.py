"""The corpus, built from the data home: size, balance, sources, duplicates, no evaluation or dev text
inside, labels that name exactly the messages that were read, and no public text in the repository."""

import csv
import json
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from classifier.labels import LABELS
from classifier.training.corpus import (EVAL_ONLY_READERS, FIELDS, NEAR_DUPLICATE, REAL_READERS, _similarity_graph,
                                        build_corpus, dedup_key, grouped_split, load_corpus, read_hand_labels,
                                        read_pass_labels, read_real, text_hash, write_corpus)
from classifier.training.paths import eval_pool, project_data, training_pool

ROOT = Path(__file__).resolve().parent.parent
ALL_READERS = {**REAL_READERS, **EVAL_ONLY_READERS}


@pytest.fixture(scope="module")
def built(built_corpus) -> Path:
    return built_corpus


@pytest.fixture(scope="module")
def rows(built):
    with open(built, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_every_row_has_the_fields_and_a_known_label(rows):
    for row in rows:
        assert tuple(row) == FIELDS
        assert row["label"] in LABELS
        assert (row["subject"] + row["text"]).strip()  # a Reddit request can be all title
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


def test_texting_style_favours_are_real_messages_too(rows):
    real_favours = Counter(row["source"] for row in rows if row["label"] == "friend_favour"
                           and not row["source"].startswith("written:"))
    assert real_favours["nus_sms_corpus"] >= 100 and real_favours["random_acts_of_pizza"] >= 100, real_favours


def test_written_messages_span_at_least_five_channels(rows):
    channels = {row["channel"] for row in rows if row["source"].startswith("written:")}
    assert len(channels) >= 5


def test_near_duplicate_pairs_are_under_one_percent(rows):
    keys = [dedup_key(row["subject"], row["text"]) for row in rows]
    graph = _similarity_graph(keys, NEAR_DUPLICATE)
    pairs = (graph.nnz - graph.shape[0]) // 2  # the diagonal is each message with itself
    assert pairs / len(rows) < 0.01


def test_no_evaluation_text_is_in_the_corpus(rows, home):
    """The leak test: the evaluation pool is for evaluation only; no normalised eval text may be trained on."""
    eval_keys = {dedup_key(r.subject, r.text) for r in read_real(eval_pool(home), ALL_READERS)}
    assert len(eval_keys) > 10_000  # the evaluation data really was read
    leaked = [row["id"] for row in rows if dedup_key(row["subject"], row["text"]) in eval_keys]
    assert leaked == []


def test_the_dev_set_is_kept_out_of_training(rows):
    dev = {ref for ref, _ in read_pass_labels(project_data() / "labels" / "real_dev.csv")}
    assert len(dev) >= 600
    assert not dev & {row["id"].split("#")[0] for row in rows}


@pytest.mark.parametrize("which, pool", [("train", training_pool), ("dev", training_pool), ("test", eval_pool)])
def test_every_label_of_the_pass_names_a_message_that_exists(which, pool, home):
    labels = read_pass_labels(project_data() / "labels" / f"real_{which}.csv")
    present = {(r.id, text_hash(r.subject, r.text)) for r in read_real(pool(home), ALL_READERS)}
    assert labels and set(labels) <= present


def test_the_test_set_has_two_labellers_and_every_label_it_can(home):
    rows = list(csv.DictReader(open(project_data() / "labels" / "real_test.csv", encoding="utf-8")))
    by_message = defaultdict(dict)
    for row in rows:
        by_message[row["ref"], row["sha"]][row["labeller"]] = row["label"]
    assert all({"labeller-A", "labeller-B"} <= set(given) for given in by_message.values())
    assert all("adjudicator" in given for given in by_message.values() if given["labeller-A"] != given["labeller-B"])
    final = Counter(label for label in read_pass_labels(project_data() / "labels" / "real_test.csv",
                                                        adjudicated=True).values() if label != "drop")
    assert sum(final.values()) >= 600
    assert all(final[label] >= 60 for label in ("charity_ask", "friend_favour", "spam", "no_ask")), final


def test_label_files_hold_references_and_reasons_never_the_text(home):
    texts = {(r.id, text_hash(r.subject, r.text)): r.text for pool in (training_pool, eval_pool)
             for r in read_real(pool(home), ALL_READERS)}
    for name in ("real_train.csv", "real_dev.csv", "real_test.csv"):
        for row in csv.DictReader(open(project_data() / "labels" / name, encoding="utf-8")):
            assert len(row["reason"].split()) <= 20, row
            text = texts.get((row["ref"], row["sha"]), "")
            assert len(row["reason"]) < 25 or row["reason"] not in text, row


def test_hand_labels_name_real_messages_and_known_labels(home):
    hand = read_hand_labels(project_data() / "labels" / "hand_labels.csv")
    raw_ids = {record.id for record in read_real(training_pool(home))}
    assert hand and set(hand) <= raw_ids
    assert set(hand.values()) <= set(LABELS) | {"drop"}


def test_grouped_split_keeps_each_group_on_one_side(built):
    dataset = load_corpus(built)
    train, held_out = grouped_split(dataset)
    assert not set(train["group"]) & set(held_out["group"])
    assert 0.1 < len(held_out) / len(dataset) < 0.3
    assert set(held_out["label"]) == set(LABELS)


def test_every_dataset_of_the_data_home_keeps_its_source_note(home):
    for pool in (training_pool(home), eval_pool(home)):
        for folder in pool.iterdir():
            if folder.is_dir():
                assert (folder / "SOURCE.md").is_file(), folder


def test_the_build_is_reproducible(built, home, tmp_path):
    """`triage corpus build` gives the same file, byte for byte, from the same inputs."""
    again, _ = build_corpus(project_data(), home)
    write_corpus(again, tmp_path / "corpus.jsonl")
    assert (tmp_path / "corpus.jsonl").read_bytes() == built.read_bytes()


def test_the_data_card_counts_match_the_corpus(rows):
    from classifier.training.corpus import COUNTS_END, COUNTS_START, counts_markdown

    card = (project_data() / "README.md").read_text(encoding="utf-8")
    generated = card[card.index(COUNTS_START) + len(COUNTS_START): card.index(COUNTS_END)]
    assert generated.strip() == counts_markdown(rows).strip(), "run `make corpus` to refresh data/README.md"


def test_no_public_dataset_or_corpus_is_in_the_repository():
    """The public datasets are not ours to redistribute: they stay in the data home."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert not [path for path in tracked if path.startswith(("data/raw/", "data/eval/", "data/build/"))
                or path.endswith("corpus.jsonl")]
