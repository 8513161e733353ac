"""The local engine's processes: a pool of workers, forked or spawned, the garbage collector tuned,
and parsing ahead while the model loads. Every speed trick of run.batch is here; what the workers
compute is run.stages'.

- **Forked workers** start with the model the main process loaded (``gc.freeze`` keeps their pages
  shared); where forking is unsafe (macOS, or another thread running) they are spawned and load it.
- **Parsing ahead** (``ParseAhead``): while the main process loads the model on one core, a child
  process parses the export's first messages (MIME, charsets, HTML: no model needed) on the other, and
  the workers take them parsed.
- **Fewer collections**: scoring makes little cyclic garbage, so the collector runs less often.
- **Signals**: workers leave Ctrl-C to the main process and die of SIGTERM, so that the job's own
  clean-up (run.batch) is the only one.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from classifier.parse.sources import CsvColumns, RawMail, iter_all_records, parsed

COLLECTOR_THRESHOLDS = (50_000, 50, 100)
"""The cyclic garbage collector's thresholds while scoring. Scoring allocates many short-lived objects per
message; at Python's default (700, 10, 10) the collector ran thousands of times per job, each time
rescanning the caches, 5% of the CPU time, and importing the libraries made a worker's start-up a tenth
slower. Messages make little cyclic garbage, so collecting less often costs little memory."""

_state: dict = {}
"""A worker process's own: what its initializer made (``worker_state``)."""


@contextmanager
def fewer_collections():
    """COLLECTOR_THRESHOLDS for the duration, then the caller's own (a pool's workers keep them)."""
    saved = gc.get_threshold()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def chunks(items: Iterable, size: int) -> Iterator[list]:
    """``items`` in lists of ``size`` (the last may be shorter)."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def can_fork() -> bool:
    """Whether a pool's workers can be forked from this process: the system forks safely (not macOS,
    whose system libraries may not survive a fork: Python spawns there), and no other thread runs here
    (one holding a lock when the process forks would leave the child waiting for it)."""
    return ("fork" in multiprocessing.get_all_start_methods() and sys.platform != "darwin"
            and threading.active_count() == 1)


def _worker_signals() -> None:
    """A worker leaves Ctrl-C to the main process, which stops the pool (a traceback from every worker
    otherwise), and dies of SIGTERM as a process should (the main process's handler is not for it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _init_forked(state: dict, after_fork: Callable[[dict], None] | None) -> None:
    """A worker forked from the process that made ``state`` (the loaded model): it has it already.
    ``after_fork(state)`` drops what must not be shared across a fork (an SQLite connection)."""
    _worker_signals()
    if after_fork is not None:
        after_fork(state)
    _state.update(state)
    gc.freeze()  # inherited objects stay out of the collector's scans, so their pages stay shared


def _init_spawned(make: Callable[[], dict]) -> None:
    """A worker started afresh: ``make()`` builds its state (loads the model: seconds of imports)."""
    _worker_signals()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)  # from the start: importing the libraries is most of start-up
    # An initializer that raises makes the pool restart workers for ever; keep the error for the task.
    try:
        _state.update(make())
    except Exception as error:  # noqa: BLE001 - re-raised by the first task, in the main process
        _state["error"] = error
    gc.freeze()  # the model and the libraries stay for the worker's life: the collector need not scan them


def worker_state() -> dict:
    """This worker's state (its initializer's), or the error that making it raised."""
    if "error" in _state:
        raise _state["error"]
    return _state


