"""Several processes writing one ledger at once never lose or duplicate an event."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from classifier.weigh.events import Event
from classifier.weigh.ledger import Ledger

PROCESSES = 4
EVENTS_PER_PROCESS = 200
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def events_for(process: int) -> list[Event]:
    """Processes 0 and 2 write the same 200 events, 1 and 3 another 200; 50 of those are shared by all."""
    group = process % 2
    events = []
    for i in range(EVENTS_PER_PROCESS):
        note = f"shared-{i}" if i < 50 else f"group{group}-{i}"
        events.append(Event(sender=f"user{i % 37}@example.org", date=T0 + timedelta(hours=i), kind="engaged",
                            note=note, source="concurrency"))
    return events


def expected_ids() -> set[str]:
    return {e.id for p in range(PROCESSES) for e in events_for(p)}


def write(path: str, process: int, start: mp.synchronize.Barrier, results: mp.Queue) -> None:  # type: ignore[name-defined]
    """Open the ledger at the same moment as the others, then write one event per transaction,
    with a few batches mixed in."""
    start.wait(timeout=60)
    new = 0
    with Ledger(path) as ledger:
        events = events_for(process)
        for i, event in enumerate(events):
            if i % 20 == 0:
                new += ledger.record_many(events[i:i + 5])  # overlaps the single writes that follow
            new += ledger.record(event)
    results.put((process, new))


def run_writers(path: Path) -> dict[int, int]:
    context = mp.get_context("spawn")
    start = context.Barrier(PROCESSES)  # released once every process has imported and is ready
    results = context.Queue()
    processes = [context.Process(target=write, args=(str(path), p, start, results)) for p in range(PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * PROCESSES
    return dict(results.get(timeout=5) for _ in processes)


def test_concurrent_writers_on_a_fresh_ledger_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"  # does not exist yet: the processes also race to create the schema
    counts = run_writers(path)
    unique = expected_ids()
    assert len(unique) == 50 + 2 * 150
    # Each new event was claimed by exactly one process: the reported counts add up exactly.
    assert sum(counts.values()) == len(unique)
    with Ledger(path) as ledger:
        stored = ledger.all_events()
        assert ledger.count() == len(stored) == len(unique)
        assert {e.id for e in stored} == unique
        assert len(ledger.events("user0@example.org")) == len({e.id for e in stored if e.sender == "user0@example.org"})


def test_concurrent_writers_on_an_existing_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with Ledger(path) as ledger:
        assert ledger.record_many(events_for(0)[:100]) == 100
    counts = run_writers(path)
    assert sum(counts.values()) == len(expected_ids()) - 100
    with Ledger(path) as ledger:
        assert ledger.count() == len(expected_ids())



def test_opening_waits_while_another_process_creates_the_schema(tmp_path: Path) -> None:
    """A first open holds the write lock while it creates the schema. SQLite refuses a journal-mode
    switch at once while that lock is held, without waiting on the busy timeout, so a second open
    must retry rather than fail with "database is locked" (it did, now and then, before)."""
    path = tmp_path / "ledger.db"
    with sqlite3.connect(path) as made:  # a database in the default rollback-journal mode, with no schema yet
        made.execute("CREATE TABLE scratch (x)")
    made.close()
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: blocker.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    with Ledger(path) as ledger:
        assert ledger.record(events_for(0)[0]) is True
    assert time.monotonic() - started >= 0.25  # it waited for the lock instead of failing
    release.join()
    blocker.close()
