"""iter_messages(path): every message in an inbox export, one at a time.

Formats: mbox (Gmail Takeout, Thunderbird), Maildir, a folder of .eml files, one .eml file,
Outlook's CSV export, a generic CSV (named columns), the JSONL message format, and ``-`` for stdin.
Each is read as a stream: a 2 GB mbox is never held in memory. A record that cannot be read at all
becomes an ``Unreadable`` with its position; it never stops the iteration.
"""

from __future__ import annotations

import csv
import io
import json
import mailbox
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from classifier.parse.message import Message, normalise_address, parse_bytes, parse_date

FORMATS = ("mbox", "maildir", "eml", "csv", "jsonl")

OUTLOOK_COLUMNS = {"subject": "Subject", "text": "Body", "sender": "From: (Address)", "name": "From: (Name)"}
"""Outlook's "Export to a file > Comma Separated Values" columns; the export has no date column."""

csv.field_size_limit(16 * 1024 * 1024)  # a real mail body in one CSV cell can be megabytes
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Unreadable:
    """A record that could not be read at all: where it was and why."""

    origin: str
    reason: str


@dataclass(frozen=True)
class RawMail:
    """One message's bytes, not parsed yet: the batch job parses it in a worker process."""

    raw: bytes
    origin: str
    folders: tuple[str, ...] = ()

    def parse(self) -> Message:
        message = parse_bytes(self.raw, origin=self.origin, fallback_id=self.origin)
        message.folders = message.folders or list(self.folders)
        return message


Record = Message | RawMail | Unreadable


def parsed(record: Record) -> Message | Unreadable:
    """A Message from any record: raw mail is parsed here."""
    return record.parse() if isinstance(record, RawMail) else record


@dataclass(frozen=True)
class CsvColumns:
    """Which columns of a generic CSV hold what; ``text`` is required."""

    text: str = "text"
    sender: str | None = "sender"
    date: str | None = "date"
    subject: str | None = "subject"
    id: str | None = "id"


class FormatError(ValueError):
    """An input that is missing, or whose format is unknown or cannot be told."""


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise FormatError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return fmt


def detect_format(path: Path) -> str:
    """Tell the format from the name, then from the first bytes."""
    if path.is_dir():
        if all((path / sub).is_dir() for sub in ("cur", "new")):
            return "maildir"
        if next(path.rglob("*.eml"), None) is not None:
            return "eml"
        raise FormatError(f"{path} is a folder but neither a Maildir (cur/, new/) nor a folder of .eml files")
    if not path.exists():
        raise FormatError(f"no such file: {path}")
    suffix = path.suffix.lower()
    by_suffix = {".mbox": "mbox", ".mbx": "mbox", ".eml": "eml", ".csv": "csv", ".jsonl": "jsonl",
                 ".ndjson": "jsonl", ".json": "jsonl"}
    if suffix in by_suffix:
        return by_suffix[suffix]
    with open(path, "rb") as f:
        return _sniff(f.read(4096), str(path))


def _sniff(head: bytes, name: str) -> str:
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"From "):
        return "mbox"
    if stripped.startswith(b"{"):
        return "jsonl"
    first_line = stripped.split(b"\n", 1)[0]
    if _looks_like_mail(stripped):
        return "eml"
    if b"," in first_line:
        return "csv"
    raise FormatError(f"cannot tell the format of {name}; expected one of {', '.join(FORMATS)} "
                      "(name the format with --input-format)")


_HEADER_LINE = re.compile(rb"([!-9;-~]+)[ \t]*:")
_MAIL_HEADERS = {b"from", b"to", b"subject", b"date", b"message-id", b"received", b"return-path", b"mime-version",
                 b"delivered-to", b"reply-to", b"sender", b"cc", b"content-type", b"x-gmail-labels"}


def _looks_like_mail(head: bytes) -> bool:
    """Whether ``head`` opens with an RFC 5322 header block holding a header mail has (From, Subject,
    Received...): a file of "name: value" lines such as /etc/passwd is not taken for a message."""
    for line in head.splitlines()[:64]:
        if not line.strip():
            return False  # the header block ended before a mail header
        if line[:1] in (b" ", b"\t"):
            continue  # a folded header's continuation
        match = _HEADER_LINE.match(line)
        if match is None:
            return False
        if match.group(1).lower() in _MAIL_HEADERS:
            return True
    return False