class Workers:
    """Runs a stage's function over chunks, in this process or in a pool of processes, in input order.

    ``state``: what this process made (the loaded model), to fork the workers with, each calling
    ``after_fork(state)`` first; ``make``: how a spawned worker makes it itself, when forking is not
    possible (``state`` None)."""

    def __init__(self, jobs: int, state: dict | None, make: Callable[[], dict],
                 after_fork: Callable[[dict], None] | None = None):
        self.pool, self.jobs = None, jobs
        if jobs > 1:
            if state is not None:
                gc.freeze()  # before the fork: see _init_forked
                try:
                    self.pool = multiprocessing.get_context("fork").Pool(jobs, initializer=_init_forked,
                                                                         initargs=(state, after_fork))
                finally:
                    gc.unfreeze()
            else:
                self.pool = multiprocessing.get_context("spawn").Pool(jobs, initializer=_init_spawned,
                                                                      initargs=(make,))

    def map(self, here, there, chunks: Iterable[list], *args) -> Iterator[tuple[int, list]]:
        """(items in the chunk, results) per chunk, in input order: ``here(chunk)`` in this process, or
        ``there(chunk, *args)`` in a worker."""
        if self.pool is None:
            for chunk in chunks:
                yield len(chunk), here(chunk)
            return
        # Results are taken in submission order; a bounded look-ahead keeps memory flat.
        pending = []
        for chunk in chunks:
            pending.append((len(chunk), self.pool.apply_async(there, (chunk, *args))))
            if len(pending) >= 4 * self.jobs:
                n, result = pending.pop(0)
                yield n, result.get()
        for n, result in pending:
            yield n, result.get()

    def close(self) -> None:
        """Stop the workers. Every result the job needs has been taken (or the job failed), so they
        are stopped, not asked to finish: a worker's clean exit took most of a second."""
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


# ---------------------------------------------------------------- parsing ahead while the model loads


@dataclass(frozen=True)
class ParsedChunk:
    """Consecutive records of the export, parsed (Message or Unreadable), pickled at ``offset`` in the
    file at ``path``; ``raw_bytes``: the size of the mail they were parsed from."""

    path: str
    offset: int
    size: int
    records: int
    raw_bytes: int

    def __len__(self) -> int:
        return self.records

    def load(self) -> list:
        # The file is this job's own, written by its own child process in its private temporary folder.
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            return pickle.loads(f.read(self.size))


class ParseAhead:
    """A child process that parses the records of ``inputs`` in order, ``chunk`` at a time, into the file
    at ``path``, until ``finish`` is called."""

    def __init__(self, inputs: list[str], fmt: str | None, columns: CsvColumns | None, path: Path, chunk: int):
        context = multiprocessing.get_context("fork")  # started before the libraries load: quick to fork
        self._stop = context.Event()
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=_parse_ahead, name="triage-parse-ahead", daemon=True,
                                        args=(inputs, fmt, columns, str(path), chunk, self._stop, send, os.getpid()))
        self._process.start()
        send.close()  # the child's end: the parent's copy must go, so that a failed child reads as EOF
        self._chunks: list[ParsedChunk] | None = None

    def finish(self) -> list[ParsedChunk]:
        """Stop after the record under way; the chunks parsed, in export order. Empty when the child
        failed: then every record is read the usual way."""
        if self._chunks is None:
            self._stop.set()
            try:
                chunks = self._receive.recv()
            except EOFError:
                chunks = []
            self._process.join()
            self._receive.close()
            self._chunks = chunks if self._process.exitcode == 0 else []
        return self._chunks

    close = finish


def records_after(chunks: list[ParsedChunk], records: Iterator) -> Iterator:
    """``records`` (the export's, from its start) without those the parsed ``chunks`` hold."""
    skip = sum(chunk.records for chunk in chunks)
    for _ in zip(range(skip), records):
        pass
    return records


def _parse_ahead(inputs: list[str], fmt: str | None, columns: CsvColumns | None, path: str, chunk: int,
                 stop, send, parent: int) -> None:
    written: list[ParsedChunk] = []
    batch: list = []
    raw_bytes = offset = 0

    def write(out) -> None:
        nonlocal batch, raw_bytes, offset
        data = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(data)
        written.append(ParsedChunk(path, offset, len(data), len(batch), raw_bytes))
        offset += len(data)
        batch, raw_bytes = [], 0

    try:
        with open(path, "wb") as out:
            for record in iter_all_records(inputs, fmt, columns):
                batch.append(parsed(record))
                raw_bytes += len(record.raw) if isinstance(record, RawMail) else 0
                if len(batch) == chunk:
                    write(out)
                if stop.is_set() or os.getppid() != parent:  # asked to stop, or the job is gone (killed)
                    break
            if batch:
                write(out)
    except (Exception, KeyboardInterrupt):
        # An input the main process cannot read either (it reports the error itself), or Ctrl-C: what was
        # written is whole and in order, and the main process reads the rest the usual way.
        pass
    send.send(written)
