"""The Message dataclass, and the only code that parses raw mail bytes.

Mail is untrusted input. Parsing never raises for a bad message: what cannot be read is replaced,
capped or skipped, and each such repair is recorded in ``Message.flags`` so that a batch can report
it. HTML is turned into plain text with a real HTML parser and is never rendered.
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import email.utils
from email.errors import HeaderParseError
from email.header import decode_header, make_header
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from email.message import Message as MailMessage

MAX_BODY_CHARS = 100_000
"""Bodies are cut here: enough for any real ask, and a 2 MB body cannot slow a batch down."""
MAX_PART_BYTES = 2_000_000
"""A text part larger than this is read only up to this size (an attachment disguised as text)."""
MAX_MULTIPARTS = 64
"""More boundaries than this and only the headers are parsed: the stdlib's MIME parser recurses once
per nested multipart, and a thousand levels end in RecursionError. No real message nests so deep."""


@dataclass
class Message:
    """One message, from any source, as the rest of the program sees it."""

    id: str
    sender: str | None = None  # lower-case address or handle; None when unknown
    sender_name: str = ""
    to: list[str] = field(default_factory=list)
    date: datetime | None = None  # timezone-aware
    subject: str = ""
    text: str = ""
    channel: str = "email"
    folders: list[str] = field(default_factory=list)  # Gmail labels or Maildir folder
    in_reply_to: str = ""
    origin: str = ""  # where it came from: "file.mbox#12"
    flags: list[str] = field(default_factory=list)  # what had to be repaired to read it
    role: str | None = None  # "sent", "draft" or "chat" when the export's folders say so (batch sets it)
    bulk: list[str] = field(default_factory=list)  # header evidence it was mass-sent: "a List-Id header"

    def flag(self, problem: str) -> None:
        if problem not in self.flags:
            self.flags.append(problem)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
"""Header values are one line: an encoded CR LF must not become a line break (header injection)."""
_SURROGATES = re.compile("[\udc80-\udcff]")
"""What the email package makes of raw 8-bit bytes in a header."""


EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)
"""Dates outside these are no real message's (spam forges "31 Dec 9999"): read as no date, flagged.
Within them every date can be moved to UTC and compared without overflowing."""


def parse_date(value: str | None) -> datetime | None:
    """RFC 5322 or ISO 8601 date to an aware datetime (UTC when no zone is given); None if unreadable
    or outside EARLIEST to LATEST."""
    if not value:
        return None
    value = value.strip()
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    try:
        in_range = EARLIEST <= parsed < LATEST  # compares in UTC without converting: no overflow
    except (OverflowError, ValueError):
        return None
    return parsed if in_range else None


_ATOM = r"[\w!#$%&'*+\-/=?^`{|}~]+"
_ADDR_SPEC = rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_SIMPLE_ADDRESS = re.compile(rf"({_ATOM}(?: {_ATOM})*) <({_ADDR_SPEC})>|<({_ADDR_SPEC})>|({_ADDR_SPEC})")
"""``Name <local@domain>``, ``<local@domain>`` or ``local@domain`` with plain words only: most mail. For
these ``email.utils.parseaddr`` returns the name and address as written (tests check it on every form),
and its general parser costs a tenth of a batch's parsing time."""


def split_address(value: str) -> tuple[str, str]:
    """(display name, address) of one address, as ``email.utils.parseaddr`` reads it."""
    simple = _SIMPLE_ADDRESS.fullmatch(value.strip())
    if simple:
        name, named, bracketed, bare = simple.groups()
        return name or "", named or bracketed or bare
    return email.utils.parseaddr(value)


def address_list(value: str) -> list[tuple[str, str]]:
    """(display name, address) of each address of a To or Cc value, as ``email.utils.getaddresses`` reads them."""
    pieces = value.split(",")
    if all(_SIMPLE_ADDRESS.fullmatch(piece.strip()) for piece in pieces):
        return [split_address(piece) for piece in pieces]
    return email.utils.getaddresses([value])


def normalise_address(value: str | None) -> str | None:
    """The lower-case addr-spec of a From/To value, or None when it holds no usable address."""
    if not value:
        return None
    _, address = split_address(_CONTROL.sub("", str(value)))
    address = address.strip().lower()
    return address if "@" in address and " " not in address else None


def html_to_text(markup: str) -> str:
    """Visible text of an HTML body, with BeautifulSoup; scripts and styles are dropped, nothing is run."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    for hidden in soup(["script", "style", "head", "title", "template", "noscript"]):
        hidden.decompose()
    text = soup.get_text("\n")
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()


def _decode_part(part, message: Message) -> str:
    """A text part's content as str; unknown charsets and broken encodings decode with replacement."""
    payload = part.get_payload(decode=True) or b""
    if len(payload) > MAX_PART_BYTES:
        payload = payload[:MAX_PART_BYTES]
        message.flag("body_capped")
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        message.flag("unknown_charset")
        return payload.decode("utf-8", errors="replace")


def _body_text(mail: MailMessage, message: Message) -> str:
    """The plain-text body: text/plain preferred, else HTML converted; attachments skipped."""
    plain, html = [], []
    for part in mail.walk():
        if part.is_multipart():
            continue
        disposition = (part.get_content_disposition() or "").lower()
        ctype = part.get_content_type()
        if disposition == "attachment" or ctype not in ("text/plain", "text/html"):
            message.flag("attachments_skipped")
            continue
        (plain if ctype == "text/plain" else html).append(part)
    if plain:
        return "\n\n".join(_decode_part(part, message) for part in plain)
    if html:
        message.flag("html_only")
        return "\n\n".join(html_to_text(_decode_part(part, message)) for part in html)
    return ""