def iter_messages(source: str | Path, fmt: str | None = None, columns: CsvColumns | None = None,
                  ) -> Iterator[Message | Unreadable]:
    """Every message in ``source`` (a path, or "-" for stdin), in the order the export holds them."""
    for record in iter_records(source, fmt, columns):
        yield parsed(record)


def input_format(path: Path, fmt: str | None = None) -> str:
    """The format of the input at ``path``: ``fmt`` when given (checked), else detected. A missing path
    or a format that cannot be told is a FormatError naming the allowed ones."""
    if not path.exists():
        raise FormatError(f"no such file or folder: {path}")
    return check_format(fmt) if fmt else detect_format(path)


def iter_all_records(sources: list[str], fmt: str | None = None, columns: CsvColumns | None = None,
                     ) -> Iterator[Record]:
    """iter_records of each source in turn: the records of a job's inputs, in order."""
    for source in sources:
        yield from iter_records(source, fmt, columns)


def iter_records(source: str | Path, fmt: str | None = None, columns: CsvColumns | None = None,
                 ) -> Iterator[Record]:
    """Like iter_messages, but mail comes as unparsed RawMail, so that parsing can run elsewhere."""
    if str(source) == "-":
        yield from _iter_stdin(fmt, columns)
        return
    path = Path(source)
    fmt = input_format(path, fmt)
    if fmt == "mbox":
        yield from _iter_mbox(path)
    elif fmt == "maildir":
        yield from _iter_maildir(path)
    elif fmt == "eml":
        yield from _iter_eml(path)
    elif fmt == "csv":
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
            yield from _iter_csv(f, path.name, columns)
    else:
        with open(path, "rb") as f:
            yield from _iter_jsonl(f, path.name)


def _iter_stdin(fmt: str | None, columns: CsvColumns | None) -> Iterator[Record]:
    stream = sys.stdin.buffer
    head = stream.peek(4096)[:4096] if hasattr(stream, "peek") else b""
    fmt = check_format(fmt) if fmt else _sniff(head, "stdin")
    if fmt == "jsonl":
        yield from _iter_jsonl(stream, "stdin")
    elif fmt == "csv":
        yield from _iter_csv(io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline=""), "stdin",
                             columns)
    elif fmt == "eml":
        yield RawMail(stream.read(), "stdin#0")
    elif fmt == "mbox":
        yield from _split_mbox(stream, "stdin")
    else:
        raise FormatError(f"format {fmt} cannot be read from stdin; expected mbox, eml, csv or jsonl")


def _iter_mbox(path: Path) -> Iterator[Record]:
    with open(path, "rb") as f:
        yield from _split_mbox(f, path.name)


MBOX_BLOCK = 1 << 20
"""Bytes read at a time when splitting an mbox: one message in memory, plus at most this."""
_QUOTED_FROM = re.compile(rb"^>From ", re.MULTILINE)
_ENVELOPE = re.compile(rb"From \S+ +[A-Z][a-z]{2} +[A-Z][a-z]{2} +\d{1,2} +\d{1,2}:\d{2}(?::\d{2})?"
                       rb"(?: +\S+)? +\d{4}(?: +\S+)? *\r?\n?$")
"""An envelope line ("From sender Mon Jan  1 00:00:00 2024", with or without a zone): a separator even
without the blank line before it, which some exporters leave out (the stdlib's mailbox splits there
too). A body line that merely starts with "From " needs the blank line to split the message."""


def _from_lines(lines: bytes) -> Iterator[int]:
    """Where the lines starting with "From " start (``lines`` starts at a line's start)."""
    if lines.startswith(b"From "):
        yield 0
    at = lines.find(b"\nFrom ")
    while at >= 0:
        yield at + 1
        at = lines.find(b"\nFrom ", at + 1)


