"""Choose the real messages people label, and write them out in batches for the labellers.

    .venv/bin/python tools/make_label_batches.py --data-home "$OUTREACH_DATA_HOME" --out /tmp/labelling

Reads the public datasets from the data home (never from the repository), runs the candidate finder
(classifier.labelling: request rules plus the current model), and chooses four sets, each by a stable
hash of the message's reference, so that the choice is the same on every run:

- train:  what may hold an ask among the training-pool messages the corpus will use (every candidate of
          the sampled part of each dataset; every message of the datasets with no trustworthy default);
- audit:  a random sample of the messages the finder passed over, to measure what it misses;
- dev:    600 training-pool messages, stratified by what they probably are, kept out of training;
- test:   700 evaluation-pool messages, stratified so that every label has 60 or more where the data
          has them; read by two labellers.

Writes ``data/labels/selection.csv`` (references only: set, dataset, pool, ref, batch) and, under
``--out`` (outside the repository: they hold the public texts), one JSONL file per batch with the text
each labeller reads. Nothing here decides a label.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classifier.training import corpus  # noqa: E402
from classifier.training.labelling import find_candidates  # noqa: E402
from classifier.classify.predict import Classifier  # noqa: E402

TRAIN_SAMPLE = {"nus_sms_corpus": 24_000, "random_acts_of_pizza": 700, "enron_spam_enron1": 600,
                "enron_berkeley_categories": 600, "spamassassin_public_corpus:easy_ham": 700}
"""Training-pool rows taken from the largest datasets (as the corpus caps them), before the finder. The
NUS sample was 12,000 in the first round; the second round read the candidates of 12,000 more, the
texts where the model confused arranging with asking a favour."""
READ_WHOLE = {"random_acts_of_pizza", "spamassassin_public_corpus:spam", "spamassassin_public_corpus:hard_ham"}
"""Datasets (or folders) whose every chosen message is read: their defaults say nothing about the label."""
TRUSTED_SPAM = {"sms_spam_collection", "youtube_spam_collection", "enron_spam_enron1"}
"""Datasets whose spam label people gave, message by message (Enron-Spam's business offers were read by
hand before): their spam is not read again. Their ham, a default for "not spam", is."""
AUDIT = {"nus_sms_corpus": 300, "spamassassin_public_corpus": 60, "sms_spam_collection": 40, "enron_spam_enron1": 40,
         "enron_berkeley_categories": 40}
SHORT = {"nus_sms_corpus", "sms_spam_collection", "youtube_spam_collection", "stanford_politeness_wikipedia"}
BATCH = {"short": 450, "long": 180}
TEXT_CHARS = 2500


def stable(ref: str, salt: str) -> float:
    return int(hashlib.sha256(f"{salt}:{ref}".encode()).hexdigest()[:12], 16) / 16**12


def folder_of(record) -> str:
    """The dataset, with the SpamAssassin folder (spam, hard_ham, easy_ham) when it matters."""
    if record.source == "spamassassin_public_corpus":
        return f"{record.source}:{record.id.split(':', 1)[1].split('/')[0]}"
    return record.source


def _sampling_key(record) -> str:
    """What TRAIN_SAMPLE counts: the dataset, and for SpamAssassin's easy ham, that folder."""
    return folder_of(record) if folder_of(record).endswith(":easy_ham") else record.source


def read_pool(home: Path, pool: str) -> list:
    records = []
    for name, reader in {**corpus.REAL_READERS, **corpus.EVAL_ONLY_READERS}.items():
        folder = home / pool / "real" / name
        if folder.is_dir() and (pool == "eval" or name in corpus.REAL_READERS):
            records.extend(reader(folder))
    return records


def provisional(record, candidate) -> str:
    """What a message probably is, for stratified sampling only: the model's label for a candidate
    (or the dataset's, where the dataset says spam or a cause), else no ask."""
    if record.label in ("spam", "charity_ask") and record.source not in ("random_acts_of_pizza",):
        return record.label
    if record.source in ("random_acts_of_pizza", "stanford_politeness_wikipedia"):
        return "friend_favour"
    return candidate.model_label if candidate.picked else "no_ask"


