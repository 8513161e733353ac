"""Messages per second of ``triage score --engine dask`` at 1 and 2 workers, against the one-machine job.

    .venv/bin/python bench/bench_dask.py [-n 10000] [--shards 8] [--workers 1,2] [--repeat 2]

The export is bench/make_mbox.py's generated inbox (same seed, same bytes), cut into ``--shards``
mbox files of consecutive messages, like an archive kept as one file per month: the content stage
gets one task per file, and a sender's history crosses files, so the relationship stage has to
bring it together. For each worker count a LocalCluster (processes, one thread each, 127.0.0.1, no
dashboard) is started, timed on its own, then the job runs ``--repeat`` times on it: the first run
includes each worker loading the model, later ones find it loaded. ``batch.score`` with ``--jobs``
1 and 2 on the same files is the baseline, and every Dask run is checked against it (label, action
and standing of every message). Prints JSON; also writes it to bench/out/dask-<n>.json.

Each run also records the CPU seconds its processes used (this process, which holds the scheduler,
plus the pool's or the workers') and the load average around it: on a machine shared with other
work the wall time says little about scaling, and messages per CPU second still say what a worker
costs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import make_mbox  # noqa: E402  (bench/make_mbox.py, beside this file)

from classifier.run.batch import score  # noqa: E402
from classifier.run.job import ScoreOptions  # noqa: E402
from classifier.run.distributed import score_dask  # noqa: E402


def make_shards(n: int, shards: int, folder: Path) -> list[str]:
    """make_mbox's ``n`` messages in ``shards`` files of consecutive messages (kept for the next run)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = folder / "made.json"
    want = {"generator_sha256": make_mbox.generator_hash(), "messages": n, "shards": shards}
    paths = [folder / f"inbox-{i:02d}.mbox" for i in range(shards)]
    if stamp.is_file() and json.loads(stamp.read_text()) == want and all(p.is_file() for p in paths):
        return [str(p) for p in paths]
    messages, _ = make_mbox.build(n, 20261122, 400)
    size = -(-len(messages) // shards)
    for i, path in enumerate(paths):
        with open(path, "wb") as f:
            for raw in messages[i * size:(i + 1) * size]:
                f.write(raw)
    stamp.write_text(json.dumps(want))
    return [str(p) for p in paths]


class StageTimes(logging.Handler):
    """Collects the stage durations classifier.distributed logs."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.seconds: dict[str, float] = {}

    def emit(self, record):
        if hasattr(record, "stage"):
            self.seconds[record.stage] = round(record.seconds, 2)


def cpu_seconds() -> float:
    """User + system CPU of this process and its reaped children (the --jobs pool)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def worker_cpu_seconds() -> float:
    """Run on a Dask worker: its process's user + system CPU."""
    import psutil

    times = psutil.Process().cpu_times()
    return times.user + times.system


def load() -> float:
    return round(os.getloadavg()[0], 2)


def decisions(path: Path) -> dict[str, tuple]:
    table = pq.read_table(path, columns=["id", "origin", "label", "action", "standing_balance", "standing_summary"])
    return {(r["origin"], r["id"]): (r["label"], r["action"], r["standing_balance"], r["standing_summary"])
            for r in table.to_pylist()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--messages", type=int, default=10_000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--workers", default="1,2", help="worker counts to measure, comma-separated")
    parser.add_argument("--repeat", type=int, default=2, help="runs per cluster (the first loads the model)")
    parser.add_argument("--skip-local", action="store_true", help="do not run the one-machine baseline")
    args = parser.parse_args(argv)

    from distributed import Client, LocalCluster

    inputs = make_shards(args.messages, args.shards, HERE / "out" / f"dask-shards-{args.messages}-{args.shards}")
    stages = StageTimes()
    log = logging.getLogger("classifier")
    log.addHandler(stages)
    log.setLevel(logging.DEBUG)
    result = {"messages": args.messages, "shards": args.shards, "cpus": os.cpu_count(),
              "python": platform.python_version(), "local": {}, "dask": {}}
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        tmp = Path(tmp)
        baseline = None
        for jobs in ([] if args.skip_local else [1, 2]):
            out = tmp / f"local-{jobs}.parquet"
            load_before, cpu_before, started = load(), cpu_seconds(), time.perf_counter()
            summary = score(ScoreOptions(inputs=inputs, output=str(out), format="parquet", jobs=jobs))
            seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_before
            result["local"][f"jobs={jobs}"] = {"seconds": round(seconds, 1), "scored": summary.scored,
                                               "messages_per_s": round(args.messages / seconds, 1),
                                               "cpu_s": round(cpu, 1),
                                               "messages_per_cpu_s": round(args.messages / cpu, 1),
                                               "load_before_after": [load_before, load()]}
            baseline = baseline or decisions(out)
            print(json.dumps({"local": jobs, **result["local"][f"jobs={jobs}"]}), file=sys.stderr)
        for workers in (int(w) for w in args.workers.split(",")):
            started = time.perf_counter()
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster:
                runs = {"cluster_start_s": round(time.perf_counter() - started, 1), "runs": []}
                for run in range(args.repeat):
                    out = tmp / f"dask-{workers}-{run}"
                    stages.seconds = {}
                    with Client(cluster) as client:
                        load_before, started = load(), time.perf_counter()
                        cpu_before = cpu_seconds() + sum(client.run(worker_cpu_seconds).values())
                        summary = score_dask(ScoreOptions(inputs=inputs, output=str(out), format="parquet",
                                                          quiet=True), scheduler=cluster.scheduler_address)
                        seconds = time.perf_counter() - started
                        cpu = cpu_seconds() + sum(client.run(worker_cpu_seconds).values()) - cpu_before
                    same = None if baseline is None else decisions(out) == baseline
                    runs["runs"].append({"seconds": round(seconds, 1), "scored": summary.scored,
                                         "messages_per_s": round(args.messages / seconds, 1),
                                         "cpu_s": round(cpu, 1), "messages_per_cpu_s": round(args.messages / cpu, 1),
                                         "load_before_after": [load_before, load()],
                                         "stages_s": stages.seconds, "same_as_local": same})
                    print(json.dumps({"workers": workers, **runs["runs"][-1]}), file=sys.stderr)
                    shutil.rmtree(out)
            result["dask"][f"workers={workers}"] = runs
    print(json.dumps(result, indent=2))
    (HERE / "out" / f"dask-{args.messages}.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
