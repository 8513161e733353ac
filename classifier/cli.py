"""The ``triage`` command: argument parsing only; each subcommand calls one plain worker function.

Data goes to stdout, logs and progress to stderr. Exit codes: 0 done, 2 bad usage or input
(a one-line error), 3 some messages were skipped.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .labels import LABELS

log = logging.getLogger("classifier")


# ---------------------------------------------------------------- workers (tests call these directly)


def corpus_build(data_dir: Path, out: Path) -> dict:
    """Build the corpus from data/raw, data/written and data/labels; returns label counts."""
    from .corpus import build_corpus, counts, update_data_card, write_corpus

    rows, report = build_corpus(data_dir)
    write_corpus(rows, out)
    if (data_dir / "README.md").is_file():
        update_data_card(rows, data_dir / "README.md")
    for reason, n in sorted(report.items()):
        log.info("%-40s %6d", reason, n)
    return counts(rows)


def classify_text(text: str, subject: str = "", model: str | None = None, top: int = 8) -> dict:
    """Label one text; returns the ``Classification`` as a dict."""
    from .triage import Classifier

    return Classifier.load(model).classify(text, subject=subject, top=top).to_dict()


def _print_classification(result: dict) -> None:
    print(f"label: {result['label']}  ({result['probabilities'][result['label']]:.2f})")
    for label in LABELS:
        p = result["probabilities"][label]
        print(f"  {label:<14} {p:5.2f} {'█' * round(p * 30)}")
    if result["top_features"]:
        print("driven by: " + ", ".join(f"{f['feature']} ({f['weight']:+.2f})" for f in result["top_features"]))


# ---------------------------------------------------------------- parsing


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triage",
        description="Label the asks in an inbox and recommend accept, educate or decline.",
        epilog="Exit status: 0 done; 2 bad usage, missing file or unknown format; 3 some messages skipped.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    corpus = commands.add_parser("corpus", help="build the labelled corpus").add_subparsers(
        dest="corpus_command", required=True, metavar="SUBCOMMAND")
    build = corpus.add_parser("build", help="build data/corpus.jsonl from data/raw, data/written, data/labels")
    build.add_argument("--data", type=Path, default=None, help="data folder (default: the project's data/)")
    build.add_argument("-o", "--output", type=Path, default=None, help="corpus file (default: data/corpus.jsonl)")
    build.set_defaults(func=_cmd_corpus_build)

    train = commands.add_parser("train", help="train and compare the candidates; save the best")
    train.add_argument("--corpus", type=Path, default=None)
    train.add_argument("--model", default=None, help="model name under models/ or a folder")
    train.add_argument("--candidates", default=None,
                       help="comma-separated subset of logreg, logreg_calibrated, complement_nb, linear_svc, "
                            "spacy_textcat (default: all)")
    train.set_defaults(func=_cmd_train)

    evaluate = commands.add_parser("evaluate", help="measure a saved model; write its metrics and model card")
    evaluate.add_argument("--model", default=None)
    evaluate.add_argument("--corpus", type=Path, default=None)
    evaluate.add_argument("--before", type=Path, default=None,
                          help="metrics.json of the previous model: print a before/after table")
    evaluate.set_defaults(func=_cmd_evaluate)

    classify = commands.add_parser("classify", help="label one text: label, probabilities, driving words")
    classify.add_argument("text", help="the message text, or - to read it from stdin")
    classify.add_argument("--subject", default="")
    classify.add_argument("--model", default=None)
    classify.add_argument("--json", action="store_true", help="print JSON instead of text")
    classify.set_defaults(func=_cmd_classify)

    try:
        from . import cli_ledger
    except ImportError:  # the ledger commands arrive with the ledger module
        cli_ledger = None
    if cli_ledger is not None:
        cli_ledger.add_commands(commands)
    return parser


def _cmd_corpus_build(args) -> int:
    from .corpus import CORPUS_PATH, DATA_DIR

    tally = corpus_build(args.data or DATA_DIR, args.output or CORPUS_PATH)
    print(json.dumps(tally))
    return 0


def _cmd_train(args) -> int:
    from .corpus import CORPUS_PATH
    from .model import CANDIDATES, DEFAULT_MODEL
    from .train import train

    candidates = tuple(c.strip() for c in args.candidates.split(",")) if args.candidates else CANDIDATES
    metrics = train(args.corpus or CORPUS_PATH, args.model or DEFAULT_MODEL, candidates)
    print(json.dumps({"held_out_macro_f1": round(metrics["held_out"]["macro_f1"], 4)}))
    return 0


def _cmd_evaluate(args) -> int:
    from .corpus import CORPUS_PATH
    from .evaluate import before_after_table, metrics_table, real_table
    from .model import DEFAULT_MODEL
    from .train import evaluate_saved

    before = None
    if args.before is not None:
        before = json.loads(args.before.read_text(encoding="utf-8"))  # read first: evaluate rewrites it
    metrics = evaluate_saved(args.model or DEFAULT_MODEL, args.corpus or CORPUS_PATH)
    print(metrics_table(metrics["held_out"]))
    print()
    print(real_table(metrics["real"]))
    print()
    print(f"short messages/s on one core: {metrics['speed']['short_messages_per_second']:,.0f}")
    if before is not None:
        print()
        print(before_after_table(before, metrics))
    return 0


def _cmd_classify(args) -> int:
    text = sys.stdin.read() if args.text == "-" else args.text
    result = classify_text(text, subject=args.subject, model=args.model)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        _print_classification(result)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    from .model import ModelError

    try:
        return args.func(args)
    except (ModelError, ValueError, FileNotFoundError) as error:
        print(f"triage: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