def stratified(items: list, quota: dict, salt: str) -> list:
    """Per (provisional label, dataset) quotas, filled in hash order; a quota with too few items takes all."""
    by_key = defaultdict(list)
    for item in items:
        by_key[item[2], item[0].source].append(item)
    chosen = []
    for key, n in quota.items():
        pool = sorted(by_key.get(key, []), key=lambda it: stable(it[0].id, salt))
        chosen.extend(pool[:n])
    return chosen


TEST_QUOTA = {
    ("cold_pitch", "enron_spam_enron1"): 30, ("cold_pitch", "spamassassin_public_corpus"): 15,
    ("cold_pitch", "nus_sms_corpus"): 15, ("cold_pitch", "sms_spam_collection"): 10,
    ("cold_pitch", "random_acts_of_pizza"): 5, ("cold_pitch", "youtube_spam_collection"): 10,
    ("cold_pitch", "enron_berkeley_categories"): 10, ("cold_pitch", "stanford_politeness_wikipedia"): 5,
    ("charity_ask", "political_fundraising_emails"): 40, ("charity_ask", "persuasion_for_good"): 30,
    ("charity_ask", "spamassassin_public_corpus"): 15, ("charity_ask", "nus_sms_corpus"): 5,
    ("charity_ask", "enron_berkeley_categories"): 5, ("charity_ask", "sms_spam_collection"): 5,
    ("friend_favour", "nus_sms_corpus"): 80, ("friend_favour", "random_acts_of_pizza"): 45,
    ("friend_favour", "sms_spam_collection"): 25, ("friend_favour", "stanford_politeness_wikipedia"): 20,
    ("friend_favour", "enron_berkeley_categories"): 15, ("friend_favour", "enron_spam_enron1"): 10,
    ("friend_favour", "spamassassin_public_corpus"): 5,
    ("spam", "sms_spam_collection"): 25, ("spam", "youtube_spam_collection"): 25, ("spam", "enron_spam_enron1"): 25,
    ("spam", "spamassassin_public_corpus"): 25, ("spam", "nus_sms_corpus"): 10,
    ("no_ask", "nus_sms_corpus"): 60, ("no_ask", "sms_spam_collection"): 30, ("no_ask", "youtube_spam_collection"): 20,
    ("no_ask", "enron_spam_enron1"): 30, ("no_ask", "enron_berkeley_categories"): 25,
    ("no_ask", "spamassassin_public_corpus"): 45, ("no_ask", "random_acts_of_pizza"): 5,
}
"""About 700 evaluation messages: 60 or more of each label where the data has them, and every dataset."""
TEST_QUOTA = {key: round(n * 1.2) for key, n in TEST_QUOTA.items()}  # some quotas find fewer; some are dropped
DEV_QUOTA = {key: max(1, round(n * 1.05)) for key, n in TEST_QUOTA.items() if key[1] != "stanford_politeness_wikipedia"}


def _earlier_batches() -> dict[tuple[str, str, str], tuple[str, str]]:
    """(set, pool, ref) -> (batch, text hash) of the messages an earlier run of this tool put in a batch."""
    path = ROOT / "data" / "labels" / "selection.csv"
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8", newline="") as f:
        return {(row["set"], row["pool"], row["ref"]): (row["batch"], row["sha"])
                for row in csv.DictReader(f) if row["batch"]}


