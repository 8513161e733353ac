"""Scoring on a Dask cluster: the batch job's two stages (run.stages), scheduled by Dask.

    triage score exports/*.mbox -o scored/ --format parquet --engine dask [--scheduler tcp://HOST:8786]

Only the scheduling differs from ``run.batch.score``; the work is done by the same functions:

1. **content**, one task per input (an mbox file, a Maildir folder, a CSV or JSONL file):
   ``stages.content_stage`` over its messages, a chunk at a time; each message's history row
   (weigh.history) and its ContentRow (``stages.to_spool``) go to one Parquet part of a scratch
   folder. Embarrassingly parallel: this is the stage that scales with the workers.
2. **relationship**: with every part written, the user's addresses are known (``history.find_me``)
   and the messages the user replied to are looked up (``history.reply_parents``). Each part becomes
   records keyed by sender: its scored messages, and the events ``history.export_events`` finds in
   it (an event is keyed by the sender it is about: for the user's reply, the recipient). One shuffle
   brings each sender's records together; each partition runs ``stages.relate`` per sender and writes
   one part of the output dataset (``part.NNNNN.parquet``, the columns of writers.FLAT_COLUMNS).

Workers load the model once per process, from a path every worker can read, hash-checked like any
load (``worker_classifier``); tasks carry the model's path, never the model. The --ledger and
--history events go to the workers as a Parquet file (``write_known_events``), read once per worker
process, as does the small table of replied-to messages. Every path (the inputs, the model, -o) must
name the same thing on every worker: on a cluster, a shared filesystem. The scratch folder is made
inside OUT_DIR (``.triage-*``, which Parquet readers skip), so it is shared too, and removed at the end.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from classifier.run.job import CHUNK, Outcome, ScoreOptions, Summary
from classifier.run.pool import chunks
from classifier.recommend.replies import user_templates_dir
from classifier.run.stages import ReplySettings, content_stage, from_spool, relate, to_spool
from classifier.weigh.ledger import Ledger, read_events
from classifier.weigh.people import People, load_people
from classifier.weigh.tie import WARM_FROM_YOU, WORDS_KINDS, YOUR_KINDS
from classifier.weigh.history import (ExportEvent, export_events, find_me, history_row, reply_parents, to_events,
                                      unique_events)
from classifier.weigh.events import Event
from classifier.classify.model import DEFAULT_MODEL, model_dir
from classifier.policy import Policy, load_policy
from classifier.parse.sources import CsvColumns, Unreadable, input_format, iter_records
from classifier.classify.predict import Classifier
from classifier.run.writers import open_writer

log = logging.getLogger("classifier")

PART = "part.{:05d}.parquet"
SEQ_STRIDE = 1 << 40
"""seq = input number * SEQ_STRIDE + position: the export's order, without counting across tasks."""
CONTENT_SCHEMA = pa.schema([
    ("seq", pa.int64()), ("id", pa.string()), ("sender", pa.string()), ("date", pa.string()),
    ("to", pa.string()), ("in_reply_to", pa.string()), ("label", pa.string()), ("role", pa.string()),
    ("signal", pa.string()), ("fingerprint", pa.string()), ("warm", pa.bool_()), ("kin", pa.bool_()),
    ("name", pa.string()),
    ("row", pa.large_string()),
])
"""A content part: batch.HISTORY_COLUMNS (recipients joined by newlines) and the content row as JSON."""
CONTENT_ROW_GROUP = 2000
KNOWN_SCHEMA = pa.schema([
    ("match", pa.string()), ("sender", pa.string()), ("date", pa.string()), ("kind", pa.string()),
    ("weight", pa.float64()), ("note", pa.string()), ("source", pa.string()), ("label", pa.string()),
])
"""The --history and ledger events, each once per sender key it counts for (``match``)."""
ROUTED = {"key": "str", "seq": "int64", "date": "str", "kind": "str", "label": "str", "fingerprint": "str",
          "note": "str", "row": "str"}
"""A record for the shuffle: a scored message (kind is null, row its content row) or an export event."""

_classifiers: dict[str, Classifier] = {}
"""The models this worker process has loaded, by path."""