def _first_headers(mail: MailMessage) -> dict[str, object]:
    """Lower-case header name -> the value of its first occurrence (what ``mail.get`` returns), all
    at once: looking each name up scans every header again."""
    first: dict[str, object] = {}
    for name, value in mail.items():
        first.setdefault(name.lower(), value)
    return first


def _header(headers: dict[str, object], name: str, message: Message) -> str:
    """A header's value with RFC 2047 encoded words decoded, on one line; never raises.

    The message is parsed with the compat32 policy, whose headers are plain strings: the default
    policy's header objects cost most of the parsing time of a batch, for nothing we use.
    """
    value = headers.get(name.lower())
    if value is None:
        return ""
    value = str(value)
    if _SURROGATES.search(value):  # raw 8-bit bytes in a header
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if "=?" in value:  # an encoded word; without one, decoding gives back the value itself (tests check)
        try:
            value = str(make_header(decode_header(value)))
        except (HeaderParseError, LookupError, UnicodeError, ValueError, TypeError):
            message.flag(f"bad_header:{name.lower()}")
    return _CONTROL.sub(" ", value).strip()


def parse_bytes(raw: bytes, *, origin: str = "", fallback_id: str = "") -> Message:
    """Parse one RFC 5322 message. Never raises for bad mail; repairs are listed in ``flags``."""
    message = Message(id=fallback_id or origin, origin=origin)
    if b"\x00" in raw:
        message.flag("nul_bytes")
        raw = raw.replace(b"\x00", b"")
    mail = _parse_mime(raw, message)
    if mail.defects:
        message.flag("mime_defects")
    headers = _first_headers(mail)
    message_id = _header(headers, "Message-ID", message)
    if message_id:
        message.id = message_id
    sender = _header(headers, "From", message)
    message.sender = normalise_address(sender)
    if sender and message.sender is None:
        message.flag("bad_address")
    message.sender_name = split_address(sender)[0] if sender else ""
    message.to = [a for a in (normalise_address(v) for v in _addresses(headers, message)) if a]
    date = _header(headers, "Date", message)
    message.date = parse_date(date)
    if date and message.date is None:
        message.flag("bad_date")
    message.subject = _header(headers, "Subject", message)
    message.in_reply_to = _header(headers, "In-Reply-To", message)
    message.bulk = bulk_headers(headers, message)
    labels = _header(headers, "X-Gmail-Labels", message)
    message.folders = [label.strip() for label in labels.split(",") if label.strip()] if labels else []
    if _HEADERS_ONLY in message.flags:
        text = _raw_body(raw)
    else:
        text = _read_body(mail, raw, message)
    if len(text) > MAX_BODY_CHARS:
        message.flag("body_capped")
        text = text[:MAX_BODY_CHARS]
    message.text = text
    return message


MANY_RECIPIENTS = 10
"""A message to this many addresses or more was sent to a crowd, not to you."""
_BULK_PRECEDENCE = {"bulk", "list", "junk"}


def bulk_headers(headers: dict[str, object], message: Message) -> list[str]:
    """The headers that show a message was mass-sent (a list, a campaign, a crowd), in plain words.
    Evidence that no personal reply is due; never, alone, evidence of spam."""
    found = []
    if headers.get("list-unsubscribe") is not None:
        found.append("a List-Unsubscribe header")
    if headers.get("list-id") is not None:
        found.append("a List-Id header")
    precedence = _header(headers, "Precedence", message).lower()
    if precedence in _BULK_PRECEDENCE:
        found.append(f"Precedence: {precedence}")
    to = _header(headers, "To", message).lower()
    if "undisclosed" in to and "recipients" in to:
        found.append("undisclosed recipients")
    elif len(message.to) >= MANY_RECIPIENTS:
        found.append(f"{len(message.to)} recipients")
    return found


_HEADERS_ONLY = "mime_too_deep"


def _parse_mime(raw: bytes, message: Message) -> MailMessage:
    """The parsed message, or only its headers (flagged) when its MIME tree is too deep to parse."""
    if raw.count(b"oundary=") <= MAX_MULTIPARTS:
        try:
            return email.message_from_bytes(raw, policy=email.policy.compat32)
        except RecursionError:
            pass
    message.flag(_HEADERS_ONLY)
    return email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw, headersonly=True)


def _raw_body(raw: bytes) -> str:
    """The bytes after the header block, as text: what a message that cannot be parsed into parts says."""
    body = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)
    return body[1].decode("utf-8", errors="replace") if len(body) > 1 else ""


def _read_body(mail: MailMessage, raw: bytes, message: Message) -> str:
    try:
        return _body_text(mail, message)
    except RecursionError:
        message.flag(_HEADERS_ONLY)
        return _raw_body(raw)
    except (LookupError, ValueError, TypeError, AssertionError, IndexError) as error:
        # The email package can fail deep in a broken MIME tree; read the raw body instead.
        message.flag(f"unreadable_mime:{type(error).__name__}")
        return raw.partition(b"\n\n")[2].decode("utf-8", errors="replace")


def _addresses(headers: dict[str, object], message: Message) -> list[str]:
    values = []
    for name in ("To", "Cc"):
        value = _header(headers, name, message)
        if value:
            values.extend(address for _, address in address_list(value))
    return values


def from_email_message(mail: EmailMessage, *, origin: str = "") -> Message:
    """A Message from an already-parsed ``email.message.EmailMessage`` (for filters that have one)."""
    return parse_bytes(mail.as_bytes(policy=email.policy.compat32), origin=origin)
