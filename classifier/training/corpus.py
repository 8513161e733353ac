"""Building and loading the labelled corpus.

``build_corpus`` reads the real public datasets of the data home's training pool (never the
repository: see training.paths), the messages written for this project in ``data/written/`` and the
labels in ``data/labels/`` (the hand labels, and the labelling pass's: see LABELLING_GUIDE.md), and
gives one corpus with the fields ``id, text, subject, channel, label, source, group``. The same readers
read the evaluation pool, which the corpus is checked against so that no evaluation text is trained
on, and from which the real test set is resolved (``labelled``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedGroupKFold

from classifier.classify.tokens import normalise_tokens
from classifier.training.paths import eval_pool, training_pool
from classifier.labels import LABELS, check_label
from classifier.parse.message import parse_bytes
from classifier.classify.text import model_input, zone

log = logging.getLogger(__name__)

FIELDS = ("id", "text", "subject", "channel", "label", "source", "group")

NEAR_DUPLICATE = 0.8
"""Cosine similarity of word-trigram sets above which two messages count as one (the later is dropped)."""
SAME_TEMPLATE = 0.5
"""Above this, two messages share a template and are put in one group, so a split never separates them."""
SOURCE_CAPS = {
    # Real sources much larger than the rest are sampled (by a hash of the id, so the build is
    # reproducible) so that the model does not learn one source's style as the signal for a label.
    # The messages the labelling pass read were sampled the same way (tools/make_label_batches.py).
    ("enron_spam_enron1", "spam"): 700,
}
REVIEWED = {"nus_sms_corpus", "random_acts_of_pizza", "spamassassin_public_corpus", "sms_spam_collection",
            "youtube_spam_collection", "enron_spam_enron1", "enron_berkeley_categories"}
"""Datasets whose default label is not trusted: a message of theirs is trained on only with a label from
the labelling pass (data/labels), or the candidate finder's written-down verdict that it holds no ask."""
TRUSTED_SPAM = {"sms_spam_collection", "youtube_spam_collection", "enron_spam_enron1"}
"""Datasets whose spam label people gave message by message: their spam keeps it."""


@dataclass(frozen=True)
class Record:
    id: str
    text: str
    subject: str
    channel: str
    label: str  # one of LABELS, or "drop" for a message the hand labels take out
    source: str
    group: str


# ---------------------------------------------------------------- readers, one per dataset


def read_sms(folder: Path) -> Iterator[Record]:
    """SMS Spam Collection: spam -> spam, ham -> no_ask (favours relabelled by hand)."""
    with open(folder / "SMSSpamCollection.tsv", encoding="utf-8", newline="") as f:
        for line_no, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if line_no == 1 or len(row) < 2:
                continue
            label = "spam" if row[0] == "spam" else "no_ask"
            yield Record(f"sms:{line_no}", row[1], "", "sms", label, "sms_spam_collection", f"sms:{line_no}")