@dataclass
class ContentPart:
    """What a content task tells the client about its input."""

    index: int
    path: str
    records: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    roles: Counter = field(default_factory=Counter)  # not scored by design: sent, draft, chat
    sent_senders: Counter = field(default_factory=Counter)  # for batch.find_me


# ---------------------------------------------------------------- worker side


def worker_classifier(model_path: str) -> Classifier:
    """The model at ``model_path``, loaded once per worker process. Like any load, it is refused
    (ModelError) when its sha256 or library versions differ from its manifest."""
    if model_path not in _classifiers:
        _classifiers[model_path] = Classifier.load(model_path)
    return _classifiers[model_path]


def content_part(index: int, source: str, out: str, model_path: str, me: frozenset[str],
                 input_format: str | None, columns: CsvColumns | None) -> ContentPart:
    """Stage 1 for one input: stages.content_stage a chunk at a time, rows written to the part ``out``."""
    classifier = worker_classifier(model_path)
    part = ContentPart(index, out)
    buffer: list[dict] = []
    position = 0
    with pq.ParquetWriter(out, CONTENT_SCHEMA) as writer:
        for chunk in chunks(iter_records(source, input_format, columns), CHUNK):
            part.records += len(chunk)
            for row in content_stage(chunk, classifier, me):
                if isinstance(row, Unreadable):
                    part.unreadable.append((row.origin, row.reason))
                    continue
                message = row.message
                history = history_row(index * SEQ_STRIDE + position, message, row.label, row.signal, row.warm,
                                      row.kin)
                position += 1
                if message.role is not None:
                    part.roles[message.role] += 1
                if message.role == "sent" and message.sender is not None:
                    part.sent_senders[message.sender] += 1
                buffer.append({**history, "to": "\n".join(history["to"]), "row": to_spool(row).decode()})
            if len(buffer) >= CONTENT_ROW_GROUP:
                writer.write_table(pa.Table.from_pylist(buffer, schema=CONTENT_SCHEMA))
                buffer = []
        writer.write_table(pa.Table.from_pylist(buffer, schema=CONTENT_SCHEMA))
    return part


@lru_cache(maxsize=1)
def _parents(path: str) -> dict:
    return reply_parents(pq.read_table(path).to_pylist())


@lru_cache(maxsize=1)
def _known(path: str) -> dict[str, list[Event]]:
    known: dict[str, list[Event]] = {}
    for row in pq.read_table(path).to_pylist():
        known.setdefault(row.pop("match"), []).append(Event(**row))
    return known


def route_part(path: str, me: tuple[str, ...], parents_path: str):
    """A content part as records for the shuffle: its scored messages under their sender, and its
    export events under the sender they are about."""
    import pandas as pd

    me_set = frozenset(me)
    rows = pq.read_table(path).to_pylist()
    for row in rows:
        row["to"] = row["to"].split("\n") if row["to"] else []
    records: dict[str, list] = {name: [] for name in ROUTED}

    def add(key, seq, date, kind, label, mark, note, row) -> None:
        for name, value in zip(ROUTED, (key, seq, date, kind, label, mark, note, row)):
            records[name].append(value)

    for row in rows:
        if row["role"] is None and row["sender"] not in me_set:
            add(row["sender"] or "", row["seq"], row["date"], None, None, row["fingerprint"], None,
                row["row"])  # "": unknown
    for event in export_events(rows, me_set, _parents(parents_path)):
        add(event.sender, event.seq, event.date, event.kind, event.label, event.fingerprint, event.note, None)
    return pd.DataFrame({name: pd.Series(records[name], dtype=dtype) for name, dtype in ROUTED.items()})


