"""The ``triage`` command: argument parsing only; each subcommand calls one plain worker function.

Data goes to stdout, logs and progress to stderr. Exit codes: 0 done, 2 bad usage or input
(a one-line error), 3 some messages were skipped.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path

from classifier.frontends import cli_ledger
from classifier.labels import LABELS
from classifier.parse.message import normalise_address

log = logging.getLogger("classifier")


# ---------------------------------------------------------------- workers (tests call these directly)
# Each imports what it needs when it runs, not this module: `triage filter --connect` starts a process
# per message and must not pay seconds for scikit-learn and spaCy that only scoring needs.


def corpus_build(project: Path, home: Path, out: Path) -> dict:
    """Build the corpus from the data home's public datasets and the checkout's written messages and
    labels; returns label counts."""
    from classifier.training.corpus import build_corpus, counts, update_data_card, write_corpus

    rows, report = build_corpus(project, home)
    write_corpus(rows, out)
    if (project / "README.md").is_file():
        update_data_card(rows, project / "README.md")
    for reason, n in sorted(report.items()):
        log.info("%-40s %6d", reason, n)
    return counts(rows)


def classify_text(text: str, subject: str = "", model: str | None = None, top: int = 8) -> dict:
    """Label one text; returns the ``Classification`` as a dict."""
    from classifier.classify.predict import Classifier

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
    build = corpus.add_parser("build", help="build the corpus from the data home and data/written, data/labels")
    _data_home_option(build)
    build.add_argument("-o", "--output", type=Path, default=None,
                       help="corpus file (default: data/build/corpus.jsonl, which git ignores)")
    build.set_defaults(func=_cmd_corpus_build)

    train = commands.add_parser("train", help="train and compare the candidates; save the best")
    train.add_argument("--corpus", type=Path, default=None, help="default: data/build/corpus.jsonl")
    _data_home_option(train)
    train.add_argument("--model", default=None, help="model name under models/ or a folder")
    train.add_argument("--candidates", default=None,
                       help="comma-separated subset of logreg, logreg_calibrated, complement_nb, linear_svc, "
                            "spacy_textcat (default: all)")
    train.set_defaults(func=_cmd_train)

    evaluate = commands.add_parser("evaluate", help="measure a saved model; write its metrics and model card")
    evaluate.add_argument("--model", default=None)
    evaluate.add_argument("--corpus", type=Path, default=None, help="default: data/build/corpus.jsonl")
    _data_home_option(evaluate)
    evaluate.add_argument("--before", type=Path, default=None,
                          help="metrics.json of the previous model: print a before/after table")
    evaluate.set_defaults(func=_cmd_evaluate)

    classify = commands.add_parser("classify", help="label one text: label, probabilities, driving words")
    classify.add_argument("text", help="the message text, or - to read it from stdin")
    classify.add_argument("--subject", default="")
    classify.add_argument("--model", default=None)
    classify.add_argument("--json", action="store_true", help="print JSON instead of text")
    classify.set_defaults(func=_cmd_classify)

    score = commands.add_parser(
        "score", help="score inbox exports: label, action, reasons and reply for every inbound message",
        description="Score every inbound message of one or more exports (mbox, Maildir, a folder of .eml, "
                    "one .eml, Outlook or generic CSV, JSONL, or - for stdin) against the history the export "
                    "itself holds, plus --history and --ledger. The ledger is only read, never written.",
        epilog="Exit status: 0 every message was scored; 2 a missing file, an unknown format or bad usage; "
               "3 some messages could not be read and were skipped (listed in the summary on stderr).")
    score.add_argument("inputs", nargs="+", metavar="INPUT", help="export file or folder, or - for stdin")
    score.add_argument("-o", "--output", default=None, help="output file (default: stdout)")
    score.add_argument("--format", default=None, choices=("jsonl", "csv", "parquet"),
                       help="output format (default: from the -o suffix, else jsonl)")
    score.add_argument("--history", default=None, help="ledger events (JSONL or CSV) to weigh asks against")
    score.add_argument("--ledger", default=None, help="ledger database to read (never written by scoring)")
    score.add_argument("--me", action="append", default=[], metavar="ADDRESS",
                       help="your own address (repeatable); default: the most frequent sender of Sent mail")
    score.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                       help="processes, or with --engine dask the local cluster's workers (default: every core)")
    score.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    score.add_argument("--model", default=None)
    score.add_argument("--policy", default=None, help="policy TOML overriding the defaults")
    score.add_argument("--input-format", default=None, help="mbox, maildir, eml, csv or jsonl (default: detect)")
    _reply_options(score)
    for column in ("text", "sender", "date", "subject", "id"):
        score.add_argument(f"--{column}-col", default=None, help=f"generic CSV: the {column} column")
    score.add_argument("--engine", default="local", choices=("local", "dask"),
                       help="local: this machine, --jobs processes (default); dask: a Dask cluster, writing a "
                            "Parquet dataset (one part per partition) to the -o folder (docs/scaling.md)")
    score.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                       help="with --engine dask: a running cluster's scheduler (default: start a local "
                            "cluster of --jobs workers on 127.0.0.1)")
    score.set_defaults(func=_cmd_score)

    filter_ = commands.add_parser(
        "filter", help="mail filter: read one message on stdin, write it with X-Outreach-* headers added",
        description="Read one RFC 5322 message on stdin and write it to stdout with X-Outreach-Label, -Action, -Review, "
                    "-Score, -Reasons and -Model inserted at the top of the header block. Every original byte "
                    "passes through unchanged. On any error the message passes through untouched (fail open).",
        epilog="Exit status: 0, also when the message passed through unscored after an error; 75 (EX_TEMPFAIL) "
               "instead with --tempfail, for MTAs that retry.")
    _filter_options(filter_)
    filter_.add_argument("--action-only", action="store_true", help="print only the action (for Sieve)")
    filter_.add_argument("--learn", action="store_true", help="record the ask in the ledger, once per Message-ID")
    filter_.add_argument("--tempfail", action="store_true", help="exit 75 on error instead of 0")
    filter_.add_argument("--timeout", type=_seconds, default=20.0,
                         help="seconds before failing open (default 20; above 0, at most 3600)")
    filter_.add_argument("--connect", default=None, metavar="ADDR",
                         help="use a running `triage serve` (unix:/path or 127.0.0.1:PORT); score here if it is down")
    filter_.set_defaults(func=_cmd_filter)

    serve = commands.add_parser("serve", help="keep the model loaded for `triage filter --connect`")
    _filter_options(serve)
    serve.add_argument("address", help="unix:/path/to/socket or 127.0.0.1:PORT (loopback only)")
    serve.add_argument("--allow-learn", action="store_true",
                       help="record the asks of clients that run `triage filter --learn` (off by default: "
                            "any local client can reach the daemon, so writing the ledger is the owner's choice)")
    serve.set_defaults(func=_cmd_serve)

    cli_ledger.add_commands(commands)
    return parser


def _data_home_option(parser) -> None:
    parser.add_argument("--data-home", default=None, metavar="DIR",
                        help="the folder holding the public datasets: data/real/ (training pool) and eval/real/ "
                             "(evaluation only); default: $OUTREACH_DATA_HOME")


def _corpus(given: Path | None) -> Path:
    from classifier.training.paths import corpus_path

    path = given or corpus_path()
    if not path.is_file():
        raise ValueError(f"no corpus at {path}: build it first with `triage corpus build --data-home DIR` "
                         "(make corpus)")
    return path


def _cmd_corpus_build(args) -> int:
    from classifier.training.paths import corpus_path, data_home, project_data

    tally = corpus_build(project_data(), data_home(args.data_home), args.output or corpus_path())
    print(json.dumps(tally))
    return 0


def _cmd_train(args) -> int:
    from classifier.classify.model import DEFAULT_MODEL
    from classifier.training.candidates import CANDIDATES
    from classifier.training.paths import data_home
    from classifier.training.train import train

    candidates = tuple(c.strip() for c in args.candidates.split(",")) if args.candidates else CANDIDATES
    home = data_home(args.data_home)
    metrics = train(_corpus(args.corpus), args.model or DEFAULT_MODEL, candidates, home)
    print(json.dumps({"held_out_macro_f1": round(metrics["held_out"]["macro_f1"], 4),
                      "real_test_macro_f1": round((metrics["real"].get("test") or {}).get("macro_f1_measured", 0), 4)}))
    return 0


def _cmd_evaluate(args) -> int:
    from classifier.classify.model import DEFAULT_MODEL
    from classifier.training.evaluate import before_after_table, metrics_table, real_table
    from classifier.training.paths import data_home
    from classifier.training.train import evaluate_saved

    before = None
    if args.before is not None:
        before = json.loads(args.before.read_text(encoding="utf-8"))  # read first: evaluate rewrites it
    metrics = evaluate_saved(args.model or DEFAULT_MODEL, _corpus(args.corpus), data_home(args.data_home))
    print(metrics_table(metrics["held_out"]))
    print()
    print(real_table(metrics["real"]))
    print()
    print(f"short messages/s on one core: {metrics['speed']['short_messages_per_second']:,.0f}")
    if before is not None:
        print()
        print(before_after_table(before, metrics))
    return 0


def run_score(options, quiet: bool = False, engine: str = "local", scheduler: str | None = None) -> int:
    """Score, print the summary on stderr, and return the exit code (0; 3 when some were skipped; 1 when
    the output could not be written)."""
    from classifier.run.batch import score
    from classifier.run.job import format_summary
    from classifier.run.writers import OutputError

    with ProgressBars(disable=quiet or not sys.stderr.isatty()) as bars:
        try:
            if engine == "dask":
                from classifier.run.distributed import score_dask

                summary = score_dask(options, scheduler=scheduler, progress=lambda n: bars("scoring", n))
            else:
                summary = score(options, progress=bars)
        except OutputError as error:
            bars.close()
            return _cannot_write(error)
    if not quiet:
        print(format_summary(summary), file=sys.stderr)
    return summary.exit_code


class ProgressBars:
    """tqdm bars on stderr, one per stage ("reading", then "weighing"): messages, messages/s, and an ETA
    whenever the stage's total is known or estimated (batch estimates it from the export's size)."""

    def __init__(self, disable: bool, file=None):
        self.disable, self.file, self.stage, self.bar = disable, file, None, None

    def __call__(self, stage: str, n: int, total: int | None = None) -> None:
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(desc=stage, unit=" msg", total=total, file=self.file or sys.stderr, disable=self.disable)
        elif total is not None and total != self.bar.total:
            self.bar.total = total
        self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _cmd_score(args) -> int:
    from classifier.parse.sources import CsvColumns
    from classifier.run.job import ScoreOptions

    if args.jobs < 1:
        raise ValueError(f"--jobs {args.jobs} is not a number of processes; expected 1 or more")
    if args.scheduler is not None and args.engine != "dask":
        raise ValueError(f"--scheduler {args.scheduler} needs --engine dask; the local engine has no scheduler")
    if args.engine == "dask":
        fmt = args.format or "parquet"
    else:
        fmt = args.format or output_format(args.output)
    for address in args.me:
        if normalise_address(address) is None:
            raise ValueError(f"--me {address!r} is not an e-mail address; expected one such as you@example.com")
    columns = None
    if any(getattr(args, f"{c}_col") for c in ("text", "sender", "date", "subject", "id")):
        defaults = CsvColumns()
        columns = CsvColumns(**{c: getattr(args, f"{c}_col") or getattr(defaults, c)
                                for c in ("text", "sender", "date", "subject", "id")})
    options = ScoreOptions(inputs=args.inputs, output=args.output, format=fmt, history=args.history,
                           ledger=args.ledger, me=args.me, jobs=args.jobs, model=args.model,
                           policy=args.policy, input_format=args.input_format, columns=columns,
                           signature=args.signature.replace("\\n", "\n"), templates=args.templates)
    return run_score(options, quiet=args.quiet, engine=args.engine, scheduler=args.scheduler)


OUTPUT_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet"}


def output_format(output: str | None) -> str:
    """The output format -o names by its extension; JSONL for stdout or a name without one. Any other
    extension is an error: a file called out.xlsx must not hold JSON lines."""
    suffix = Path(output).suffix.lower() if output and output != "-" else ""
    if not suffix:
        return "jsonl"
    if suffix not in OUTPUT_SUFFIXES:
        raise ValueError(f"cannot tell the output format of {output!r} from its extension {suffix!r}; expected "
                         f"{', '.join(OUTPUT_SUFFIXES)}, or give --format jsonl, csv or parquet")
    return OUTPUT_SUFFIXES[suffix]


def _reply_options(parser) -> None:
    parser.add_argument("--signature", default=os.environ.get("OUTREACH_SIGNATURE", ""), metavar="TEXT",
                        help="your sign-off under every reply draft, e.g. 'Best, Maya' (\\n for a new line; "
                             "default: $OUTREACH_SIGNATURE, else none)")
    parser.add_argument("--templates", default=None, metavar="DIR",
                        help="your own reply templates, read before the packaged ones (README, Replies; "
                             "default: $OUTREACH_TEMPLATES)")


def _filter_options(parser) -> None:
    parser.add_argument("--model", default=None)
    parser.add_argument("--policy", default=None)
    parser.add_argument("--ledger", default=None, help="ledger database (default: TRIAGE_LEDGER or ~/.local/share/"
                                                        "outreach-triage/ledger.db when it exists)")


def _seconds(value: str) -> float:
    from classifier.frontends.mailfilter import check_timeout

    try:
        return check_timeout(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _cmd_filter(args) -> int:
    from classifier.frontends.mailfilter import FilterOptions, read_message, run_filter

    options = FilterOptions(model=args.model, policy=args.policy, ledger=args.ledger, learn=args.learn,
                            action_only=args.action_only, tempfail=args.tempfail, timeout=args.timeout,
                            connect=args.connect)
    raw, more = read_message(sys.stdin.buffer)
    return run_filter(raw, options, sys.stdout.buffer, sys.stderr, rest=sys.stdin.buffer if more else None)


def _cmd_serve(args) -> int:
    from classifier.frontends.mailfilter import FilterOptions, serve

    return serve(args.address, FilterOptions(model=args.model, policy=args.policy, ledger=args.ledger),
                 allow_learn=args.allow_learn)


def _cmd_classify(args) -> int:
    text = sys.stdin.read() if args.text == "-" else args.text
    result = classify_text(text, subject=args.subject, model=args.model)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        _print_classification(result)
    return 0


def _usage_errors() -> tuple[type[Exception], ...]:
    """The errors reported in one line with exit 2, looked up once one is raised. A ModelError can only
    exist if .model was imported, so it is not imported here: `filter --connect` must not load scikit-learn."""
    from classifier.weigh.ledger import LedgerError

    model = sys.modules.get("classifier.classify.model")
    return (LedgerError, ValueError, FileNotFoundError) + ((model.ModelError,) if model else ())


def _cannot_write(error) -> int:
    print(f"triage: {error}; no output file was left behind", file=sys.stderr)
    return 1


class Terminated(BaseException):
    """SIGTERM, raised where the job is, so that its clean-up runs as for Ctrl-C (BaseException: no
    ``except Exception`` may take it for an error of one message)."""


def _terminate(signum, frame):
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if args.command == "score":
        signal.signal(signal.SIGTERM, _terminate)
    try:
        return args.func(args)
    except _usage_errors() as error:
        print(f"triage: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`triage score ... | head`): stop quietly, as grep does, and keep Python from
        # complaining again when it flushes stdout on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("triage: interrupted; no output file was left behind", file=sys.stderr)
        return 130
    except Terminated:
        print("triage: terminated; no output file was left behind", file=sys.stderr)
        return 143


if __name__ == "__main__":
    sys.exit(main())