def read_youtube(folder: Path) -> Iterator[Record]:
    """YouTube Spam Collection comments, grouped by author."""
    for path in sorted(folder.glob("Youtube*.csv")):
        with open(path, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                label = "spam" if row["label"].strip() == "1" else "no_ask"
                yield Record(f"youtube:{row['COMMENT_ID']}", row["CONTENT"], "", "youtube_comment", label,
                             "youtube_spam_collection", f"youtube:{row['AUTHOR'].strip().lower()}")


def read_enron_spam(folder: Path) -> Iterator[Record]:
    """Enron-Spam enron1 (pre-processed, lower-case): spam -> spam, ham -> no_ask; B2B pitches by hand."""
    for kind, label in (("spam", "spam"), ("ham", "no_ask")):
        with open(folder / f"{kind}.csv", encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            next(reader, None)
            for index, row in enumerate(reader):
                text = row[0]
                # The pre-processing glued subject and body together; the "Subject: " tag is an artefact.
                if text.lower().startswith("subject:"):
                    text = text[len("subject:"):].strip()
                yield Record(f"enron_spam:{kind}:{index}", text, "", "email", label, "enron_spam_enron1",
                             f"enron_spam:{kind}:{index}")


def read_enron_categories(folder: Path) -> Iterator[Record]:
    """Berkeley's hand-categorised Enron mail: no_ask, but document-editing requests are left out."""
    with open(folder / "enron_with_categories.jsonl", encoding="utf-8") as f:
        for line in f:
            mail = json.loads(line)
            genres = {(top, second) for top, second, _ in mail["categories"]}
            # Genre 1.6 is colleagues asking each other to edit documents: an ask, but none of our labels.
            label = "drop" if (1, 6) in genres else "no_ask"
            sender = (mail.get("from") or "").strip().lower() or f"unknown:{mail['id']}"
            yield Record(f"enron_cat:{mail['id']}", mail.get("body") or "", mail.get("subject") or "", "email",
                         label, "enron_berkeley_categories", f"enron_cat:{sender}")


def read_political(folder: Path) -> Iterator[Record]:
    """Political fundraising emails: charity_ask, grouped by committee."""
    with open(folder / "training.csv", encoding="utf-8", newline="") as f:
        for index, row in enumerate(csv.DictReader(f)):
            yield Record(f"political:{index}", row["body"], row["subject"], "email", "charity_ask",
                         "political_fundraising_emails", f"political:{row['committee'].strip().lower()}")


def read_persuasion(folder: Path) -> Iterator[Record]:
    """PersuasionForGood: the persuader's turns up to the first proposition of donation, one per dialogue."""
    dialogues: dict[str, list[str]] = {}
    asked: set[str] = set()
    with open(folder / "300_dialog_annotated.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            dialogue = row["B2"]
            if row["B4"] != "0" or dialogue in asked:
                continue
            dialogues.setdefault(dialogue, []).append(row["Unit"].strip())
            if row["er_label_1"] == "proposition-of-donation":
                asked.add(dialogue)
    for dialogue, units in dialogues.items():
        if dialogue in asked:
            yield Record(f"persuasion:{dialogue}", " ".join(units), "", "chat", "charity_ask",
                         "persuasion_for_good", f"persuasion:{dialogue}")


def read_nus(folder: Path) -> Iterator[Record]:
    """NUS SMS Corpus: texts between friends, grouped by sender. Most are chit-chat (the finder's verdict
    for a text it does not pick), a real minority favours: their labels come from data/labels."""
    with open(folder / "nus_sms_en_2015.03.09.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            yield Record(f"nus:{row['id']}", row["text"], "", "sms", "no_ask", "nus_sms_corpus",
                         f"nus:{row['sender_id']}")


_RAOP_TAG = re.compile(r"^\s*[\[(][^\])]{0,40}[\])]\s*", re.I)


def read_raop(folder: Path) -> Iterator[Record]:
    """Random Acts of Pizza: personal asks to strangers, one per requester. The "[Request]" tag a title
    starts with is cut (a shortcut, not wording). Every one is an ask; which kind, the labels say."""
    with open(folder / "pizza_requests.json", encoding="utf-8") as f:
        requests = json.load(f)
    for request in requests:
        title = _RAOP_TAG.sub("", request.get("request_title") or "")
        yield Record(f"raop:{request['request_id']}", request.get("request_text_edit_aware") or "", title, "reddit",
                     "friend_favour", "random_acts_of_pizza",
                     f"raop:{(request.get('requester_username') or request['request_id']).lower()}")


def read_spamassassin(folder: Path) -> Iterator[Record]:
    """SpamAssassin public corpus: raw 2002 mail, read with the project's own parser (subject and body
    only: header tokens such as list names would be a shortcut). spam/ -> spam, the ham folders ->
    no_ask, until the labels say otherwise; grouped as the split was (newsletter, thread, text)."""
    with open(folder / "index.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            message = parse_bytes((folder / row["folder"] / row["file"]).read_bytes())
            label = "spam" if row["folder"] == "spam" else "no_ask"
            yield Record(f"spamassassin:{row['folder']}/{row['file']}", message.text, message.subject, "email", label,
                         "spamassassin_public_corpus", f"spamassassin:{row['folder']}:{row['group']}")


def read_politeness(folder: Path) -> Iterator[Record]:
    """Stanford Politeness (Wikipedia): requests between editors; for evaluation only."""
    with open(folder / "wikipedia.annotated.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            yield Record(f"politeness:{row['Id']}", row["Request"], "", "wiki_talk", "friend_favour",
                         "stanford_politeness_wikipedia", f"politeness:{row['Id']}")


REAL_READERS = {
    "sms_spam_collection": read_sms,
    "youtube_spam_collection": read_youtube,
    "enron_spam_enron1": read_enron_spam,
    "enron_berkeley_categories": read_enron_categories,
    "political_fundraising_emails": read_political,
    "persuasion_for_good": read_persuasion,
    "nus_sms_corpus": read_nus,
    "random_acts_of_pizza": read_raop,
    "spamassassin_public_corpus": read_spamassassin,
}
EVAL_ONLY_READERS = {"stanford_politeness_wikipedia": read_politeness}
"""The real datasets the corpus uses. Parakweet (single sentences) and Stanford Politeness (requests
between Wikipedia editors, no negatives) do not fit whole-message labels; they serve evaluation only."""

WRITTEN_GROUP_SIZE = 20
"""Written messages were composed in batches of about 20; a batch is one group, as one writer's sitting."""


def read_written(folder: Path) -> Iterator[Record]:
    """Messages written for the project, one file per brief (see data/written/WRITING_GUIDE.md)."""
    for path in sorted(folder.glob("*.jsonl")):
        brief = path.stem
        with open(path, encoding="utf-8") as f:
            for index, line in enumerate(f):
                if not line.strip():
                    continue
                row = json.loads(line)
                yield Record(f"written:{brief}:{index}", row["text"], row.get("subject") or "", row["channel"],
                             check_label(row["label"]), f"written:{brief}",
                             f"written:{brief}:{index // WRITTEN_GROUP_SIZE}")


def read_hand_labels(path: Path) -> dict[str, str]:
    """id -> label (or "drop") from the hand-label file, with its reasons kept beside it as data."""
    labels: dict[str, str] = {}
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            label = row["label"].strip()
            if label != "drop":
                check_label(label)
            labels[row["id"].strip()] = label
    return labels


def read_real(folder: Path, readers: dict = REAL_READERS) -> Iterator[Record]:
    """Every record of the real datasets present under ``folder`` (a data home's data/real or eval/real)."""
    for name, reader in readers.items():
        if (folder / name).is_dir():
            yield from reader(folder / name)


def text_hash(subject: str, text: str) -> str:
    """The hash a label file names a message's text by, beside its reference (references repeat in
    some datasets; a label must name exactly the message that was read)."""
    return hashlib.sha256(f"{subject}\n{text}".encode()).hexdigest()[:16]


# ---------------------------------------------------------------- labels of the labelling pass


def read_selection(project: Path, pool: str = "data") -> dict[tuple[str, str], str]:
    """(ref, text hash) -> the set it was chosen for (train, audit, passed, dev or test), in ``pool``."""
    chosen = {}
    with open(project / "labels" / "selection.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["pool"] == pool:
                chosen[row["ref"], row["sha"]] = row["set"]
    return chosen


def read_pass_labels(path: Path, adjudicated: bool = False) -> dict[tuple[str, str], str]:
    """(ref, text hash) -> label, from a label file of the pass (data/labels/real_*.csv).

    Where two labellers read a message: with ``adjudicated`` the adjudicator's label when they
    disagreed; without, a disagreement is "drop" (training takes no label two people read two ways)."""
    by_message: dict[tuple[str, str], dict[str, str]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            label = row["label"]
            if label != "drop":
                check_label(label)
            by_message.setdefault((row["ref"], row["sha"]), {})[row["labeller"]] = label
    labels = {}
    for key, given in by_message.items():
        if adjudicated and "adjudicator" in given:
            labels[key] = given["adjudicator"]
        elif len(set(given.values())) == 1:
            labels[key] = next(iter(given.values()))
        else:
            labels[key] = "drop"
    return labels


def labelled(records: Iterable[Record], labels: dict[tuple[str, str], str]) -> Iterator[Record]:
    """The records a label file names (by reference and text hash), with its label; drops left out."""
    for record in records:
        label = labels.get((record.id, text_hash(record.subject, record.text)))
        if label is not None and label != "drop":
            yield Record(record.id, record.text, record.subject, record.channel, label, record.source, record.group)


# ---------------------------------------------------------------- building


def dedup_key(subject: str, text: str) -> str:
    """The normalised form used to compare messages: zoned, tokenised, placeholders, lower-case."""
    return " ".join(normalise_tokens(zone(model_input(subject, text))))


def _stable_fraction(key: str) -> float:
    return int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) / 16**12


def _similarity_graph(keys: list[str], threshold: float) -> sp.csr_matrix:
    """Pairs of messages whose word-trigram sets overlap above ``threshold`` (cosine)."""
    vectoriser = TfidfVectorizer(analyzer="word", token_pattern=r"\S+", ngram_range=(3, 3), binary=True,
                                 use_idf=False, norm="l2", lowercase=False, min_df=1)
    try:
        matrix = vectoriser.fit_transform(keys)
    except ValueError:  # every message shorter than three words
        return sp.csr_matrix((len(keys), len(keys)))
    similarity = (matrix @ matrix.T).tocsr()
    similarity.data[similarity.data < threshold] = 0
    similarity.eliminate_zeros()
    return similarity


def _training_label(record: Record, hand: dict[str, str], reviewed: dict, chosen: dict) -> str | None:
    """The label a training-pool message is trained with, or None when it is not trained on."""
    key = (record.id, text_hash(record.subject, record.text))
    if chosen.get(key) == "dev":
        return None  # the real dev set chooses models: it is never trained on
    if record.id in hand:
        return hand[record.id]
    if record.source not in REVIEWED or (record.source in TRUSTED_SPAM and record.label == "spam"):
        return record.label
    if key in reviewed:
        return reviewed[key]
    if chosen.get(key) == "passed":  # the finder saw no ask: its written-down verdict
        return "drop" if record.label == "drop" else "no_ask"
    return None  # the dev set, or not among the messages the corpus samples


def build_corpus(project: Path, home: Path) -> tuple[list[dict], dict]:
    """Assemble the corpus from the checkout's data (``project``: written messages, labels) and the data
    home's public training pool; returns (rows, build report)."""
    hand = read_hand_labels(project / "labels" / "hand_labels.csv")
    reviewed = read_pass_labels(project / "labels" / "real_train.csv")
    chosen = read_selection(project, "data")
    report: Counter = Counter()
    records: list[Record] = []
    for record in [*read_real(training_pool(home)), *read_written(project / "written")]:
        label = _training_label(record, hand, reviewed, chosen) if not record.source.startswith("written:") \
            else record.label
        if label is None:
            report["not trained on (dev set, or not sampled)"] += 1
            continue
        if label == "drop":
            report["dropped by a label or the genre"] += 1
            continue
        records.append(Record(record.id, record.text, record.subject, record.channel, label,
                              record.source, record.group))

    # Cap the largest real sources, by a hash of the id so that the build is reproducible.
    totals = Counter((r.source, r.label) for r in records)
    kept = []
    for record in records:
        cap = SOURCE_CAPS.get((record.source, record.label))
        if cap is not None:
            if _stable_fraction(record.id) >= cap / totals[record.source, record.label]:
                report[f"sampled out of {record.source}"] += 1
                continue
        kept.append(record)
    records = kept

    # Empty and exact duplicates (after normalisation), and any text that is in the evaluation data.
    eval_keys = {dedup_key(r.subject, r.text) for r in read_real(eval_pool(home), {**REAL_READERS, **EVAL_ONLY_READERS})}
    seen: set[str] = set()
    unique: list[tuple[Record, str]] = []
    for record in records:
        key = dedup_key(record.subject, record.text)
        if not key:
            report["empty after zoning"] += 1
        elif key in seen:
            report["exact duplicate"] += 1
        elif key in eval_keys:
            report["also in evaluation data"] += 1
        else:
            seen.add(key)
            unique.append((record, key))

    keys = [key for _, key in unique]
    # Near-duplicates: keep the first of each pair.
    near = sp.triu(_similarity_graph(keys, NEAR_DUPLICATE), k=1).tocsr()
    dropped = set()
    for i in range(near.shape[0]):
        if i in dropped:
            continue
        for j in near.indices[near.indptr[i]: near.indptr[i + 1]]:
            dropped.add(int(j))
    report["near duplicate"] += len(dropped)
    unique = [item for index, item in enumerate(unique) if index not in dropped]
    keys = [key for _, key in unique]

    # Messages that share a template share a group, so a grouped split keeps them on one side.
    n_templates, template = connected_components(_similarity_graph(keys, SAME_TEMPLATE), directed=False)
    sizes = Counter(template)
    # A dataset can repeat a reference for another message (NUS reuses ids across its collections):
    # such messages get their text hash after it, so that every corpus id names one message.
    repeated = {ref for ref, n in Counter(record.id for record, _ in unique).items() if n > 1}
    rows = []
    for (record, _), component in zip(unique, template):
        group = f"template:{component}" if sizes[component] > 1 else record.group
        row_id = f"{record.id}#{text_hash(record.subject, record.text)[:8]}" if record.id in repeated else record.id
        rows.append({"id": row_id, "text": record.text, "subject": record.subject, "channel": record.channel,
                     "label": record.label, "source": record.source, "group": group})
    report["templates (groups of similar messages)"] = sum(1 for c in sizes.values() if c > 1)
    rows.sort(key=lambda row: row["id"])
    return rows, dict(report)


def write_corpus(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps({field: row[field] for field in FIELDS}, ensure_ascii=False) + "\n")


def corpus_hash(path: Path) -> str:
    """sha256 of the corpus file: the model manifest records it, so a stale model is caught."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- loading and splitting

HELD_OUT_FOLDS = 5
SPLIT_SEED = 20261122


def load_corpus(path: Path):
    """The corpus as a Hugging Face ``datasets.Dataset``, read from the local file, never from a hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    import datasets

    datasets.disable_progress_bars()
    cache = Path(path).resolve().parent / ".datasets-cache"
    return datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(cache))


def grouped_split(dataset) -> tuple:
    """(train, held_out): one fold of a stratified group k-fold, so no group sits on both sides."""
    splitter = StratifiedGroupKFold(n_splits=HELD_OUT_FOLDS, shuffle=True, random_state=SPLIT_SEED)
    train_idx, test_idx = next(splitter.split(np.zeros(len(dataset)), dataset["label"], dataset["group"]))
    return dataset.select(train_idx), dataset.select(test_idx)


def counts(rows) -> dict:
    """label -> count, in LABELS order."""
    tally = Counter(row["label"] for row in rows)
    return {label: tally.get(label, 0) for label in LABELS}


def counts_markdown(rows) -> str:
    """Counts by label x source and by label x channel, as the tables of the data card."""
    def table(key: str) -> list[str]:
        tally = Counter((row["label"], row[key]) for row in rows)
        values = sorted({value for _, value in tally})
        lines = [f"| {key} | " + " | ".join(LABELS) + " | total |", "| --- |" + " ---: |" * (len(LABELS) + 1)]
        for value in values:
            cells = [tally.get((label, value), 0) for label in LABELS]
            lines.append(f"| {value} | " + " | ".join(str(c) if c else "" for c in cells) + f" | {sum(cells)} |")
        totals = [sum(tally.get((label, v), 0) for v in values) for label in LABELS]
        lines.append("| **total** | " + " | ".join(str(t) for t in totals) + f" | {sum(totals)} |")
        return lines

    return "\n".join([*table("source"), "", *table("channel")])


COUNTS_START, COUNTS_END = "<!-- counts:start -->", "<!-- counts:end -->"


def update_data_card(rows, card: Path) -> None:
    """Rewrite the generated counts between the markers of the data card, leaving the prose alone."""
    text = card.read_text(encoding="utf-8")
    start, end = text.index(COUNTS_START) + len(COUNTS_START), text.index(COUNTS_END)
    card.write_text(text[:start] + "\n" + counts_markdown(rows) + "\n" + text[end:], encoding="utf-8")
