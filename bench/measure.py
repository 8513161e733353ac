"""Run one command and report its wall time and peak memory, as JSON on stdout.

    .venv/bin/python bench/measure.py [--stdin FILE] -- COMMAND ARGS...

Run this as a fresh process for every measurement: ``resource.getrusage(RUSAGE_CHILDREN)`` holds
the largest peak of *any* child this process has waited for, so one measurer per command keeps
the numbers apart.

- ``maxrss_mb``: peak resident set of the largest single process in the command's tree
  (``ru_maxrss`` of RUSAGE_CHILDREN; grandchildren such as pool workers count once their parent
  has reaped them).
- ``tree_peak_mb``: the peak of the *summed* RSS of the command and all its descendants, sampled
  from /proc every ``--interval`` seconds (what a --jobs 2 run really holds: main + workers).
  Sampling can miss a short spike; it is a lower bound.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time


def _tree_rss_kb(root: int) -> int:
    """Summed VmRSS (kB) of ``root`` and its descendants, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces or parentheses, so split after the last ')'.
        ppid = int(stat[stat.rindex(b")") + 2:].split(b" ", 2)[1])
        parents[int(entry)] = ppid
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, ppid in parents.items():
            if ppid == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


def measure(command: list[str], stdin_path: str | None = None, interval: float = 0.2,
            env: dict | None = None, stdout_path: str | None = None) -> dict:
    peak = {"kb": 0, "samples": 0}
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    stdout = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    start = time.perf_counter()
    process = subprocess.Popen(command, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env=env)
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak["kb"] = max(peak["kb"], _tree_rss_kb(process.pid))
            peak["samples"] += 1
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"command": command, "returncode": process.returncode, "wall_s": round(wall, 3),
            "user_s": round(usage.ru_utime, 2), "sys_s": round(usage.ru_stime, 2),
            "maxrss_mb": round(usage.ru_maxrss / 1024, 1), "tree_peak_mb": round(peak["kb"] / 1024, 1),
            "samples": peak["samples"], "stderr_tail": stderr.decode("utf-8", "replace")[-2000:]}


def run_measured(command: list[str], stdin_path: str | None = None, stdout_path: str | None = None,
                 interval: float = 0.2) -> dict:
    """Measure ``command`` in a fresh measurer process (so RUSAGE_CHILDREN holds only this command)."""
    args = [sys.executable, os.path.abspath(__file__), "--interval", str(interval)]
    if stdin_path:
        args += ["--stdin", stdin_path]
    if stdout_path:
        args += ["--stdout", stdout_path]
    result = subprocess.run(args + ["--", *command], capture_output=True, check=True)
    return json.loads(result.stdout)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stdin", default=None)
    parser.add_argument("--stdout", default=None)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    print(json.dumps(measure(command, args.stdin, args.interval, stdout_path=args.stdout)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
