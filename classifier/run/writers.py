"""Output rows: JSONL, CSV (safe to open in a spreadsheet) and Parquet (in row groups)."""

from __future__ import annotations

import csv
import io
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import orjson

from classifier.cells import spreadsheet_safe
from classifier.labels import LABELS

OUTPUT_FORMATS = ("jsonl", "csv", "parquet")
FLAT_COLUMNS = ("id", "origin", "sender", "date", "subject", "label",
                *(f"p_{label}" for label in LABELS), "action", "reasons", "needs_review", "standing_balance",
                "standing_summary", "tie", "reply", "top_features", "model_id", "flags")
PARQUET_ROW_GROUP = 5000


def check_output_format(fmt: str) -> str:
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"unknown output format {fmt!r}; expected one of {', '.join(OUTPUT_FORMATS)}")
    return fmt


def flat_row(assessment) -> dict:
    """One output row with scalar cells, for CSV and Parquet."""
    row = assessment.to_dict()
    flat = {key: row.get(key) for key in ("id", "origin", "sender", "date", "subject", "label", "action",
                                          "needs_review", "reply", "model_id", "tie")}
    for label in LABELS:
        flat[f"p_{label}"] = row["probabilities"][label]
    flat["reasons"] = " | ".join(row["reasons"])
    flat["standing_balance"] = row["standing"]["balance"]
    flat["standing_summary"] = row["standing"]["summary"]
    flat["top_features"] = ", ".join(f"{f['feature']} ({f['weight']:+.2f})" for f in row["top_features"])
    flat["flags"] = ", ".join(row["flags"])
    return {column: flat[column] for column in FLAT_COLUMNS}


def render_jsonl(assessment) -> str:
    # orjson writes the same values as json.dumps (UTF-8, no spaces after separators) five times faster:
    # in a batch the stdlib's encoder was 2% of the time.
    return orjson.dumps(assessment.to_dict()).decode() + "\n"


def render_csv(assessment) -> str:
    line = io.StringIO()
    csv.DictWriter(line, fieldnames=FLAT_COLUMNS).writerow(
        {k: spreadsheet_safe(v) for k, v in flat_row(assessment).items()})
    return line.getvalue()


RENDERERS = {"jsonl": render_jsonl, "csv": render_csv, "parquet": flat_row}


def renderer(fmt: str):
    """The function that turns an assessment into what the ``fmt`` writer's write_rendered takes: plain
    values, so that a pool's workers can do this part of the writing."""
    return RENDERERS[check_output_format(fmt)]


class _Writer:
    format = ""

    def write(self, assessment) -> None:
        self.write_rendered(RENDERERS[self.format](assessment))


class JsonlWriter(_Writer):
    format = "jsonl"

    def __init__(self, stream):
        self.stream = stream

    def write_rendered(self, line: str) -> None:
        self.stream.write(line)

    def close(self) -> None:
        self.stream.flush()

    def release(self) -> None:
        """Let go of the file, whether or not close() ran (an error on the way out)."""
        if isinstance(self.stream, _Guarded) and self.stream.stream is not sys.stdout:
            try:
                self.stream.stream.close()
            except OSError:
                pass  # the error that matters was raised by write or close


class CsvWriter(JsonlWriter):
    format = "csv"

    def __init__(self, stream):
        self.stream = stream
        header = io.StringIO()
        csv.DictWriter(header, fieldnames=FLAT_COLUMNS).writeheader()
        stream.write(header.getvalue())


