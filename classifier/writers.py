"""Output rows: JSONL, CSV (safe to open in a spreadsheet) and Parquet (in row groups)."""

from __future__ import annotations

import csv
import io
import sys
from contextlib import contextmanager
from pathlib import Path

import orjson

from .labels import LABELS

OUTPUT_FORMATS = ("jsonl", "csv", "parquet")
FLAT_COLUMNS = ("id", "origin", "sender", "date", "subject", "label",
                *(f"p_{label}" for label in LABELS), "action", "reasons", "needs_review", "standing_balance",
                "standing_summary", "reply", "top_features", "model_id", "flags")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PARQUET_ROW_GROUP = 5000


def check_output_format(fmt: str) -> str:
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"unknown output format {fmt!r}; expected one of {', '.join(OUTPUT_FORMATS)}")
    return fmt


def flat_row(assessment) -> dict:
    """One output row with scalar cells, for CSV and Parquet."""
    row = assessment.to_dict()
    flat = {key: row.get(key) for key in ("id", "origin", "sender", "date", "subject", "label", "action",
                                          "needs_review", "reply", "model_id")}
    for label in LABELS:
        flat[f"p_{label}"] = row["probabilities"][label]
    flat["reasons"] = " | ".join(row["reasons"])
    flat["standing_balance"] = row["standing"]["balance"]
    flat["standing_summary"] = row["standing"]["summary"]
    flat["top_features"] = ", ".join(f"{f['feature']} ({f['weight']:+.2f})" for f in row["top_features"])
    flat["flags"] = ", ".join(row["flags"])
    return {column: flat[column] for column in FLAT_COLUMNS}


def spreadsheet_safe(value):
    """Neutralise a cell a spreadsheet would run as a formula (=, +, -, @, tab, CR): prefix a quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


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


class CsvWriter(_Writer):
    format = "csv"

    def __init__(self, stream):
        self.stream = stream
        csv.DictWriter(stream, fieldnames=FLAT_COLUMNS).writeheader()

    def write_rendered(self, line: str) -> None:
        self.stream.write(line)

    def close(self) -> None:
        self.stream.flush()


class ParquetWriter(_Writer):
    """Buffers rows and writes a row group every PARQUET_ROW_GROUP rows, so memory stays flat."""

    format = "parquet"

    def __init__(self, path: Path):
        import pyarrow as pa
        import pyarrow.parquet as pq

        types = {"needs_review": pa.bool_(), "standing_balance": pa.float64(),
                 **{f"p_{label}": pa.float64() for label in LABELS}}
        self.schema = pa.schema([(c, types.get(c, pa.string())) for c in FLAT_COLUMNS])
        self.writer = pq.ParquetWriter(path, self.schema)
        self.rows: list[dict] = []

    def write_rendered(self, row: dict) -> None:
        self.rows.append(row)
        if len(self.rows) >= PARQUET_ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        self._flush()
        self.writer.close()


@contextmanager
def open_writer(fmt: str, output: str | None):
    """A writer for ``fmt`` to the file ``output``, or to stdout when it is None or "-"."""
    check_output_format(fmt)
    to_stdout = output in (None, "-")
    if fmt == "parquet":
        if to_stdout:
            raise ValueError("parquet output needs a file: give -o OUT.parquet")
        writer = ParquetWriter(Path(output))
        try:
            yield writer
        finally:
            writer.close()
        return
    stream = sys.stdout if to_stdout else open(output, "w", encoding="utf-8", newline="")
    writer = JsonlWriter(stream) if fmt == "jsonl" else CsvWriter(stream)
    try:
        yield writer
    finally:
        writer.close()
        if not to_stdout:
            stream.close()