def _split_mbox(stream, name: str, block: int = MBOX_BLOCK) -> Iterator[Record]:
    """Split an mbox stream on its "From " separator lines, one message in memory at a time.

    A "From " line after a blank line, or one shaped like an envelope line, ends the message before it;
    one at the start of a message (the
    file's first line, or right after a separator) is dropped; any other stays in the body. ">From "
    quoting (mboxrd) is undone the way ``mailbox`` does it. The stdlib ``mailbox.mbox`` first indexes
    the whole file and cannot read a pipe; this reads once, in order, a block at a time, and looks only
    at lines that start with "From " (going line by line was most of the main process's time in a batch).
    """
    splitter = _MboxSplitter(name)
    pending = b""
    while chunk := stream.read(block):
        pending += chunk
        cut = pending.rfind(b"\n") + 1  # whole lines only: a "From " line may be cut by the block
        if cut:
            yield from splitter.feed(pending[:cut])
            pending = pending[cut:]
    if pending:
        yield from splitter.feed(pending)  # the last line, without its newline
    yield from splitter.close()


class _MboxSplitter:
    """The state of _split_mbox between blocks of whole lines."""

    def __init__(self, name: str):
        self.name, self.index = name, 0
        self.pieces: list[bytes] = []  # the current message so far
        self.previous_blank = True  # whether the last line read was blank ("\n" or "\r\n")

    def feed(self, lines: bytes) -> Iterator[Record]:
        done = 0
        for start in _from_lines(lines):
            self._take(lines[done:start])
            end = lines.find(b"\n", start) + 1 or len(lines)
            if self.pieces and (self.previous_blank or _ENVELOPE.match(lines, start, end)):
                # a separator: the message before it is complete
                yield self._message()
            elif self.pieces:  # a "From " line inside a body
                self.pieces.append(lines[start:end])
            self.previous_blank = False  # (a "From " line at a message's start is dropped)
            done = end
        self._take(lines[done:])

    def close(self) -> Iterator[Record]:
        if self.pieces:
            yield self._message()

    def _take(self, lines: bytes) -> None:
        """Lines with no "From " line among them: body text."""
        if lines:
            self.pieces.append(lines)
            last = lines[lines.rfind(b"\n", 0, len(lines) - 1) + 1:]
            self.previous_blank = last in (b"\n", b"\r\n")

    def _message(self) -> Record:
        origin = f"{self.name}#{self.index}"
        raw = b"".join(self.pieces)
        if b">From " in raw:  # (the regex scan costs more than the rest of the split)
            raw = _QUOTED_FROM.sub(b"From ", raw)
        self.pieces, self.index = [], self.index + 1
        if not raw.strip():
            return Unreadable(origin, "empty message")
        return RawMail(raw, origin)


def _iter_maildir(path: Path) -> Iterator[Record]:
    """The Maildir's own messages, then each Maildir++ subfolder's (".Sent", ".Archive"...)."""
    folders = [("INBOX", mailbox.Maildir(path, factory=None, create=False))]
    root = folders[0][1]
    folders += [(name.lstrip("."), root.get_folder(name)) for name in sorted(root.list_folders())]
    for folder_name, box in folders:
        for key in sorted(box.iterkeys()):
            origin = f"{path.name}/{folder_name}/{key}"
            try:
                raw = box.get_bytes(key)
            except (OSError, KeyError) as error:
                yield Unreadable(origin, f"cannot read: {error}")
                continue
            yield RawMail(raw, origin, (folder_name,))


def _iter_eml(path: Path) -> Iterator[Record]:
    files = [path] if path.is_file() else sorted(path.rglob("*.eml"))
    for file in files:
        origin = str(file.relative_to(path)) if path.is_dir() else file.name
        try:
            raw = file.read_bytes()
        except OSError as error:
            yield Unreadable(origin, f"cannot read: {error}")
            continue
        yield RawMail(raw, origin, (file.parent.name,) if path.is_dir() and file.parent != path else ())