class ParquetWriter(_Writer):
    """Buffers rows and writes a row group every PARQUET_ROW_GROUP rows, so memory stays flat."""

    format = "parquet"

    def __init__(self, path: Path, name: str | None = None):
        import pyarrow as pa
        import pyarrow.parquet as pq

        types = {"needs_review": pa.bool_(), "standing_balance": pa.float64(),
                 **{f"p_{label}": pa.float64() for label in LABELS}}
        self.name = name or str(path)
        self.schema = pa.schema([(c, types.get(c, pa.string())) for c in FLAT_COLUMNS])
        try:
            self.writer = pq.ParquetWriter(path, self.schema)
        except OSError as error:
            raise ValueError(f"cannot write {self.name}: {error}") from None
        self.rows: list[dict] = []

    def write_rendered(self, row: dict) -> None:
        self.rows.append(row)
        if len(self.rows) >= PARQUET_ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self.rows:
            try:
                self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            except OSError as error:
                raise OutputError(f"cannot write {self.name}: {error}") from None
            self.rows = []

    def close(self) -> None:
        self._flush()
        try:
            self.writer.close()
        except OSError as error:
            raise OutputError(f"cannot write {self.name}: {error}") from None

    def release(self) -> None:
        try:
            self.writer.close()
        except OSError:
            pass


class OutputError(Exception):
    """The output cannot be written (a full disk, a folder given as the file): nothing is left behind."""


class _Guarded:
    """A stream whose write and flush errors are OutputErrors naming the output."""

    def __init__(self, stream, name: str):
        self.stream, self.name = stream, name

    def write(self, text: str) -> None:
        try:
            self.stream.write(text)
        except BrokenPipeError:
            raise  # the reader went away (`| head`): the command stops quietly
        except OSError as error:
            raise OutputError(f"cannot write {self.name}: {error.strerror or error}") from None

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            raise
        except OSError as error:
            raise OutputError(f"cannot write {self.name}: {error.strerror or error}") from None


def check_output_path(output: str) -> Path:
    """The file ``output`` names, when it can be written: not a folder, in a folder that exists."""
    path = Path(output)
    if path.is_dir():
        raise ValueError(f"output {output} is a folder; expected a file to write (-o FILE)")
    if not path.parent.is_dir():
        raise ValueError(f"cannot write {output}: there is no folder {path.parent}")
    return path


@contextmanager
def output_file(output: str, binary: bool = False):
    """A path to write the output ``output`` at, made whole or not at all: a temporary file beside it,
    renamed over it when the block ends well and removed when it does not (an error, Ctrl-C, SIGTERM),
    so that no half-written output is ever left. A device or pipe (/dev/null, a FIFO) is written as
    it is. Yields (path to write, display name)."""
    path = check_output_path(output)
    if path.exists() and not path.is_file():
        yield path
        return
    try:
        fd, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    except OSError as error:
        raise ValueError(f"cannot write {output}: {error.strerror or error}") from None
    os.close(fd)
    try:
        yield Path(partial)
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask()
        os.chmod(partial, mode)
        os.replace(partial, path)
    except BaseException:
        try:
            os.unlink(partial)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def open_writer(fmt: str, output: str | None):
    """A writer for ``fmt`` to the file ``output`` (whole or not at all: see output_file), or to stdout
    when it is None or "-". Opened before any message is read, so that an output that cannot be
    written is said at once."""
    check_output_format(fmt)
    to_stdout = output in (None, "-")
    if to_stdout:
        if fmt == "parquet":
            raise ValueError("parquet output needs a file: give -o OUT.parquet")
        writer = JsonlWriter(_Guarded(sys.stdout, "stdout")) if fmt == "jsonl" else CsvWriter(_Guarded(sys.stdout, "stdout"))
        try:
            yield writer
        finally:
            writer.close()
        return
    with output_file(output) as path:
        if fmt == "parquet":
            writer = ParquetWriter(path, output)
        else:
            try:
                stream = open(path, "w", encoding="utf-8", newline="")
            except OSError as error:
                raise ValueError(f"cannot write {output}: {error.strerror or error}") from None
            guarded = _Guarded(stream, output)
            writer = JsonlWriter(guarded) if fmt == "jsonl" else CsvWriter(guarded)
        try:
            yield writer
            writer.close()
        finally:
            writer.release()
