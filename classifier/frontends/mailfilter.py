"""The pipe filter and its daemon, for procmail, maildrop, Sieve and Postfix.

The one promise: the mail that comes in goes out, every byte unchanged and in order. The filter only
inserts ``X-Outreach-*`` header lines at the top of the header block (after an mbox "From " line
when there is one). It never re-serialises, re-folds or re-encodes the message, and on any error it
passes the original through untouched (fail open).
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import math
import os
import re
import shutil
import signal
import socket
import stat
import struct
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from classifier.labels import ASK_LABELS, KNOWN_TIES
from classifier.weigh.events import Event
from classifier.weigh.ledger import default_ledger_path

log = logging.getLogger(__name__)

EX_TEMPFAIL = 75
"""sysexits.h: "try again later"; for MTAs that retry (Postfix pipe, sendmail)."""
MAX_REASONS = 300
MAX_INPUT = 64 * 1024 * 1024
"""The largest message scored. A larger one is passed through unscored, streamed, never dropped."""
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]+")


def header_value(value: str, limit: int = 200) -> str:
    """One safe header value: no CR, LF or other control characters (no injected headers), ASCII only
    (RFC 5322), and short."""
    value = _UNSAFE.sub(" ", value)
    value = value.encode("ascii", errors="replace").decode("ascii")
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 3].rstrip() + "..."


def needs_person(assessment) -> bool:
    """Whether a person should see this message in the inbox, whatever its action: the label is
    uncertain, or it comes from someone the user knows (family, close, a colleague). A filter's rule
    must never bury a sister's mail in a folder of declined pitches."""
    return assessment.needs_review or assessment.tie in KNOWN_TIES


def outreach_headers(assessment) -> list[tuple[str, str]]:
    """The header fields the filter adds, in order."""
    return [
        ("X-Outreach-Label", header_value(assessment.label, 40)),
        ("X-Outreach-Action", header_value(assessment.action, 20)),
        ("X-Outreach-Review", "yes" if needs_person(assessment) else "no"),
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


def check_timeout(value: str | float) -> float:
    """A filter timeout in seconds: a finite number above 0 and at most an hour ("nan" would never fire)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and 0 < seconds <= 3600):
        raise ValueError(f"bad timeout {value!r}; expected a number of seconds above 0 and at most 3600")
    return seconds


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
    if options.ledger:
        return options.ledger
    default = default_ledger_path()
    return str(default) if default.exists() or options.learn else None


def assess_raw(raw: bytes, options: FilterOptions):
    """Score one raw message in this process (the model loads once per process and is cached).
    Scoring only: recording the ask is the caller's explicit step (record_ask)."""
    return _triage(options.model, options.policy, _ledger_path(options)).assess(raw)


_triages: dict = {}
_triages_lock = threading.Lock()


def _triage(model, policy, ledger):
    # Imported here, not at the top: the model stack (scikit-learn, spaCy) loads only in a process that
    # scores; `triage filter --connect` to a running daemon never does.
    from classifier.triage import Triage

    key = (model, policy, ledger)
    with _triages_lock:
        if key not in _triages:
            _triages[key] = Triage.load(model, policy, ledger)
        return _triages[key]


def record_ask(triage, assessment) -> bool:
    """Record the ask as a withdrawal, once per Message-ID (the event id is a hash of the same fields)."""
    if triage.ledger is None or assessment.label not in ASK_LABELS or not assessment.sender:
        return False
    date = datetime.fromisoformat(assessment.date) if assessment.date else datetime.now(timezone.utc)
    event = Event(sender=assessment.sender, date=date, kind="asked", label=assessment.label,
                  note=f"Message-ID {header_value(assessment.id, 200)}", source="filter")
    return triage.ledger.record(event)


def _headers_here(raw: bytes, options: FilterOptions) -> list[tuple[str, str]]:
    """Score in this process; with --learn, then record the ask."""
    assessment = assess_raw(raw, options)
    if options.learn:
        record_ask(_triage(options.model, options.policy, _ledger_path(options)), assessment)
    return outreach_headers(assessment)


def read_message(stream) -> tuple[bytes, bool]:
    """Up to MAX_INPUT bytes of the message on ``stream``, and whether it holds more than that."""
    data = stream.read(MAX_INPUT + 1)
    return data, len(data) > MAX_INPUT


def run_filter(raw: bytes, options: FilterOptions, out, err, rest=None) -> int:
    """Write ``raw`` with the X-Outreach headers to ``out`` (or just the action with --action-only).

    ``rest``: the stream the message goes on in, when it is larger than MAX_INPUT: then it is passed
    through unscored, ``raw`` and all of ``rest`` copied as they come, and the exit code is 0 even with
    ``tempfail`` (trying again cannot make it smaller).

    Fails open: whatever goes wrong, the original bytes are written unchanged and the error goes to
    ``err``; the exit code is 0, or EX_TEMPFAIL with ``tempfail`` for MTAs that retry.
    """
    if rest is not None:
        err.write(f"triage filter: message larger than {MAX_INPUT // (1024 * 1024)} MB; passed through unscored\n")
        if not options.action_only:
            out.write(raw)
            shutil.copyfileobj(rest, out, 1 << 20)
        out.flush()
        return 0
    try:
        with _deadline(options.timeout):
            if options.connect:
                headers = headers_via_daemon(raw, options, err)
            else:
                headers = _headers_here(raw, options)
    except Exception as error:  # fail open: no error may lose or alter mail  # noqa: BLE001
        err.write(f"triage filter: {type(error).__name__}: {error}; message passed through unchanged\n")
        if not options.action_only:
            out.write(raw)
        out.flush()
        return EX_TEMPFAIL if options.tempfail else 0
    if options.action_only:  # "review" when a person should look: no Sieve rule matches it, so it stays
        fields = dict(headers)
        word = "review" if fields.get("X-Outreach-Review") == "yes" else fields["X-Outreach-Action"]
        out.write(word.encode("ascii") + b"\n")
    else:
        out.write(insert_headers(raw, headers))
    out.flush()
    return 0


# ---------------------------------------------------------------- the daemon and its client

_LENGTH = struct.Struct("!Q")
BACKLOG = 4096
"""Connections the kernel queues before the daemon accepts them (the kernel caps it at somaxconn).
At 5, Python's default, 200 filters started at once were refused or left waiting."""
CLIENT_SECONDS = 15.0
"""A client must have sent its whole request this long after connecting, or it is closed: an idle
connection holds a file descriptor and nothing else."""
SCORING_THREADS = 2
"""Threads that score. Scoring holds the GIL most of the time, so more would only queue in memory."""


def parse_address(address: str):
    """``unix:/path``, ``/path`` (a Unix socket) or ``HOST:PORT`` on loopback."""
    if address.startswith("unix:"):
        path = address[len("unix:"):]
        if not path:
            raise ValueError(f"bad address {address!r}; expected unix:/path/to/socket")
        return socket.AF_UNIX, path
    if address.startswith("/") or address.startswith("."):
        return socket.AF_UNIX, address
    host, _, port = address.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad address {address!r}; expected unix:/path/to/socket or 127.0.0.1:PORT "
                         "with PORT from 1 to 65535")
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


