"""Scoring many messages on one machine: the main job.

Two stages (run.stages), so that every message is judged with the history as of its own date:
content (parse, classify, read signals) for every message, then, with the whole export's history
built (weigh.history), relate each message to its sender's events before its date. run.pool runs
both on a pool of processes; run.distributed runs them on a Dask cluster with the same results.

Memory stays flat however large the export: messages stream, ContentRows wait in a spool file (one
line each: stages.to_spool, stages.from_spool), history waits in SQLite (weigh.history.ExportHistory),
and each message is related once with its sender's events. Output keeps the input order.
"""

from __future__ import annotations

import tempfile
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from itertools import chain
from pathlib import Path

from classifier.parse.sources import RawMail, Unreadable, input_format, iter_all_records
from classifier.run.job import CHUNK, Outcome, ScoreOptions, Summary
from classifier.run.pool import ParseAhead, ParsedChunk, Workers, can_fork, chunks, fewer_collections, records_after, worker_state
from classifier.run.stages import ContentRow, content_stage, from_spool, relate, to_spool
from classifier.run.writers import open_writer, renderer
from classifier.triage import Triage
from classifier.weigh.history import ExportHistory, history_row
from classifier.weigh.people import People


def score(options: ScoreOptions, progress=None) -> Summary:
    """Score every inbound message of ``options.inputs``; write rows; return the summary.

    ``progress(stage, n, total)``, when given, is called as chunks finish: stage "reading" (stage 1;
    ``total`` estimated from the export's size, or None) then "weighing" (stage 2; ``total`` exact).
    """
    for source in options.inputs:  # a missing file or an unknown format: a quick error, before the model loads
        if source != "-":
            input_format(Path(source), options.input_format)
    summary = Summary()
    given_me = frozenset(address.strip().lower() for address in options.me)
    # Without a pool, this process loads the model and scores. A pool's workers, when they can be forked,
    # are forked from this process once it has loaded the model, and while it loads, a child process
    # parses the first messages on another core. Otherwise the workers start afresh and load it each.
    fork = options.jobs > 1 and can_fork()
    # The output first: one that cannot be written is said before any reading. It is written whole or
    # not at all, and the temporary folder (spool, history) goes on every way out, Ctrl-C included.
    with open_writer(options.format, options.output) as writer, tempfile.TemporaryDirectory(prefix="triage-") as tmp, \
            fewer_collections():
        ahead = (ParseAhead(options.inputs, options.input_format, options.columns, Path(tmp) / "ahead.pickle", CHUNK)
                 if fork and "-" not in options.inputs else None)
        workers = None
        try:
            triage = _load(options) if fork or options.jobs == 1 else None
            if fork:
                triage.classifier.prepare()  # made once here, not once per worker
            state = {"triage": triage, "me": given_me} if fork else None
            workers = Workers(options.jobs, state, partial(_spawned_state, options, given_me), _own_connections)
            parsed_ahead = ahead.finish() if ahead else []
            history = ExportHistory(Path(tmp) / "history.db")
            try:
                spool = Path(tmp) / "spool.jsonl"
                spooled_rows = _read(options, workers, triage, given_me, history, spool, summary, progress,
                                     parsed_ahead)
                summary.me = history.detect_me(options.me)
                history.build_events(summary.me)
                summary.repeated = history.repeated()
                _weigh(options, workers, triage, history, spool, spooled_rows, summary, progress, writer)
            finally:
                history.close()
        finally:
            if ahead is not None:
                ahead.close()
            if workers is not None:
                workers.close()
    return summary


def _load(options: ScoreOptions) -> Triage:
    """The model (hash-checked), the policy, the ledger and the history file of the job."""
    return Triage.load(options.model, options.policy, options.ledger, options.history,
                       signature=options.signature, templates=options.templates)


def _spawned_state(options: ScoreOptions, me: frozenset[str]) -> dict:
    """What a spawned worker loads for itself."""
    return {"triage": _load(options), "me": me}


def _own_connections(state: dict) -> None:
    """A forked worker opens its own ledger connection: an SQLite connection must not be used on both
    sides of a fork."""
    state["triage"].forget_connections()


# ---------------------------------------------------------------- stage 1


def _read(options: ScoreOptions, workers: Workers, triage: Triage | None, given_me: frozenset[str],
          history: ExportHistory, spool_path: Path, summary: Summary, progress,
          parsed_ahead: Sequence[ParsedChunk]) -> int:
    """Stage 1: ContentRows to the spool, history rows to the table; returns how many were spooled.
    ``parsed_ahead``: the export's first records, parsed while the model loaded (see run.pool)."""
    records = iter_all_records(options.inputs, options.input_format, options.columns)
    content = partial(_content_here, classifier=triage.classifier if triage else None, me=given_me)
    estimate = _TotalEstimate(options.inputs if progress is not None else [])
    chunked = chain(parsed_ahead, chunks(records_after(parsed_ahead, records), CHUNK))
    seq = 0
    with open(spool_path, "wb") as spool:
        for n, rows in workers.map(content, _content_chunk, estimate.chunks(chunked)):
            history_rows, lines = [], []
            for row in rows:
                if isinstance(row, Unreadable):
                    summary.unreadable.append((row.origin, row.reason))
                    continue
                history_rows.append({**row[0], "seq": seq})
                lines.append(row[1])
                seq += 1
            spool.writelines(line + b"\n" for line in lines)
            history.add(history_rows)
            if progress is not None:
                progress("reading", n, estimate.done(n))
    if progress is not None:
        progress("reading", 0, estimate.read)  # the estimate's end: what there was
    return seq


