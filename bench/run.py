"""Every benchmark of docs/benchmarks.md, in one run.

    .venv/bin/python bench/run.py            # the full set (about 12 minutes on 2 cores)
    .venv/bin/python bench/run.py --quick    # 5,000 messages, fewer repeats: a few minutes

Writes bench/out/results.json (every number, with the machine facts) and bench/out/report.md (the
tables docs/benchmarks.md quotes). Generated inputs and outputs live in bench/out/ (gitignored).

1. ``triage score`` end to end, each run a fresh measured process (bench/measure.py): messages/s,
   CPU seconds, peak RSS (largest process, and the whole process tree); 50,000 messages at --jobs 1
   and 2, and 10,000 / 100,000 to show that memory stays flat.
2. bogofilter, trained on data/corpus.jsonl (spam = spam, the rest ham), on the same mbox.
3. Where the time goes: bench/stages.py (CPU per stage, no profiler), bench/relationship_scaling.py
   (the relationship stage against the size of the export) and bench/profile_score.py (cProfile).
4. The mail filter: bench/filter_bench.py.
5. The classifier alone: bench/classifier_speed.py.

Code and model: the package, models/, data/templates and the corpus are copied to bench/out/snapshot at
the start and every subprocess imports that copy (--live: the working tree), so that other people's
edits during the hour do not mix versions into one run.

The machine is measured as it is: nothing about BLAS or threads is set or unset here (the values
found are recorded). Before each timed run the script waits (up to --quiet-wait seconds) for the
CPUs to be mostly idle, and records how idle they were: on a shared machine, wall-clock numbers move
with other people's work, CPU seconds much less.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
TRIAGE = str(ROOT / ".venv" / "bin" / "triage")
sys.path.insert(0, str(HERE))

import make_mbox  # noqa: E402
from measure import run_measured  # noqa: E402

LIBRARIES = ("numpy", "scipy", "scikit-learn", "spacy", "skops", "threadpoolctl", "joblib", "beautifulsoup4")
THREAD_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "OPENBLAS_VERBOSE")


def log(message: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the machine


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return idle, sum(fields[:8])


def idle_fraction(seconds: float = 2.0) -> float:
    idle0, total0 = _cpu_times()
    time.sleep(seconds)
    idle1, total1 = _cpu_times()
    return (idle1 - idle0) / max(total1 - total0, 1)


def wait_quiet(max_wait: float, wanted: float = 0.85) -> dict:
    """Wait until the CPUs are at least ``wanted`` idle (over 2 s), for at most ``max_wait`` seconds."""
    start = time.monotonic()
    idle = idle_fraction()
    while idle < wanted and time.monotonic() - start < max_wait:
        idle = idle_fraction()
    return {"idle_before": round(idle, 3), "waited_s": round(time.monotonic() - start, 1),
            "loadavg_before": [round(x, 2) for x in os.getloadavg()]}


def machine_facts() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "")
    mhz = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("cpu MHz")), "")
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    meminfo = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    libraries = {}
    for name in LIBRARIES:
        try:
            libraries[name] = version(name)
        except PackageNotFoundError:
            libraries[name] = None
    threads = subprocess.run([PYTHON, "-c", "import json, numpy, scipy.sparse, sklearn; from threadpoolctl import "
                              "threadpool_info; print(json.dumps(threadpool_info()))"],
                             capture_output=True, text=True)
    try:
        pools = [{k: p.get(k) for k in ("internal_api", "num_threads", "version", "architecture", "prefix")}
                 for p in json.loads(threads.stdout)]
    except json.JSONDecodeError:
        pools = threads.stderr[-300:]
    bogofilter = shutil.which("bogofilter")
    bogo_version = (subprocess.run([bogofilter, "-V"], capture_output=True, text=True).stdout.splitlines() or [""])[0] \
        if bogofilter else None
    git = {}
    try:
        git["head"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--", "classifier"], cwd=ROOT, capture_output=True,
                                text=True).stdout
        git["classifier_changes_uncommitted"] = [line[3:] for line in status.splitlines()]
    except OSError:
        pass
    base = SNAPSHOT if (SNAPSHOT / "classifier").is_dir() and os.environ.get("PYTHONPATH", "").startswith(
        str(SNAPSHOT)) else ROOT
    digest = hashlib.sha256()
    for path in sorted((base / "classifier").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    manifest = json.loads((base / "models" / "outreach" / "manifest.json").read_text())
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(), "cpu_model": model, "cpu_mhz": mhz,
        "avx512": "avx512f" in flags, "memory_gb": round(int(meminfo) / 1024 / 1024, 1),
        "kernel": platform.release(), "os": _os_name(), "python": platform.python_version(),
        "python_executable": os.path.realpath(sys.executable),
        "libraries": libraries, "thread_pools": pools,
        "environment": {name: os.environ.get(name) for name in THREAD_VARIABLES},
        "bogofilter": bogo_version, "git": git, "classifier_sources_sha256": digest.hexdigest()[:16],
        "model": f"{manifest['name']}@{manifest['sha256'][:12]}",
    }


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.platform()


# ---------------------------------------------------------------- a frozen copy of the code and model


SNAPSHOT = OUT / "snapshot"
SNAPSHOT_PARTS = ("classifier", "models", "data/templates", "data/corpus.jsonl")


def take_snapshot() -> dict:
    """Copy the package, the models, the reply templates and the corpus to bench/out/snapshot, and make
    every later subprocess import ``classifier`` from there (PYTHONPATH first; the working directory is
    the snapshot, so no ``''`` entry finds the live package). The package resolves models/ and data/
    from its own location, so the copy is self-contained.

    Other people edit the package and retrain the model while a run lasts an hour; without this, a run
    measured halfway through a change mixes two versions (seen: a retrained model between two runs).
    """
    if SNAPSHOT.exists():
        shutil.rmtree(SNAPSHOT)
    for part in SNAPSHOT_PARTS:
        source, target = ROOT / part, SNAPSHOT / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.exists():
            shutil.copy2(source, target)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SNAPSHOT), os.environ.get("PYTHONPATH")]))
    os.chdir(SNAPSHOT)
    found = subprocess.run([PYTHON, "-c", "import classifier; print(classifier.__file__)"], capture_output=True,
                           text=True).stdout.strip()
    if not found.startswith(str(SNAPSHOT)):
        raise RuntimeError(f"the snapshot is not what subprocesses import (they import {found})")
    make_mbox.CORPUS = SNAPSHOT / "data" / "corpus.jsonl"  # messages and bogofilter from the same corpus
    return {"path": str(SNAPSHOT), "imports_from": found}


# ---------------------------------------------------------------- runs


def mbox_path(n: int) -> Path:
    return OUT / f"inbox-{n}.mbox"


def ensure_mbox(n: int) -> dict:
    log(f"generating the {n:,}-message mbox (skipped when up to date)")
    return make_mbox.ensure(n, mbox_path(n))


def measured(command: list[str], quiet_wait: float, stdout_path: Path | None = None, ok=(0, 3), **extra) -> dict:
    """``ok``: exit codes that mean it worked (triage: 0, or 3 when some messages were skipped)."""
    conditions = wait_quiet(quiet_wait)
    result = run_measured(command, stdout_path=str(stdout_path) if stdout_path else None)
    result.update(conditions, loadavg_after=[round(x, 2) for x in os.getloadavg()], **extra)
    if result["returncode"] not in ok:
        raise RuntimeError(f"{' '.join(command)} failed ({result['returncode']}): {result['stderr_tail']}")
    return result


def score_run(n: int, jobs: int, quiet_wait: float) -> dict:
    output = OUT / f"scored-{n}-j{jobs}.jsonl"
    command = [TRIAGE, "score", str(mbox_path(n)), "--jobs", str(jobs), "--quiet", "-o", str(output)]
    log(f"score: {n:,} messages, --jobs {jobs}")
    result = measured(command, quiet_wait, messages=n, jobs=jobs)
    with open(output, "rb") as f:
        result["rows_written"] = sum(1 for _ in f)
    result["output"] = str(output)
    cpu = result["user_s"] + result["sys_s"]
    result["messages_per_s"] = round(n / result["wall_s"], 1)
    result["messages_per_cpu_s"] = round(n / cpu, 1) if cpu else None
    log(f"  {result['messages_per_s']:,.0f} msg/s wall, {result['messages_per_cpu_s']:,.0f} msg/CPU-s, "
        f"peak RSS {result['maxrss_mb']:.0f} MB (tree {result['tree_peak_mb']:.0f} MB), idle before "
        f"{result['idle_before']:.0%}")
    return result


def bogofilter_runs(n: int, quiet_wait: float) -> dict:
    bogofilter = shutil.which("bogofilter")
    if bogofilter is None:
        log("bogofilter is not installed (Debian: apt-get install -y bogofilter); skipping its comparison")
        return {"skipped": "bogofilter not installed (apt-get install -y bogofilter)"}
    from email.message import EmailMessage

    folder = OUT / "bogofilter"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    spam, ham = folder / "train-spam.mbox", folder / "train-ham.mbox"
    counts = {"spam": 0, "ham": 0}
    with open(spam, "wb") as s, open(ham, "wb") as h:
        for index, line in enumerate(open(make_mbox.CORPUS, encoding="utf-8")):
            row = json.loads(line)
            mail = EmailMessage()
            mail["From"] = "sender@corpus.example"
            mail["Subject"] = " ".join((row.get("subject") or "").split())[:200]
            mail.set_content(row["text"].replace("\r\n", "\n").replace("\r", "\n"))
            kind = "spam" if row["label"] == "spam" else "ham"
            counts[kind] += 1
            raw = mail.as_bytes(policy=mail.policy.clone(linesep="\n", max_line_length=998))
            (s if kind == "spam" else h).write(f"From corpus-{index}@corpus Thu Jan  1 00:00:00 2025\n".encode()
                                               + make_mbox.mbox_escape(raw))
    database = folder / "db"
    database.mkdir()
    log(f"bogofilter: training on {counts['spam']:,} spam and {counts['ham']:,} ham corpus messages")
    start = time.perf_counter()
    for flag, path in (("-s", spam), ("-n", ham)):
        subprocess.run([bogofilter, "-d", str(database), flag, "-M", "-I", str(path)], check=True)
    train_s = time.perf_counter() - start
    verdicts = folder / f"verdicts-{n}.txt"
    log(f"bogofilter: classifying the {n:,}-message mbox")
    # The exit status is the last message's verdict: 0 spam, 1 ham, 2 unsure (3 is an error).
    result = measured([bogofilter, "-d", str(database), "-M", "-T", "-I", str(mbox_path(n))], quiet_wait,
                      stdout_path=verdicts, ok=(0, 1, 2))
    lines = verdicts.read_text().splitlines()
    result.update(messages=n, verdict_lines=len(lines), train_s=round(train_s, 2), trained_on=counts,
                  verdicts={k: sum(1 for v in lines if v.startswith(k)) for k in ("S", "H", "U")})
    cpu = result["user_s"] + result["sys_s"]
    result["messages_per_s"] = round(n / result["wall_s"], 1)
    result["messages_per_cpu_s"] = round(n / cpu, 1) if cpu else None
    if len(lines) != n:
        result["warning"] = f"{len(lines)} verdicts for {n} messages"
    log(f"  {result['messages_per_s']:,.0f} msg/s, peak RSS {result['maxrss_mb']:.1f} MB")
    return result


def json_of(command: list[str], quiet_wait: float) -> dict:
    conditions = wait_quiet(quiet_wait)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    if isinstance(result, list):
        result = {"rows": result}
    result["conditions"] = conditions
    return result


# ---------------------------------------------------------------- the report


def report(results: dict) -> str:
    facts = results["machine"]
    lines = ["# Benchmark results (generated by bench/run.py)", "",
             f"- {facts['date']}, {'quick' if results['quick'] else 'full'} run",
             f"- {facts['nproc']} CPUs: {facts['cpu_model']} ({facts['cpu_mhz']} MHz, AVX-512: {facts['avx512']}), "
             f"{facts['memory_gb']} GB, {facts['os']}, kernel {facts['kernel']}",
             f"- Python {facts['python']} ({facts.get('python_executable', 'interpreter not recorded')}); "
             + ", ".join(f"{k} {v}" for k, v in facts["libraries"].items()),
             "- BLAS/OpenMP pools: " + "; ".join(f"{p['internal_api']} {p.get('version') or ''} "
                                                  f"{p['num_threads']} threads" for p in facts["thread_pools"]
                                                  if isinstance(p, dict)),
             "- environment: " + ", ".join(f"{k}={v}" for k, v in facts["environment"].items() if v is not None)
             + (" (none of the BLAS/OpenMP variables set)" if not any(facts["environment"].values()) else ""),
             f"- measured on {'a snapshot of the package and model taken at the start (bench/out/snapshot)' if results.get('snapshot') else 'the live package and model'}",
             f"- model {facts['model']}; classifier/*.py sha256 {facts['classifier_sources_sha256']}; git HEAD "
             f"{facts['git'].get('head', '?')[:12]} with uncommitted changes in "
             f"{', '.join(facts['git'].get('classifier_changes_uncommitted', [])) or 'nothing'}",
             f"- {facts['bogofilter'] or 'bogofilter not installed'}", ""]

    lines += ["## 1-2. Batch scoring end to end, and bogofilter", "",
              "| run | messages | jobs | wall s | messages/s | CPU s | messages/CPU-s | peak RSS, largest process MB "
              "| peak RSS, all processes MB | CPU idle before |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for run in results.get("score", []):
        lines.append(f"| triage score | {run['messages']:,} | {run['jobs']} | {run['wall_s']:.1f} | {run['messages_per_s']:,.0f} "
                     f"| {run['user_s'] + run['sys_s']:.1f} | {run['messages_per_cpu_s']:,.0f} | {run['maxrss_mb']:.0f} "
                     f"| {run['tree_peak_mb']:.0f} | {run['idle_before']:.0%} |")
    for (n, jobs), runs in _runs_by_size(results).items():
        if len(runs) > 1:
            rates = sorted(r["messages_per_s"] for r in runs)
            lines.append(f"| **median of {len(runs)}** | {n:,} | {jobs} | | **{statistics.median(rates):,.0f}** "
                         f"({rates[0]:,.0f} to {rates[-1]:,.0f}) | | | | | |")
    bogo = results.get("bogofilter", {})
    if "wall_s" in bogo:
        lines.append(f"| bogofilter -M | {bogo['messages']:,} | 1 | {bogo['wall_s']:.1f} | {bogo['messages_per_s']:,.0f} "
                     f"| {bogo['user_s'] + bogo['sys_s']:.1f} | {bogo['messages_per_cpu_s']:,.0f} | {bogo['maxrss_mb']:.1f} "
                     f"| {bogo['tree_peak_mb']:.1f} | {bogo['idle_before']:.0%} |")
        lines += ["", f"bogofilter trained in {bogo['train_s']:.1f} s on {bogo['trained_on']['spam']:,} spam and "
                      f"{bogo['trained_on']['ham']:,} ham; verdicts: {bogo['verdicts']}."]
        by_size = _runs_by_size(results)
        for jobs in (1, 2):
            runs = by_size.get((bogo["messages"], jobs))
            run = sorted(runs, key=lambda r: r["messages_per_s"])[len(runs) // 2] if runs else None  # the median run
            if run:
                lines.append(f"- bogofilter is {bogo['messages_per_s'] / run['messages_per_s']:,.0f}x faster (wall) and "
                             f"{bogo['messages_per_cpu_s'] / run['messages_per_cpu_s']:,.0f}x cheaper per CPU-second than "
                             f"`triage score --jobs {jobs}`; it uses {run['maxrss_mb'] / max(bogo['maxrss_mb'], 0.1):,.0f}x "
                             f"less memory than its largest process.")
    lines.append("")

    def stage_table(base: dict) -> list[str]:
        rows = ["| stage | CPU µs/message | share |", "| --- | ---: | ---: |"]
        for name, stage in base["stages"].items():
            share = f"{stage['share_of_cpu']:.1%}" if stage["share_of_cpu"] is not None else "(not summed)"
            rows.append(f"| {name} | {stage['cpu_us_per_message']:,.0f} | {share} |")
        rows.append(f"| **pipeline total** | **{base['pipeline_cpu_s'] / base['messages'] * 1e6:,.0f}** | |")
        return rows

    if "stages" in results:
        base = results["stages"]
        lines += [f"## 3. Where the time goes ({base['messages']:,} messages, one process, CPU time, no profiler)", "",
                  f"History events weighed per scored message: mean {base['events_per_scored_message']['mean']}, "
                  f"max {base['events_per_scored_message']['max']}.", ""]
        lines += stage_table(base) + [""]
    if "relationship" in results:
        lines += ["### The relationship stage against the size of the export (CPU per scored message)", "",
                  "| messages in the export | history events per message (mean) | package: events + assess µs | "
                  "cached per-sender events µs | + one-off cache build, per message µs |",
                  "| ---: | ---: | ---: | ---: | ---: |"]
        for row in results["relationship"]["rows"]:
            lines.append(f"| {row['messages']:,} | {row['mean_events_per_message']:,.0f} | "
                         f"{row['package_stage2_cpu_us_per_message']:,.0f} | "
                         f"{row['cached_events_stage2_cpu_us_per_message']:,.0f} | "
                         f"{row['cached_events_build_us_per_message']:,.0f} |")
        lines.append("")
    if "profile" in results:
        prof = results["profile"]
        lines += [f"### cProfile of `triage score --jobs 1` ({prof['mbox']})", "",
                  "| stage | cumulative s (profiled) | share |", "| --- | ---: | ---: |"]
        lines += [f"| {r['stage']} | {r['cumulative_s']:.2f} | {r['share']:.1%} |" for r in prof["stages"]]
        lines += ["", "| top functions by own time | own s | cumulative s | calls |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| `{r['function']}` | {r['own_s']:.2f} | {r['cumulative_s']:.2f} | {r['calls']:,} |"
                  for r in prof["top_own_time"][:15]]
        lines.append("")

    if "filter" in results:
        f = results["filter"]
        warm = f["warm"]
        lines += ["## 4. The mail filter", "",
                  f"Typical message: {warm['typical_message_bytes']:,} bytes, text/plain. `Triage.load()` "
                  f"{warm['load_s']:.2f} s; first `assess` after it {warm['first_assess_ms']:.1f} ms.", "",
                  "| warm, in one process | n | p50 ms | p90 ms | p99 ms | max ms |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for name, key in (("`assess(raw)`, the same message", "assess_same_message"),
                          ("`assess(raw)`, different inbound messages", "assess_different_messages"),
                          ("`run_filter` (assess + headers), the same message", "run_filter_same_message")):
            p = warm[key]
            lines.append(f"| {name} | {p['n']:,} | {p['p50_ms']:.2f} | {p['p90_ms']:.2f} | {p['p99_ms']:.2f} | {p['max_ms']:.1f} |")
        for name, key in (("CPU time: `assess(raw)`, the same message", "assess_same_message_cpu"),
                          ("CPU time: `assess(raw)`, different messages", "assess_different_messages_cpu")):
            p = warm[key]
            lines.append(f"| {name} | {p['n']:,} | {p['p50_ms']:.2f} | {p['p90_ms']:.2f} | {p['p99_ms']:.2f} | {p['max_ms']:.1f} |")
        lines += ["", "| fresh process per message | runs | median s | min s | max s |", "| --- | ---: | ---: | ---: | ---: |"]
        for name, c in f["cold"].items():
            lines.append(f"| `{name}` | {c['runs']} | {c['median_s']:.3f} | {c['min_s']:.3f} | {c['max_s']:.3f} |")
        d = f["daemon"]
        for name, key in (("`triage filter --connect` (daemon up)", "filter_connect_process"),
                          ("thin client prototype (bench/proto/thin_client.py)", "thin_client_prototype_process")):
            c = d[key]
            lines.append(f"| {name} | {c['runs']} | {c['median_s']:.3f} | {c['min_s']:.3f} | {c['max_s']:.3f} |")
        lines += ["", "| daemon socket request, in Python | n | p50 ms | p99 ms | messages/s |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for name, key in (("1 client", "socket_request_1_client"), ("2 clients at once", "socket_request_2_clients")):
            p = d[key]
            lines.append(f"| {name} | {p['n']:,} | {p['p50_ms']:.2f} | {p['p99_ms']:.2f} | {d[key + '_messages_per_s']:,.0f} |")
        lines += ["", f"`triage serve` ready (model loaded, socket listening) after {d['daemon_ready_s']:.2f} s.", ""]
        if "concurrent_clients" in f:
            lines += ["| `triage filter --connect` processes started at once | clients | answered by the daemon | "
                      "fell back | passed unscored | mail lost | wall s | p99 per client s |",
                      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
            for name, c in f["concurrent_clients"].items():
                lines.append(f"| {name} | {c['clients']} | {c['answered_by_daemon']} | {c['fell_back_to_own_process']} | "
                             f"{c['passed_through_unscored']} | {c['mail_lost_or_altered']} | {c['wall_s']:.1f} | "
                             f"{c['per_client']['p99_ms'] / 1000:.1f} |")
            lines.append("")

    if "classifier" in results:
        lines += ["## 5. The classifier alone (one thread, short messages <= 160 characters, best of 5)", "",
                  "| texts | call | messages/s (wall) | messages/CPU-s |", "| --- | --- | ---: | ---: |"]
        c = results["classifier"]
        for texts in ("held_out_short", "corpus_short"):
            for call, value in c[texts].items():
                if not isinstance(value, dict):
                    continue
                lines.append(f"| {texts.replace('_', ' ')} | `{call}` | {value['messages_per_s_wall']:,.0f} | "
                             f"{value['messages_per_cpu_s']:,.0f} |")
        lines += ["", f"The model's metrics.json says {c['model_card_says']:,.0f} short messages/s.", ""]
    return "\n".join(lines) + "\n"


def _runs_by_size(results: dict) -> dict[tuple[int, int], list[dict]]:
    """(messages, jobs) -> the score runs of that size, in the order they ran."""
    found: dict[tuple[int, int], list[dict]] = {}
    for run in results.get("score", []):
        found.setdefault((run["messages"], run["jobs"]), []).append(run)
    return found


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 messages and fewer repeats")
    parser.add_argument("--quiet-wait", type=float, default=120,
                        help="seconds to wait for idle CPUs before each timed run (default 120; 0: do not wait)")
    parser.add_argument("--memory-sizes", default="10000,100000",
                        help="the extra sizes scored at --jobs 1 and 2 to show flat memory (default 10000,100000; "
                             "--quick: none)")
    parser.add_argument("--live", action="store_true",
                        help="import the live package and model instead of a snapshot taken at the start")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of the headline size at each --jobs (default 3; --quick: 1)")
    parser.add_argument("--only", default=None,
                        help="comma-separated parts: score,bogofilter,stages,relationship,profile,filter,classifier")
    args = parser.parse_args(argv)
    every = {"score", "bogofilter", "stages", "relationship", "profile", "filter", "classifier"}
    parts = set(args.only.split(",")) if args.only else every
    if parts - every:
        parser.error(f"unknown part(s) {', '.join(sorted(parts - every))}; expected some of {', '.join(sorted(every))}")
    OUT.mkdir(parents=True, exist_ok=True)
    main_n = 5_000 if args.quick else 50_000
    if args.quick:
        args.repeats = 1
    memory_sizes = [] if args.quick else [int(n) for n in args.memory_sizes.split(",") if n.strip()]
    profile_n = 2_000 if args.quick else 10_000
    snapshot = None if args.live else take_snapshot()
    results_path = OUT / ("results-quick.json" if args.quick else "results.json")
    results: dict = {}
    if args.only and results_path.is_file():  # a partial run updates the parts it measures
        results = json.loads(results_path.read_text())
        results.setdefault("machine_earlier", results.get("machine"))
    results.update({"quick": args.quick, "snapshot": snapshot, "machine": machine_facts()})
    log(f"{results['machine']['nproc']} CPUs, {results['machine']['cpu_model']}; CPU idle now "
        f"{idle_fraction():.0%}, load average {os.getloadavg()[0]:.1f}")
    for n in sorted({main_n, profile_n, *memory_sizes}):
        results.setdefault("mboxes", {})[str(n)] = ensure_mbox(n)

    def save():
        results_path.write_text(json.dumps(results, indent=1, default=str) + "\n")
        (OUT / ("report-quick.md" if args.quick else "report.md")).write_text(report(results))

    if "score" in parts:
        # The headline size is run --repeats times at each --jobs, alternating, since one run on a shared
        # machine can be 10 to 20% off; the report gives every run and the median.
        results["score"] = [score_run(main_n, jobs, args.quiet_wait) for _ in range(args.repeats) for jobs in (1, 2)]
        for n in memory_sizes:
            results["score"] += [score_run(n, jobs, args.quiet_wait) for jobs in (1, 2)]
        save()
    if "bogofilter" in parts:
        results["bogofilter"] = bogofilter_runs(main_n, args.quiet_wait)
        save()
    if "stages" in parts:
        log(f"stages: {profile_n:,} messages")
        results["stages"] = json_of([PYTHON, str(HERE / "stages.py"), str(mbox_path(profile_n))], args.quiet_wait)
        save()
    if "relationship" in parts:
        sizes = [main_n] if args.quick else [10_000, 50_000, 100_000]
        log(f"relationship stage against export size: {', '.join(f'{n:,}' for n in sizes)}")
        results["relationship"] = json_of([PYTHON, str(HERE / "relationship_scaling.py"),
                                           *(str(mbox_path(n)) for n in sizes),
                                           "--sample", "300" if args.quick else "1000"], args.quiet_wait)
        save()
    if "profile" in parts:
        log(f"cProfile: triage score --jobs 1 on {profile_n:,} messages")
        results["profile"] = json_of([PYTHON, str(HERE / "profile_score.py"), str(mbox_path(profile_n)),
                                      "-o", str(OUT / f"score-{profile_n}.prof")], args.quiet_wait)
        save()
    if "filter" in parts:
        log("mail filter: warm, cold, daemon")
        calls, cold = ("300", "3") if args.quick else ("1000", "10")
        command = [PYTHON, str(HERE / "filter_bench.py"), "--mbox", str(mbox_path(main_n)), "--calls", calls,
                   "--cold", cold]
        results["filter"] = json_of(command, args.quiet_wait)
        save()
    if "classifier" in parts:
        log("classifier alone: short messages, one thread")
        results["classifier"] = json_of([PYTHON, str(HERE / "classifier_speed.py")], args.quiet_wait)
        save()
    for run in results.get("score", [])[2:]:  # the memory runs' rows are not compared: drop them
        Path(run["output"]).unlink(missing_ok=True)
    save()
    log(f"done: {results_path} and {results_path.parent / ('report-quick.md' if args.quick else 'report.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
