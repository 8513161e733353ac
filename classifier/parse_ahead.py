"""Parsing the first messages of an export while the model loads.

A batch with a pool of workers loads the model once, in the main process, and forks the workers
from it, so that they start with it loaded. Loading takes seconds on one core. Meanwhile a child
process parses the export's first messages (MIME, charsets, HTML), which needs no model, on another
core; the workers then take those messages parsed, from the child's file, instead of raw.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .sources import CsvColumns, RawMail, iter_all_records, parsed


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