def _write_batch_row(out: Path, batch: str, chosen: dict) -> None:
    """Append the message of ``chosen`` to its batch file (what its labellers read)."""
    record = chosen["record"]
    text = record.text if len(record.text) <= TEXT_CHARS else record.text[:TEXT_CHARS] + " [… cut]"
    with open(out / f"{batch}.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"ref": record.id, "dataset": record.source, "channel": record.channel,
                            "subject": record.subject, "text": text}, ensure_ascii=False) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for the batches (outside the repository)")
    args = parser.parse_args(argv)
    classifier = Classifier.load()
    hand = corpus.read_hand_labels(ROOT / "data" / "labels" / "hand_labels.csv")
    selection: list[dict] = []
    earlier = _earlier_batches()

    def row(which: str, pool: str, record) -> dict:
        return {"set": which, "pool": pool, "dataset": record.source, "ref": record.id,
                "sha": corpus.text_hash(record.subject, record.text), "batch": "", "record": record}

    for pool in ("data", "eval"):
        records = read_pool(args.data_home, pool)
        candidates = list(find_candidates(records, classifier))
        items = [(r, c, provisional(r, c)) for r, c in zip(records, candidates)]
        if pool == "eval":
            chosen = stratified(items, TEST_QUOTA, "test")
            selection += [row("test", pool, r) for r, _, _ in chosen]
            continue
        # Training pool: dev first (kept out of training), then what the corpus uses, then the audit.
        dev = stratified([it for it in items if it[0].source in corpus.REAL_READERS], DEV_QUOTA, "dev")
        dev_refs = {r.id for r, _, _ in dev}
        selection += [row("dev", pool, r) for r, _, _ in dev]
        sizes = Counter(_sampling_key(r) for r, _, _ in items)
        used, passed_over = [], defaultdict(list)
        for record, candidate, _ in items:
            if record.id in dev_refs or record.id in hand or record.source in ("political_fundraising_emails",
                                                                                 "persuasion_for_good"):
                continue  # dev; read by hand before; or a dataset whose label is the cause it was built on
            if record.source in TRUSTED_SPAM and record.label == "spam":
                continue
            key = _sampling_key(record)
            if key in TRAIN_SAMPLE and stable(record.id, "train") >= TRAIN_SAMPLE[key] / sizes[key]:
                continue  # not among the messages the corpus takes from this dataset
            whole = folder_of(record) in READ_WHOLE or record.source in READ_WHOLE
            if whole or candidate.picked:
                used.append(record)
            else:
                passed_over[record.source].append(record)
        selection += [row("train", pool, r) for r in used]
        for source, records_over in passed_over.items():
            records_over.sort(key=lambda r: stable(r.id, "audit"))
            # The audit sample measures the first round's finder: a later round keeps that sample.
            audited = ([r for r in records_over if ("audit", pool, r.id) in earlier] if earlier
                       else records_over[:AUDIT.get(source, 0)])
            chosen_ids = {id(r) for r in audited}
            selection += [row("audit", pool, r) for r in audited]
            # The finder's verdict (no ask) for the rest, written down: the corpus must not depend on
            # whichever model runs the finder next time.
            selection += [row("passed", pool, r) for r in records_over if id(r) not in chosen_ids]

    # Batches: short texts in larger batches; each set and length class batched in hash order. A message
    # an earlier run already put in a batch keeps it (its labels name that batch); new ones go to new
    # batches of the next round ("train2-short-01").
    groups = defaultdict(list)
    for chosen in selection:
        if chosen["set"] == "passed":
            continue
        size = "short" if chosen["dataset"] in SHORT else "long"
        kept = earlier.get((chosen["set"], chosen["pool"], chosen["ref"]))
        if kept:  # read already: its batch, and the text hash of what its labellers read
            chosen["batch"], chosen["sha"] = kept
            continue
        groups[chosen["set"] + ("2" if earlier else ""), size].append(chosen)
    args.out.mkdir(parents=True, exist_ok=True)
    for (name, size), rows in sorted(groups.items()):
        rows.sort(key=lambda row: stable(row["ref"], "batch"))
        for start in range(0, len(rows), BATCH[size]):
            batch = f"{name}-{size}-{start // BATCH[size] + 1:02d}"
            for chosen in rows[start:start + BATCH[size]]:
                chosen["batch"] = batch
                _write_batch_row(args.out, batch, chosen)
    out = ROOT / "data" / "labels" / "selection.csv"
    with open(out, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["set", "pool", "dataset", "ref", "sha", "batch"], lineterminator="\n")
        writer.writeheader()
        for chosen in sorted(selection, key=lambda r: (r["set"], r["batch"], r["ref"], r["sha"])):
            writer.writerow({key: chosen[key] for key in ("set", "pool", "dataset", "ref", "sha", "batch")})
    tally = Counter((row["set"], row["dataset"]) for row in selection)
    for key, n in sorted(tally.items()):
        print(f"{key[0]:6} {key[1]:32} {n:6}")
    print(Counter(row["batch"] for row in selection))
    return 0


if __name__ == "__main__":
    sys.exit(main())