def _iter_csv(f, name: str, columns: CsvColumns | None) -> Iterator[Message | Unreadable]:
    reader = csv.DictReader(f)
    header = reader.fieldnames or []
    if columns is None and OUTLOOK_COLUMNS["text"] in header and OUTLOOK_COLUMNS["sender"] in header:
        yield from _outlook_rows(reader, name)
        return
    columns = columns or CsvColumns()
    if columns.text not in header:
        # The header's cells are not repeated: the file may be no CSV at all, and its first line a secret.
        raise FormatError(f"{name}: no column {columns.text!r} for the text among its {len(header)} columns "
                          "(name the text column with --text-col)")
    for index, row in enumerate(reader):
        origin = f"{name}#{index}"
        if None in row:  # more cells than the header: a broken row, not a message
            yield Unreadable(origin, "row has more cells than the header")
            continue
        message = Message(id=_cell(row, columns.id) or origin, origin=origin, text=_cell(row, columns.text),
                          subject=_cell(row, columns.subject))
        sender = _cell(row, columns.sender)
        message.sender = normalise_address(sender) or (sender.strip().lower() or None)
        message.date = parse_date(_cell(row, columns.date))
        if _cell(row, columns.date) and message.date is None:
            message.flag("bad_date")
        yield message


def _outlook_rows(reader: csv.DictReader, name: str) -> Iterator[Message | Unreadable]:
    for index, row in enumerate(reader):
        origin = f"{name}#{index}"
        message = Message(id=origin, origin=origin, text=row.get("Body") or "", subject=row.get("Subject") or "",
                          sender=normalise_address(row.get("From: (Address)")),
                          sender_name=(row.get("From: (Name)") or "").strip())
        message.flag("no_date")  # Outlook's CSV export has no date column
        yield message


def _cell(row: dict, column: str | None) -> str:
    return (row.get(column) or "").strip() if column else ""


def _iter_jsonl(stream, name: str) -> Iterator[Message | Unreadable]:
    """The JSONL message format: {"id", "sender", "sender_name", "date", "subject", "text", "channel",
    "folder" or "folders", "to", "in_reply_to"} per line; only "text" is required."""
    for index, line in enumerate(stream):
        origin = f"{name}#{index}"
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            yield Unreadable(origin, f"not JSON: {error}")
            continue
        except RecursionError:
            yield Unreadable(origin, "not a message: JSON nested too deeply")
            continue
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            yield Unreadable(origin, "expected an object with a string 'text'")
            continue
        repaired = False
        if b"\\u" in line:  # only an escape makes a lone surrogate
            try:
                cleaned = _replace_lone_surrogates(row)
            except RecursionError:
                yield Unreadable(origin, "not a message: JSON nested too deeply")
                continue
            repaired, row = cleaned != row, cleaned
        sender = row.get("sender")
        message = Message(id=str(row.get("id") or origin), origin=origin, text=row["text"],
                          subject=str(row.get("subject") or ""), channel=str(row.get("channel") or "email"),
                          sender_name=str(row.get("sender_name") or ""))
        if isinstance(sender, str) and sender.strip():
            message.sender = normalise_address(sender) or sender.strip().lower()
        date = row.get("date")
        message.date = parse_date(date) if isinstance(date, str) else None
        if date and message.date is None:
            message.flag("bad_date")
        if repaired:
            message.flag("lone_surrogates")
        message.folders = _folders(row, message)
        message.to = _recipients(row, message)
        reply_to = row.get("in_reply_to")
        message.in_reply_to = reply_to.strip() if isinstance(reply_to, str) else ""
        yield message


def _recipients(row: dict, message: Message) -> list[str]:
    """A JSONL row's "to": one address or a list of them; anything else is flagged and left out."""
    to = row.get("to") or []
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list) or not all(isinstance(t, str) for t in to):
        message.flag("bad_recipients")
        return []
    return [address for address in (normalise_address(t) for t in to) if address]


def _folders(row: dict, message: Message) -> list[str]:
    """A JSONL row's "folders" (a list of names) or "folder" (one name); anything else is flagged and
    left out, so that the message is still read."""
    folders = row.get("folders") or ([row["folder"]] if row.get("folder") else [])
    if isinstance(folders, str):
        folders = [folders]
    if not isinstance(folders, list) or not all(isinstance(f, str) for f in folders):
        message.flag("bad_folders")
        return []
    return folders


def _replace_lone_surrogates(value):
    """``value`` with U+FFFD for each half of a UTF-16 pair standing alone. JSON can escape one
    ("\\ud800"); no UTF-8 text can hold it, so it would stop the run when the row is written."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_replace_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_replace_lone_surrogates(key): _replace_lone_surrogates(item) for key, item in value.items()}
    return value