def _connect(sock, address, seconds: float) -> None:
    """Connect, trying again while a Unix socket's queue is full (EAGAIN: the daemon is busy, not down)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            sock.connect(address)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def headers_via_daemon(raw: bytes, options: FilterOptions, err=None) -> list[tuple[str, str]]:
    """Ask a running daemon; if none answers, score here (like spamc when spamd is down)."""
    family, address = parse_address(options.connect)
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(options.timeout or None)
            _connect(sock, address, options.timeout / 2)
            _send(sock, json.dumps({"learn": options.learn}).encode() + b"\n" + raw)
            reply = json.loads(_receive(sock))
    except OSError as error:
        log.warning("no daemon at %s (%s); scoring in this process", options.connect, error)
        return _headers_here(raw, options)
    if "error" in reply:
        raise RuntimeError(f"daemon: {reply['error']}")
    if reply.get("warning") and err is not None:
        err.write(f"triage filter: daemon: {reply['warning']}\n")
    return [tuple(pair) for pair in reply["headers"]]


class FilterDaemon:
    """The model loaded once, answering ``triage filter --connect`` clients on one socket.

    asyncio reads and writes every connection, so thousands of slow or idle clients cost a file
    descriptor each, never a thread; scoring runs on SCORING_THREADS threads. A client that has not sent
    its request within CLIENT_SECONDS is closed. Recording asks (a client's ``--learn``) happens only
    when the owner started the daemon with ``allow_learn``: any local client may connect.
    """

    def __init__(self, address: str, options: FilterOptions, *, allow_learn: bool = False,
                 client_seconds: float = CLIENT_SECONDS, threads: int = SCORING_THREADS):
        self.address, self.options, self.allow_learn = address, options, allow_learn
        self.client_seconds = client_seconds
        self.family, self.target = parse_address(address)
        if self.family == socket.AF_UNIX:
            _clear_stale_socket(self.target)  # a path we must not take: say so before the model loads
        ledger = _ledger_path(FilterOptions(ledger=options.ledger, learn=allow_learn))  # made only to record
        self.triage = _triage(options.model, options.policy, ledger)  # load now: fail at start, not per message
        self.sock = _listen(self.family, self.target)
        self._socket_inode = os.stat(self.target).st_ino if self.family == socket.AF_UNIX else None
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="score")
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._stopping = threading.Event()

    def answer(self, request: bytes) -> dict:
        """One request (a JSON line of options, then the raw message) -> the reply."""
        meta, _, raw = request.partition(b"\n")
        wants_learn = bool(json.loads(meta).get("learn"))
        assessment = self.triage.assess(raw)
        reply: dict = {"headers": outreach_headers(assessment)}
        if wants_learn:
            if self.allow_learn:
                record_ask(self.triage, assessment)
            else:
                reply["warning"] = "recording is off (start it with `triage serve --allow-learn`); the ask was not recorded"
        return reply

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                async with asyncio.timeout(self.client_seconds):
                    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
                    if length > MAX_INPUT:
                        raise ValueError("message larger than 64 MB")
                    request = await reader.readexactly(length)
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                return  # idle, slow or gone: nothing to answer
            try:
                reply = await self.loop.run_in_executor(self.pool, self.answer, request)
            except Exception as error:  # the client fails open on an error reply  # noqa: BLE001
                reply = {"error": f"{type(error).__name__}: {error}"}
            payload = json.dumps(reply).encode()
            writer.write(_LENGTH.pack(len(payload)) + payload)
            async with asyncio.timeout(self.client_seconds):
                await writer.drain()
        except (ValueError, TimeoutError, ConnectionError) as error:
            log.debug("client dropped: %s", error)
        finally:
            writer.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        if self._stopping.is_set():  # shut down before it started
            return
        if self.family == socket.AF_UNIX:
            server = await asyncio.start_unix_server(self._client, sock=self.sock, backlog=BACKLOG)
        else:
            server = await asyncio.start_server(self._client, sock=self.sock, backlog=BACKLOG)
        async with server:
            self._started.set()
            await self._stop.wait()

    def serve_forever(self) -> None:
        """Answer clients until shutdown() (or KeyboardInterrupt in the caller)."""
        asyncio.run(self._main())

    def wait_started(self, seconds: float = 30) -> bool:
        return self._started.wait(seconds)

    def shutdown(self) -> None:
        """Stop serve_forever, from any thread, even before it has started."""
        self._stopping.set()
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)

    def close(self) -> None:
        """Close the socket and remove its file, if it is still ours."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.sock.close()
        if self._socket_inode is not None:
            try:
                if os.stat(self.target).st_ino == self._socket_inode:
                    os.unlink(self.target)
            except OSError:
                pass


def _listen(family, target) -> socket.socket:
    """A listening socket on ``target``. A Unix socket replaces only a stale socket (nobody answers
    there), never a file, a folder or a live daemon, and is never visible with a mode looser than 0600."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family == socket.AF_UNIX:
            _clear_stale_socket(target)
            old_umask = os.umask(0o177)  # the socket file is created 0600, whatever the caller's umask
            try:
                sock.bind(target)
            finally:
                os.umask(old_umask)
            os.chmod(target, 0o600)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(target)
        sock.listen(BACKLOG)
    except OSError as error:
        sock.close()
        raise ValueError(f"cannot listen on {_name(family, target)}: {error.strerror or error}") from None
    except BaseException:
        sock.close()
        raise
    return sock


def _name(family, target) -> str:
    return f"unix:{target}" if family == socket.AF_UNIX else f"{target[0]}:{target[1]}"


def _clear_stale_socket(path: str) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a symbolic link" if stat.S_ISLNK(mode) else "a file"
        raise ValueError(f"{path} is {kind}, not a socket; refusing to replace it (choose another path)")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            os.unlink(path)  # stale: left by a daemon that is gone
            return
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ETIMEDOUT):
                raise
    raise ValueError(f"a daemon is already listening on {path}; stop it first or choose another path")


def make_server(address: str, options: FilterOptions, *, allow_learn: bool = False) -> FilterDaemon:
    """A daemon on ``address`` with the model loaded, listening (serve_forever answers clients)."""
    return FilterDaemon(address, options, allow_learn=allow_learn)


def _raise_file_limit() -> None:
    """Let the daemon hold as many connections as the system allows this user: each is a descriptor."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))
        except (ValueError, OSError):
            pass


def serve(address: str, options: FilterOptions, *, allow_learn: bool = False) -> int:
    _raise_file_limit()
    daemon = make_server(address, options, allow_learn=allow_learn)
    recording = "records asks (--allow-learn)" if allow_learn else "does not record asks"
    print(f"triage serve: listening on {address}; {recording}", file=sys.stderr, flush=True)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        daemon.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        daemon.close()
    return 0


def _terminate(signum, frame):
    raise KeyboardInterrupt  # SIGTERM stops the daemon as Ctrl-C does: its socket file is removed