def _spooled(rows: list[ContentRow | Unreadable]) -> list:
    """Stage 1's rows as the main process takes them: (history row, spool line), Unreadable passed
    through. Made where the rows are made, so that a pool's workers do it, not the main process."""
    return [row if isinstance(row, Unreadable)
            else (history_row(0, row.message, row.label, row.signal, row.warm, row.kin), to_spool(row)) for row in rows]


def _content_here(records: list, classifier, me: frozenset[str]) -> list:
    return _spooled(content_stage(records, classifier, me))


def _content_chunk(records: list | ParsedChunk) -> list:
    """Stage 1 in a worker."""
    if isinstance(records, ParsedChunk):
        records = records.load()
    state = worker_state()
    return _spooled(content_stage(records, state["triage"].classifier, state["me"]))


# ---------------------------------------------------------------- stage 2


def _weigh(options: ScoreOptions, workers: Workers, triage: Triage | None, history: ExportHistory,
           spool_path: Path, spooled_rows: int, summary: Summary, progress, writer) -> None:
    """Stage 2: every spooled row weighed against the finished history; rows written in input order.
    The history no longer changes, so its chunks are independent too."""
    me = frozenset(summary.me)
    relate_here = partial(relate_spooled, history=history, triage=triage, me=me, render=renderer(options.format),
                          people=known_people(triage, history) if triage is not None else None)
    with open(spool_path, "rb") as spool:
        for _, results in workers.map(relate_here, _relate_chunk, chunks(spool, CHUNK), history.path, me,
                                      options.format):
            if progress is not None:
                progress("weighing", len(results), spooled_rows)
            for rendered, outcome in results:
                if rendered is None:
                    summary.not_scored[outcome] += 1
                    continue
                writer.write_rendered(rendered)
                summary.count(outcome)


def _relate_chunk(lines: list[bytes], history_path: str, me: frozenset[str], fmt: str) -> list:
    """Stage 2 in a worker: the history the main process built, opened read-only once per worker."""
    state = worker_state()
    history = state.get("history")
    if history is None or history.path != history_path:
        history = state["history"] = ExportHistory(history_path, read_only=True)
        state["people"] = known_people(state["triage"], history)
    return relate_spooled(lines, history, state["triage"], me, renderer(fmt), state["people"])


def known_people(triage: Triage, history: ExportHistory) -> People:
    """Who the user knows: the ledger's declared ties and names, and the people the export shows them
    writing to."""
    return triage.people.merged(history.known_people()) if triage.ledger is not None else history.known_people()


def relate_spooled(lines: list[bytes], history: ExportHistory, triage: Triage, me: frozenset[str], render,
                   people: People | None = None) -> list[tuple[object, object]]:
    """Stage 2 over spooled rows: (``render(assessment)``, Outcome) per scored message, and (None, why)
    for one not scored by design (the user's own mail, drafts, chats)."""
    results = []
    for line in lines:
        row = from_spool(line)
        message = row.message
        if message.role is not None or message.sender in me:
            results.append((None, message.role or "your own message"))
            continue
        # One message at a time, with the events before its date: memory stays flat.
        extra = triage.events_for(message.sender, message.date)
        exported = (history.timeline(message.sender, triage.policy) if message.sender is not None and not extra
                    else history.events(message.sender, message.date))
        for assessment in relate([row], exported, extra, triage.policy, people=people, replies=triage.replies):
            results.append((render(assessment), Outcome.of(assessment)))
    return results


class _TotalEstimate:
    """How many messages an export holds, estimated from its size and the bytes of those read so far,
    so that the progress bar can show an ETA. Only for mail files (mbox, Maildir, .eml), whose
    messages are most of their bytes; None for CSV, JSONL and stdin."""

    def __init__(self, inputs: list[str]):
        self.total_bytes = sum(_size(source) for source in inputs) if "-" not in inputs else 0
        self.sizes: deque[int] = deque()
        self.read = self.read_bytes = 0

    def chunks(self, chunks: Iterable[list | ParsedChunk]) -> Iterator[list | ParsedChunk]:
        for chunk in chunks:
            if self.total_bytes:
                self.sizes.append(chunk.raw_bytes if isinstance(chunk, ParsedChunk)
                                  else sum(len(r.raw) for r in chunk if isinstance(r, RawMail)))
            yield chunk

    def done(self, n: int) -> int | None:
        """Count ``n`` more messages read (chunks finish in order); the estimated total, or None."""
        self.read += n
        self.read_bytes += self.sizes.popleft() if self.sizes else 0
        if not self.total_bytes or not self.read_bytes:
            return None
        return max(self.read, round(self.read * self.total_bytes / self.read_bytes))


def _size(source: str) -> int:
    path = Path(source)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
