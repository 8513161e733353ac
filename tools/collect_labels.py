"""Gather the labellers' CSVs into the project's label files (references, labels, reasons; no text).

    .venv/bin/python tools/collect_labels.py --staging /path/to/labels

Each labeller wrote ``<batch>.<A|B>.csv`` (ref,label,reason) for one batch of tools/make_label_batches.py;
adjudications of the test set's disagreements are in ``test-adjudication.csv``. The batch and the
reference give the message's pool and text hash from data/labels/selection.csv, so that every label
names exactly the message that was read. Writes data/labels/real_train.csv (the train and audit
sets), real_dev.csv and real_test.csv: ``set, dataset, pool, ref, sha, label, labeller, reason``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABELS_DIR = ROOT / "data" / "labels"
ALLOWED = {"cold_pitch", "charity_ask", "friend_favour", "spam", "no_ask", "drop"}
COLUMNS = ["set", "dataset", "pool", "ref", "sha", "label", "labeller", "reason"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--staging", type=Path, required=True)
    args = parser.parse_args(argv)
    selection = defaultdict(list)  # (batch, ref) -> selection rows
    for row in csv.DictReader(open(LABELS_DIR / "selection.csv", encoding="utf-8")):
        if row["batch"]:
            selection[row["batch"], row["ref"]].append(row)
    out = defaultdict(list)
    for path in sorted(args.staging.glob("*.[AB].csv")):
        batch, who = path.name[:-len(".A.csv")], path.name[-5]
        for row in csv.DictReader(open(path, encoding="utf-8")):
            label = row["label"].strip()
            if label not in ALLOWED:
                raise ValueError(f"{path} ref {row['ref']}: label {label!r}; expected one of {', '.join(sorted(ALLOWED))}")
            chosen = selection.get((batch, row["ref"]))
            if not chosen:
                raise ValueError(f"{path}: ref {row['ref']} is not in batch {batch} of selection.csv")
            shas = {c["sha"] for c in chosen}
            if len(shas) > 1:
                continue  # one reference for two different texts in one batch: the label cannot say which
            sel = chosen[0]
            out[sel["set"]].append({"set": sel["set"], "dataset": sel["dataset"], "pool": sel["pool"], "ref": sel["ref"],
                                    "sha": sel["sha"], "label": label, "labeller": f"labeller-{who}",
                                    "reason": row["reason"].strip()})
    adjudicated = args.staging / "test-adjudication.csv"
    if adjudicated.is_file():
        test = {r["ref"]: r for r in out["test"] if r["labeller"] == "labeller-A"}
        for row in csv.DictReader(open(adjudicated, encoding="utf-8")):
            base = test[row["ref"]]
            out["test"].append({**base, "label": row["label"].strip(), "labeller": "adjudicator",
                                "reason": row["reason"].strip()})
    files = {"real_train.csv": out["train"] + out["audit"], "real_dev.csv": out["dev"], "real_test.csv": out["test"]}
    for name, rows in files.items():
        rows.sort(key=lambda r: (r["set"], r["dataset"], r["ref"], r["labeller"]))
        with open(LABELS_DIR / name, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        print(f"{name}: {len(rows)} labels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
