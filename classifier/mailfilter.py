"""The pipe filter and its daemon, for procmail, maildrop, Sieve and Postfix.

The one promise: the mail that comes in goes out, every byte unchanged and in order. The filter only
inserts ``X-Outreach-*`` header lines at the top of the header block (after an mbox "From " line
when there is one). It never re-serialises, re-folds or re-encodes the message, and on any error it
passes the original through untouched (fail open).
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import socketserver
import struct
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)

EX_TEMPFAIL = 75
"""sysexits.h: "try again later"; for MTAs that retry (Postfix pipe, sendmail)."""
HEADER_PREFIX = "X-Outreach-"
MAX_REASONS = 300
MAX_INPUT = 64 * 1024 * 1024
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]+")


def header_value(value: str, limit: int = 200) -> str:
    """One safe header value: no CR, LF or other control characters (no injected headers), ASCII only
    (RFC 5322), and short."""
    value = _UNSAFE.sub(" ", value)
    value = value.encode("ascii", errors="replace").decode("ascii")
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 3].rstrip() + "..."


def outreach_headers(assessment) -> list[tuple[str, str]]:
    """The header fields the filter adds, in order."""
    return [
        ("X-Outreach-Label", header_value(assessment.label, 40)),
        ("X-Outreach-Action", header_value(assessment.action, 20)),
        ("X-Outreach-Score", f"{assessment.probabilities[assessment.label]:.3f}"),
        ("X-Outreach-Reasons", header_value(" ".join(assessment.reasons), MAX_REASONS)),
        ("X-Outreach-Model", header_value(assessment.model_id, 80)),
    ]


def insert_headers(raw: bytes, headers: list[tuple[str, str]]) -> bytes:
    """``raw`` with ``headers`` inserted at the top of its header block, in the message's own line ending.

    Everything of ``raw`` is kept, byte for byte: the result is a prefix (an mbox "From " line, if
    any), the new lines, and the rest of ``raw`` exactly as it was.
    """
    first_end = raw.find(b"\n")
    newline = b"\r\n" if first_end > 0 and raw[first_end - 1: first_end] == b"\r" else b"\n"
    split = 0
    if raw.startswith(b"From ") and first_end >= 0:
        split = first_end + 1  # keep procmail's envelope line first
    lines = b"".join(f"{name}: {value}".encode("ascii") + newline for name, value in headers)
    return raw[:split] + lines + raw[split:]


# ---------------------------------------------------------------- filtering one message


@dataclass
class FilterOptions:
    model: str | None = None
    policy: str | None = None
    ledger: str | None = None
    learn: bool = False
    action_only: bool = False
    tempfail: bool = False
    timeout: float = 20.0
    connect: str | None = None


class FilterTimeout(Exception):
    pass


@contextmanager
def _deadline(seconds: float):
    """Raise FilterTimeout after ``seconds`` (main thread only; elsewhere no limit is set)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise FilterTimeout(f"scoring took longer than {seconds:g}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _ledger_path(options: FilterOptions) -> str | None:
    """The ledger to read: the one named, else the default one if it exists (never created to read)."""
    from .ledger import default_ledger_path

    if options.ledger:
        return options.ledger
    default = default_ledger_path()
    return str(default) if default.exists() or options.learn else None


def assess_raw(raw: bytes, options: FilterOptions):
    """Score one raw message in this process (the model loads once per process and is cached)."""
    triage = _triage(options.model, options.policy, _ledger_path(options))
    assessment = triage.assess(raw)
    if options.learn:
        learn(triage, assessment)
    return assessment


_triages: dict = {}
_triages_lock = threading.Lock()


def _triage(model, policy, ledger):
    from .triage import Triage

    key = (model, policy, ledger)
    with _triages_lock:
        if key not in _triages:
            _triages[key] = Triage.load(model, policy, ledger)
        return _triages[key]


def learn(triage, assessment) -> bool:
    """Record the ask as a withdrawal, once per Message-ID (the event id is a hash of the same fields)."""
    from datetime import datetime, timezone

    from .labels import ASK_LABELS
    from .ledger import Event

    if triage.ledger is None or assessment.label not in ASK_LABELS or not assessment.sender:
        return False
    date = datetime.fromisoformat(assessment.date) if assessment.date else datetime.now(timezone.utc)
    event = Event(sender=assessment.sender, date=date, kind="asked", label=assessment.label,
                  note=f"Message-ID {header_value(assessment.id, 200)}", source="filter")
    return triage.ledger.record(event)


def run_filter(raw: bytes, options: FilterOptions, out, err) -> int:
    """Write ``raw`` with the X-Outreach headers to ``out`` (or just the action with --action-only).

    Fails open: whatever goes wrong, the original bytes are written unchanged and the error goes to
    ``err``; the exit code is 0, or EX_TEMPFAIL with ``tempfail`` for MTAs that retry.
    """
    try:
        with _deadline(options.timeout):
            if options.connect:
                headers = headers_via_daemon(raw, options)
            else:
                headers = outreach_headers(assess_raw(raw, options))
    except Exception as error:  # fail open: no error may lose or alter mail  # noqa: BLE001
        err.write(f"triage filter: {type(error).__name__}: {error}; message passed through unchanged\n")
        if not options.action_only:
            out.write(raw)
        out.flush()
        return EX_TEMPFAIL if options.tempfail else 0
    if options.action_only:
        out.write(dict(headers)["X-Outreach-Action"].encode("ascii") + b"\n")
    else:
        out.write(insert_headers(raw, headers))
    out.flush()
    return 0


def read_stdin(stream) -> bytes:
    data = stream.read(MAX_INPUT + 1)
    if len(data) > MAX_INPUT:
        # Too big to score, never too big to deliver: pass the rest through as it comes.
        raise ValueError("message larger than 64 MB")
    return data


# ---------------------------------------------------------------- the daemon

_LENGTH = struct.Struct("!Q")


def parse_address(address: str):
    """``unix:/path``, ``/path`` (a Unix socket) or ``HOST:PORT`` on loopback."""
    if address.startswith("unix:"):
        return socket.AF_UNIX, address[len("unix:"):]
    if address.startswith("/") or address.startswith("."):
        return socket.AF_UNIX, address
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise ValueError(f"bad address {address!r}; expected unix:/path/to/socket or 127.0.0.1:PORT")
    host = host.strip("[]") or "127.0.0.1"
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"address {address!r} is not on loopback; the daemon listens on 127.0.0.1 or ::1 only")
    return (socket.AF_INET6 if ":" in host else socket.AF_INET), (host, int(port))


