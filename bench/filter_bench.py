"""The mail filter's latency: warm in-process, cold per process, and through the daemon.

    .venv/bin/python bench/filter_bench.py --mbox bench/out/inbox-50000.mbox [--calls 1000] [--cold 10]

1. warm: ``Triage.load()`` once, then ``assess(raw)`` ``--calls`` times on one typical ~2 KB message
   (p50, p99, max), and once on each of ``--calls`` different inbound messages of the mbox; also the
   filter's own in-process path (``mailfilter.run_filter``: assess + headers + insertion).
2. cold: ``triage filter < msg.eml`` as a fresh process, ``--cold`` times (median); and the
   start-up parts: bare interpreter, ``import classifier.frontends.cli``, ``Triage.load()``.
3. daemon: ``triage serve unix:SOCK`` in the background; the full round trip of a fresh
   ``triage filter --connect unix:SOCK`` process (median of ``--cold``) and of bench/proto/thin_client.py
   (the same client without the CLI: the floor), and the socket request
   alone, in Python (``mailfilter.headers_via_daemon``; its local fallback is disabled so that
   nothing is scored in this process), 1 client and 2 clients at once.
4. concurrent clients: 200 `triage filter --connect` processes started at once against one daemon, on a
   Unix socket and on TCP: all must be answered by the daemon, none may lose mail.

TRIAGE_LEDGER points at a file that does not exist, so no personal ledger is read. Prints JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
TRIAGE = str(ROOT / ".venv" / "bin" / "triage")


def percentiles(seconds: list[float]) -> dict:
    ms = sorted(s * 1000 for s in seconds)
    pick = lambda q: ms[min(len(ms) - 1, max(0, round(q * (len(ms) - 1))))]  # noqa: E731
    return {"n": len(ms), "p50_ms": round(pick(0.5), 3), "p90_ms": round(pick(0.9), 3), "p99_ms": round(pick(0.99), 3),
            "max_ms": round(ms[-1], 3), "mean_ms": round(statistics.fmean(ms), 3)}


def typical_messages(mbox: Path, count: int) -> tuple[bytes, list[bytes]]:
    """One inbound text/plain message of 1.9-2.2 KB (the "typical 2 KB message"), and ``count`` inbound ones."""
    from stages import split_mbox

    raws = split_mbox(mbox, max(count * 2, 2000))
    inbound = [r for r in raws if b"X-Gmail-Labels: Sent" not in r]
    typical = next(r for r in inbound if 1900 <= len(r) <= 2200 and b"multipart" not in r and b"Subject: \n" not in r)
    return typical, inbound[:count]


def warm(typical: bytes, others: list[bytes], calls: int) -> dict:
    from classifier.frontends import mailfilter
    from classifier.triage import Triage

    start = time.perf_counter()
    triage = Triage.load()
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    triage.assess(typical)
    first_s = time.perf_counter() - start
    same, different, filtered, same_cpu, different_cpu = [], [], [], [], []
    for _ in range(calls):
        start, cpu = time.perf_counter(), time.thread_time()
        triage.assess(typical)
        same.append(time.perf_counter() - start)
        same_cpu.append(time.thread_time() - cpu)
    for raw in others:
        start, cpu = time.perf_counter(), time.thread_time()
        triage.assess(raw)
        different.append(time.perf_counter() - start)
        different_cpu.append(time.thread_time() - cpu)
    options = mailfilter.FilterOptions()
    mailfilter.run_filter(typical, options, io.BytesIO(), io.StringIO())  # loads the filter's own cached Triage
    for _ in range(calls):
        out = io.BytesIO()
        start = time.perf_counter()
        mailfilter.run_filter(typical, options, out, io.StringIO())
        filtered.append(time.perf_counter() - start)
    assert b"X-Outreach-Label:" in out.getvalue()
    return {"typical_message_bytes": len(typical), "load_s": round(load_s, 3), "first_assess_ms": round(first_s * 1000, 2),
            "assess_same_message": percentiles(same), "assess_different_messages": percentiles(different),
            "assess_same_message_cpu": percentiles(same_cpu), "assess_different_messages_cpu": percentiles(different_cpu),
            "different_messages_bytes_median": sorted(map(len, others))[len(others) // 2],
            "run_filter_same_message": percentiles(filtered)}


def timed_process(args: list[str], stdin: bytes, env: dict) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    result = subprocess.run(args, input=stdin, capture_output=True, env=env)
    return time.perf_counter() - start, result


def cold(typical: bytes, runs: int, env: dict) -> dict:
    python = str(ROOT / ".venv" / "bin" / "python")
    parts = {
        "python -c pass": [python, "-c", "pass"],
        "import classifier.frontends.cli + mailfilter": [python, "-c", "import classifier.frontends.cli, classifier.mailfilter"],
        "Triage.load() (imports + model)": [python, "-c", "from classifier.triage import Triage; Triage.load()"],
        "triage filter (plain)": [TRIAGE, "filter"],
    }
    result = {}
    for name, args in parts.items():
        times = []
        for _ in range(runs):
            seconds, done = timed_process(args, typical, env)
            if done.returncode != 0:
                raise RuntimeError(f"{name}: exit {done.returncode}: {done.stderr[-500:]!r}")
            if name == "triage filter (plain)" and b"X-Outreach-Label:" not in done.stdout:
                raise RuntimeError(f"triage filter added no headers: {done.stderr[-500:]!r}")
            times.append(seconds)
        result[name] = {"median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3),
                        "max_s": round(max(times), 3), "runs": runs}
    return result


def daemon(typical: bytes, runs: int, calls: int, env: dict) -> dict:
    from classifier.frontends import mailfilter

    sock_path = Path(tempfile.gettempdir()) / f"triage-bench-{os.getpid()}.sock"
    address = f"unix:{sock_path}"
    start = time.perf_counter()
    server = subprocess.Popen([TRIAGE, "serve", address], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"triage serve exited: {server.stderr.read()[-500:]!r}")
            if sock_path.exists():
                try:
                    with socket.socket(socket.AF_UNIX) as probe:
                        probe.connect(str(sock_path))
                    break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError("triage serve did not listen within 120 s")
            time.sleep(0.05)
        ready_s = time.perf_counter() - start
        # No silent fallback: if the daemon does not answer, fail instead of scoring here.
        def refuse(*_args, **_kwargs):
            raise RuntimeError("the daemon did not answer; refusing to score in the benchmark process")

        mailfilter.assess_raw = refuse
        options = mailfilter.FilterOptions(connect=address)
        mailfilter.headers_via_daemon(typical, options)  # first request: warms the daemon's caches
        one = []
        for _ in range(calls):
            begin = time.perf_counter()
            mailfilter.headers_via_daemon(typical, options)
            one.append(time.perf_counter() - begin)
        # Two clients at once: the daemon is threaded, but scoring holds the GIL.
        two: list[float] = []
        lock = threading.Lock()

        def client(n):
            mine = []
            for _ in range(n):
                begin = time.perf_counter()
                mailfilter.headers_via_daemon(typical, options)
                mine.append(time.perf_counter() - begin)
            with lock:
                two.extend(mine)

        begin = time.perf_counter()
        threads = [threading.Thread(target=client, args=(calls // 2,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        two_wall = time.perf_counter() - begin
        full, thin = [], []
        thin_client = [str(ROOT / ".venv" / "bin" / "python"), str(HERE / "proto" / "thin_client.py"), address]
        for _ in range(runs):
            for args, times in (([TRIAGE, "filter", "--connect", address], full), (thin_client, thin)):
                seconds, done = timed_process(args, typical, env)
                if b"X-Outreach-Label:" not in done.stdout or b"no daemon" in done.stderr:
                    raise RuntimeError(f"{args[1]} did not go through the daemon: {done.stderr[-500:]!r}")
                times.append(seconds)
        return {"daemon_ready_s": round(ready_s, 3),
                "socket_request_1_client": percentiles(one),
                "socket_request_1_client_messages_per_s": round(len(one) / sum(one), 1),
                "socket_request_2_clients": percentiles(two),
                "socket_request_2_clients_messages_per_s": round(len(two) / two_wall, 1),
                "filter_connect_process": {"median_s": round(statistics.median(full), 3), "min_s": round(min(full), 3),
                                           "max_s": round(max(full), 3), "runs": runs},
                "thin_client_prototype_process": {"median_s": round(statistics.median(thin), 3),
                                                  "min_s": round(min(thin), 3), "max_s": round(max(thin), 3),
                                                  "runs": runs}}
    finally:
        server.send_signal(signal.SIGINT)  # serve() closes its socket on KeyboardInterrupt
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if sock_path.exists():
            sock_path.unlink()


def _start_daemon(address: str, env: dict) -> subprocess.Popen:
    """`triage serve ADDRESS`, once it answers."""
    server = subprocess.Popen([TRIAGE, "serve", address], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    family, target = (socket.AF_UNIX, address[5:]) if address.startswith("unix:") else (
        socket.AF_INET, (address.rsplit(":", 1)[0], int(address.rsplit(":", 1)[1])))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"triage serve exited: {server.stderr.read()[-500:]!r}")
        try:
            with socket.socket(family) as probe:
                probe.connect(target)
            return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError("triage serve did not listen within 120 s")


def concurrent_clients(typical: bytes, env: dict, clients: int = 200) -> dict:
    """``clients`` `triage filter --connect` processes started at once against one daemon, on a Unix
    socket and on loopback TCP: how many the daemon answered, how many fell back to scoring in their own
    process, how many passed the mail through unscored, and the wall time until the last one finished."""
    results = {}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sock_path = Path(tempfile.gettempdir()) / f"triage-bench-many-{os.getpid()}.sock"
    for name, address in (("unix", f"unix:{sock_path}"), ("tcp", f"127.0.0.1:{port}")):
        server = _start_daemon(address, env)
        try:
            begin = time.perf_counter()
            procs = [(time.perf_counter(), subprocess.Popen([TRIAGE, "filter", "--connect", address], env=env,
                                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                           stderr=subprocess.PIPE)) for _ in range(clients)]
            for _, proc in procs:
                proc.stdin.write(typical)
                proc.stdin.close()
            answered = fell_back = unscored = lost = 0
            seconds = []
            for started, proc in procs:
                out, err = proc.stdout.read(), proc.stderr.read()
                proc.wait()
                seconds.append(time.perf_counter() - started)
                if not out.endswith(typical):
                    lost += 1
                elif b"X-Outreach-Label:" not in out:
                    unscored += 1
                elif b"no daemon" in err:
                    fell_back += 1
                else:
                    answered += 1
            results[name] = {"clients": clients, "answered_by_daemon": answered, "fell_back_to_own_process": fell_back,
                             "passed_through_unscored": unscored, "mail_lost_or_altered": lost,
                             "wall_s": round(time.perf_counter() - begin, 2), "per_client": percentiles(seconds)}
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    return results


def run(mbox: Path, calls: int = 1000, runs: int = 10) -> dict:
    env = dict(os.environ)
    env["TRIAGE_LEDGER"] = str(ROOT / "bench" / "out" / "no-such-ledger.db")
    os.environ["TRIAGE_LEDGER"] = env["TRIAGE_LEDGER"]
    typical, others = typical_messages(mbox, calls)
    loadavg = os.getloadavg()
    result = {"warm": warm(typical, others, calls), "cold": cold(typical, runs, env),
              "daemon": daemon(typical, runs, calls, env), "concurrent_clients": concurrent_clients(typical, env)}
    result["loadavg_before_after"] = [loadavg, os.getloadavg()]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mbox", type=Path, default=ROOT / "bench" / "out" / "inbox-50000.mbox")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--cold", type=int, default=10)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.mbox, args.calls, args.cold), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