def relate_part(records, index: int, policy: Policy, known_path: str, out_dir: str, people: People | None = None,
                replies: ReplySettings | None = None) -> Summary:
    """Stage 2 for one partition of senders (``records``: route_part's frames after the shuffle):
    stages.relate per sender, written as one part of the output dataset."""
    messages: dict[str, list[dict]] = defaultdict(list)
    events: dict[str, list[ExportEvent]] = defaultdict(list)
    for r in pa.Table.from_pandas(records, preserve_index=False).to_pylist():
        if r["kind"] is None:
            messages[r["key"]].append(r)
        else:
            events[r["key"]].append(ExportEvent(r["key"], r["date"], r["kind"], r["label"], r["seq"], r["fingerprint"],
                                                r["note"] or ""))
    known = _known(known_path)
    summary = Summary()
    with open_writer("parquet", str(Path(out_dir) / PART.format(index))) as writer:
        for key in sorted(messages):
            ordered = sorted(messages[key], key=lambda r: (r["date"] is None, r["date"] or "", r["seq"]))
            rows = [from_spool(r["row"]) for r in ordered]
            exported = to_events(unique_events(sorted(events[key], key=lambda e: (e.date, e.seq))))
            for assessment in relate(rows, exported, known.get(key, []) if key else [], policy, people=people,
                                     replies=replies):
                writer.write(assessment)
                summary.count(Outcome.of(assessment))
    return summary


# ---------------------------------------------------------------- client side


def write_known_events(path: Path, ledger: str | None, history: str | None) -> int:
    """The --history file's and the ledger's events as Parquet, for the workers; returns the rows.

    A history event counts for its own sender (Triage.events_for); a ledger event for every key of
    its sender's alias group (Ledger.events), so each is written once per key, under ``match``.
    """
    rows = []
    if history is not None:
        rows += [{"match": e.sender, **e.as_row()} for e in read_events(history)]
    if ledger is not None:
        with Ledger(ledger) as book:
            keys: dict[str, list[str]] = {}
            for e in book.all_events():
                if e.sender not in keys:
                    keys[e.sender] = book.keys(e.sender)
                rows += [{"match": key, **e.as_row()} for key in keys[e.sender]]
    pq.write_table(pa.Table.from_pylist(rows, schema=KNOWN_SCHEMA), path)
    return len(rows)


def _check_inputs(options: ScoreOptions) -> list[str]:
    """The inputs as absolute paths, each checked to exist with a format that can be told, before any
    work starts: a worker cannot read the client's stdin, and a bad name should fail at once."""
    paths = []
    for source in options.inputs:
        if source == "-":
            raise ValueError("--engine dask reads files every worker can open; '-' (stdin) is not one: "
                             "save the export to a file first")
        input_format(Path(source), options.input_format)
        paths.append(str(Path(source).resolve()))
    return paths


def _output_dir(options: ScoreOptions) -> Path:
    if options.format != "parquet" or options.output in (None, "-"):
        raise ValueError(f"--engine dask writes a Parquet dataset: give --format parquet and -o OUT_DIR "
                         f"(got --format {options.format}, -o {options.output or '-'})")
    out = Path(options.output).resolve()
    if out.exists() and not out.is_dir():
        raise ValueError(f"-o {options.output} is a file; --engine dask writes a folder of Parquet parts")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("part.*.parquet"):  # a rerun replaces the dataset, as -o replaces a file
        old.unlink()
    return out


@contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator:
    """A client of the cluster at ``scheduler``, or of a new LocalCluster (on 127.0.0.1) of ``workers``
    single-threaded worker processes."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler)
        except OSError as error:
            raise ValueError(f"cannot reach the Dask scheduler {scheduler}: {error}") from None
        with client:
            yield client
        return
    # The scheduler runs in this process: its notes on each shuffle's start and end are not for the terminal.
    logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


def _timed(stage: str, started: float) -> float:
    now = time.perf_counter()
    log.debug("dask %s: %.2f s", stage, now - started, extra={"stage": stage, "seconds": now - started})
    return now


def _known_people(content_paths: list[str], routed, ledger: str | None) -> People:
    """Who the user knows, as batch.known_people finds them: the ledger's people, and the names of the
    people the export shows the user writing to (a ``corresponded`` or ``replied`` event, warm or kin words
    from the user)."""
    import dask
    import dask.dataframe as dd

    wrote = routed[routed.kind.isin(list(YOUR_KINDS))
                   | (routed.kind.isin(list(WORDS_KINDS)) & (routed.note == WARM_FROM_YOU))]
    [written_to] = dask.compute(wrote.key.unique())
    content = dd.read_parquet(content_paths, columns=["sender", "name", "role"])
    named = content[content.role.isnull() & content.sender.isin(list(written_to)) & (content.name != "")]
    people = People()
    for sender, name in named[["sender", "name"]].drop_duplicates().compute().itertuples(index=False):
        people.know(sender, name)
    if ledger is None:
        return people
    with Ledger(ledger) as store:
        return load_people(store).merged(people)


def score_dask(options: ScoreOptions, scheduler: str | None = None,
               progress: Callable[[int], None] | None = None) -> Summary:
    """Score every inbound message of ``options.inputs`` on a Dask cluster (``scheduler``: its address;
    None starts a LocalCluster of ``options.jobs`` workers); write the Parquet dataset ``options.output``;
    return the summary. Same labels, actions and standings as ``batch.score``; the row order differs."""
    try:
        import dask
        import dask.dataframe as dd
        from distributed import as_completed
    except ImportError:
        raise ValueError("--engine dask needs Dask: pip install 'outreach-triage[dask]'") from None

    sources = _check_inputs(options)
    policy = load_policy(options.policy)
    model_path = str(model_dir(options.model or DEFAULT_MODEL).resolve())
    out = _output_dir(options)  # last: it clears the previous dataset
    given_me = frozenset(address.strip().lower() for address in options.me)
    summary = Summary()
    scratch = Path(tempfile.mkdtemp(prefix=".triage-", dir=out))
    try:
        started = time.perf_counter()
        known_path = str(scratch / "known-events.parquet")
        write_known_events(Path(known_path), options.ledger, options.history)
        (scratch / "content").mkdir()
        with dask_client(scheduler, options.jobs) as client:
            started = _timed("start", started)
            futures = client.map(content_part, range(len(sources)), sources,
                                 [str(scratch / "content" / PART.format(i)) for i in range(len(sources))],
                                 model_path=model_path, me=given_me, input_format=options.input_format,
                                 columns=options.columns, pure=False)
            parts: list[ContentPart] = []
            for future in as_completed(futures):
                part = future.result()
                parts.append(part)
                if progress is not None:
                    progress(part.records)
            parts.sort(key=lambda p: p.index)
            started = _timed("content", started)

            sent: Counter = Counter()
            for part in parts:
                sent.update(part.sent_senders)
                summary.not_scored.update(part.roles)
                summary.unreadable.extend(part.unreadable)
            summary.me = find_me(given_me, sent)

            # The messages the user replied to, for export_events; a small table every worker reads.
            content = dd.read_parquet([p.path for p in parts], columns=["id", "sender", "date", "in_reply_to",
                                                                        "label", "role", "fingerprint"])
            own = content[(content.role == "sent") | content.sender.isin(summary.me)]
            replied = own[own.date.notnull() & (own.in_reply_to != "")].in_reply_to.unique(split_out=1)
            own_inbox = (content.role.isnull() & content.sender.isin(summary.me)).sum()
            repeated = content.fingerprint.count() - content.fingerprint.nunique()
            replied, own_inbox, repeated = dask.compute(replied, own_inbox, repeated)
            summary.repeated = int(repeated)
            if own_inbox:
                summary.not_scored["your own message"] += int(own_inbox)
            parents = content[content.id.isin(list(replied))][["id", "sender", "label"]].compute()
            parents_path = str(scratch / "parents.parquet")
            pq.write_table(pa.Table.from_pandas(parents, preserve_index=False), parents_path)
            started = _timed("parents", started)

            routed = dd.from_map(route_part, [p.path for p in parts], me=tuple(summary.me),
                                 parents_path=parents_path, meta=dict(ROUTED))
            people = _known_people(content_paths=[p.path for p in parts], routed=routed, ledger=options.ledger)
            replies = ReplySettings(options.signature, user_templates_dir(options.templates))
            partitions = max(len(parts), sum(client.nthreads().values()))
            by_sender = routed.shuffle(on="key", npartitions=partitions)
            tasks = [dask.delayed(relate_part)(records, i, policy, known_path, str(out), people, replies)
                     for i, records in enumerate(by_sender.to_delayed())]
            for part_summary in client.gather(client.compute(tasks)):
                summary.add(part_summary)
            _timed("relationship", started)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return summary