def _send(sock, payload: bytes) -> None:
    sock.sendall(_LENGTH.pack(len(payload)) + payload)


def _receive(sock) -> bytes:
    header = _exactly(sock, _LENGTH.size)
    (length,) = _LENGTH.unpack(header)
    if length > MAX_INPUT:
        raise ValueError("message larger than 64 MB")
    return _exactly(sock, length)


def _exactly(sock, n: int) -> bytes:
    chunks, remaining = [], n
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise ConnectionError("connection closed mid-message")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def headers_via_daemon(raw: bytes, options: FilterOptions) -> list[tuple[str, str]]:
    """Ask a running daemon; if none answers, score here (like spamc when spamd is down)."""
    family, address = parse_address(options.connect)
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(options.timeout or None)
            sock.connect(address)
            _send(sock, json.dumps({"learn": options.learn}).encode() + b"\n" + raw)
            reply = json.loads(_receive(sock))
    except OSError as error:
        log.warning("no daemon at %s (%s); scoring in this process", options.connect, error)
        return outreach_headers(assess_raw(raw, options))
    if "error" in reply:
        raise RuntimeError(f"daemon: {reply['error']}")
    return [tuple(pair) for pair in reply["headers"]]


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            request = _receive(self.request)
            meta, _, raw = request.partition(b"\n")
            options = FilterOptions(**{**self.server.filter_options.__dict__, "learn": bool(json.loads(meta)["learn"])})
            reply = {"headers": outreach_headers(assess_raw(raw, options))}
        except Exception as error:  # the client fails open on an error reply  # noqa: BLE001
            reply = {"error": f"{type(error).__name__}: {error}"}
        try:
            _send(self.request, json.dumps(reply).encode())
        except OSError:
            pass


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _TcpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(address: str, options: FilterOptions):
    """A threaded server on ``address`` with the model loaded once, before the first connection."""
    family, target = parse_address(address)
    _triage(options.model, options.policy, _ledger_path(options))  # load now: fail at start, not per message
    if family == socket.AF_UNIX:
        if os.path.exists(target):
            os.unlink(target)
        server = _UnixServer(target, _Handler)
        os.chmod(target, 0o600)  # only the user who runs it may ask
    else:
        _TcpServer.address_family = family
        server = _TcpServer(target, _Handler)
    server.filter_options = options
    return server


def serve(address: str, options: FilterOptions) -> int:
    server = make_server(address, options)
    print(f"triage serve: listening on {address}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
