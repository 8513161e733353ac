"""The SQLite ledger: sender keys, events, aliases, files, schema versions."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from classifier.weigh import corrections as correction_log
from classifier.weigh.events import Event, normalise_sender, parse_date
from classifier.weigh import people as people_store
from classifier.weigh.ledger import SCHEMA_VERSION, Ledger, LedgerError, default_ledger_path, read_events, write_events
from classifier.policy import load_policy
from classifier.weigh.standing import standing

T0 = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    with Ledger(tmp_path / "ledger.db") as opened:
        yield opened


def ev(sender: str = "ann@example.org", days: float = 0, kind: str = "helped", **kw) -> Event:
    return Event(sender=sender, date=T0 + timedelta(days=days), kind=kind, **kw)


# ---------------------------------------------------------------- sender keys


@pytest.mark.parametrize(("raw", "key"), [
    ("Ann@Example.ORG", "ann@example.org"),
    ("Ann Lee <Ann.Lee@Example.org>", "ann.lee@example.org"),
    ('"Lee, Ann" <ann@example.org>', "ann@example.org"),
    ("mailto:Ann@example.org", "ann@example.org"),
    ("twitter:@AnnLee", "twitter:@annlee"),
    ("twitter:AnnLee", "twitter:@annlee"),
    ("x:@AnnLee", "twitter:@annlee"),
    ("https://twitter.com/AnnLee", "twitter:@annlee"),
    ("https://x.com/AnnLee/", "twitter:@annlee"),
    ("www.twitter.com/AnnLee?lang=en", "twitter:@annlee"),
    ("linkedin:ann-lee-42", "linkedin:ann-lee-42"),
    ("https://www.linkedin.com/in/Ann-Lee-42/", "linkedin:ann-lee-42"),
    ("uk.linkedin.com/in/ann-lee", "linkedin:ann-lee"),
    ("instagram:@Ann.Lee", "instagram:@ann.lee"),
    ("https://instagram.com/ann.lee", "instagram:@ann.lee"),
    ("  ann@example.org  ", "ann@example.org"),
])
def test_normalise_sender_forms(raw: str, key: str) -> None:
    assert normalise_sender(raw) == key


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_no_sender_is_none(raw: str | None) -> None:
    assert normalise_sender(raw) is None


@pytest.mark.parametrize("raw", ["Ann Lee", "@annlee", "twitter:@this_handle_is_far_too_long", "facebook:ann",
                                 "ann@", "https://example.org/ann"])
def test_bad_sender_names_value_and_forms(raw: str) -> None:
    with pytest.raises(ValueError) as error:
        normalise_sender(raw)
    assert repr(raw) in str(error.value)
    assert "twitter:@name" in str(error.value) and "linkedin.com/in/" in str(error.value)


# ---------------------------------------------------------------- events


def test_date_alone_is_midnight_utc_and_offsets_become_utc() -> None:
    assert parse_date("2024-03-01") == datetime(2024, 3, 1, tzinfo=UTC)
    assert parse_date(date(2024, 3, 1)) == datetime(2024, 3, 1, tzinfo=UTC)
    assert parse_date("2024-03-01T09:00:00+02:00") == datetime(2024, 3, 1, 7, tzinfo=UTC)
    assert parse_date("2024-03-01T09:00:00Z").tzinfo is UTC


@pytest.mark.parametrize("bad", ["2024-03-01T09:00:00", datetime(2024, 3, 1, 9)])
def test_naive_time_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="no timezone"):
        parse_date(bad)  # type: ignore[arg-type]


def test_bad_date_names_value() -> None:
    with pytest.raises(ValueError, match="'last tuesday'"):
        parse_date("last tuesday")


@pytest.mark.parametrize("weight", [float("nan"), float("inf"), -1.0, "abc", True])
def test_weight_must_be_finite_and_non_negative(weight: object) -> None:
    with pytest.raises(ValueError, match="bad weight"):
        ev(weight=weight)


def test_unknown_kind_names_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown kind 'liked'; expected one of helped, shared"):
        ev(kind="liked")


def test_label_only_on_asks_and_only_known_labels() -> None:
    assert ev(kind="asked", label="cold_pitch").label == "cold_pitch"
    assert ev(kind="asked", label="").label is None
    with pytest.raises(ValueError, match="only 'asked' events"):
        ev(kind="helped", label="cold_pitch")
    with pytest.raises(ValueError, match="unknown label 'pitch'"):
        ev(kind="asked", label="pitch")


def test_id_is_stable_over_spelling_and_zone_but_not_content() -> None:
    a = Event("Ann <ANN@example.org>", datetime(2024, 3, 1, 10, tzinfo=timezone(timedelta(hours=2))),
              "helped", 1, " fixed it ")
    b = Event("ann@example.org", "2024-03-01T08:00:00Z", "helped", 1.0, "fixed it")
    assert a.id == b.id and len(a.id) == 64
    assert ev(note="x").id != ev(note="y").id
    assert ev(weight=1).id != ev(weight=2).id
    assert ev(source="a").id != ev(source="b").id


# ---------------------------------------------------------------- store


def test_record_reports_new_and_ignores_repeats(ledger: Ledger) -> None:
    assert ledger.record(ev()) is True
    assert ledger.record(ev()) is False
    assert ledger.record_many([ev(), ev(days=1), ev(days=1), ev(days=2)]) == 2
    assert ledger.count() == 3


def test_events_are_oldest_first_and_strictly_before(ledger: Ledger) -> None:
    ledger.record_many([ev(days=5, kind="shared"), ev(days=1), ev(days=3, kind="met"),
                        ev("bob@example.org", days=2)])
    assert [e.kind for e in ledger.events("Ann <ann@example.org>")] == ["helped", "met", "shared"]
    assert [e.kind for e in ledger.events("ann@example.org", before=T0 + timedelta(days=3))] == ["helped"]
    assert ledger.events(None) == [] and ledger.events("nobody@example.org") == []


def test_round_trip_keeps_every_field(ledger: Ledger) -> None:
    original = ev(kind="asked", weight=2.5, note="retweet my launch", source="mail:1", label="cold_pitch")
    ledger.record(original)
    assert ledger.events("ann@example.org") == [original]


def test_aliases_merge_events_and_chain(ledger: Ledger) -> None:
    ledger.record_many([ev("ann@example.org"), ev("twitter:@ann", days=1), ev("linkedin:ann", days=2),
                        ev("ann@work.example", days=3)])
    assert len(ledger.events("ann@example.org")) == 1
    ledger.alias("ann@example.org", "https://twitter.com/Ann")
    ledger.alias("linkedin.com/in/ann", "ann@work.example")
    assert len(ledger.events("twitter:@ann")) == 2
    ledger.alias("x:@ann", "linkedin:ann")  # joins the two groups
    for key in ("ann@example.org", "twitter:@ann", "linkedin:ann", "ann@work.example"):
        assert len(ledger.events(key)) == 4
        assert sorted(ledger.keys(key)) == sorted(["ann@example.org", "twitter:@ann", "linkedin:ann",
                                                   "ann@work.example"])
    ledger.alias("ann@example.org", "twitter:@ann")  # already one person: no change
    assert len(ledger.events("ann@example.org")) == 4
    assert ledger.events("bob@example.org") == []


def test_alias_needs_two_senders(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="two senders"):
        ledger.alias("ann@example.org", "")


def test_standing_counts_all_aliases(ledger: Ledger) -> None:
    policy = load_policy()
    ledger.record_many([ev("ann@example.org", days=-400, kind="met"), ev("twitter:@ann", days=-300)])
    alone = standing(ledger.events("ann@example.org", before=T0), T0, policy)
    ledger.alias("ann@example.org", "twitter:@ann")
    together = standing(ledger.events("ann@example.org", before=T0), T0, policy)
    assert together.balance > alone.balance > 0
    assert standing(ledger.events(None, before=T0), T0, policy).first_seen is None


def test_default_path_reads_the_environment_at_call_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRIAGE_LEDGER", str(tmp_path / "mine.db"))
    assert default_ledger_path() == tmp_path / "mine.db"
    with Ledger() as ledger:
        assert ledger.path == tmp_path / "mine.db"
    monkeypatch.delenv("TRIAGE_LEDGER")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_ledger_path() == tmp_path / ".local/share/outreach-triage/ledger.db"


def test_wal_mode_and_schema_version(tmp_path: Path) -> None:
    Ledger(tmp_path / "l.db").close()
    conn = sqlite3.connect(tmp_path / "l.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"events", "aliases", "corrections", "people"} <= tables


def test_version_1_database_is_migrated_and_keeps_its_events(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    from classifier.weigh.ledger import MIGRATIONS
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    event = ev()
    conn.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (event.id, event.sender, "2024-03-01T00:00:00.000000+00:00", "helped", 1.0, "", "", None, "x"))
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Ledger(path) as ledger:
        assert ledger.events("ann@example.org") == [event]
        assert correction_log.add(ledger, "msg-1", "label", "spam", "cold_pitch") == 1
        assert people_store.set_tie(ledger, "Ann@Example.org", "close") == "ann@example.org"  # 2 -> 3 too
        assert people_store.load_people(ledger).declared_tie(["ann@example.org"]) == ("close", "you")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(LedgerError, match="schema version 99.*up to 3"):
        Ledger(path)


def test_not_a_database_is_a_ledger_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError, match="cannot open ledger"):
        Ledger(path)


def test_corrections_are_kept_and_undone(ledger: Ledger) -> None:
    first = correction_log.add(ledger, "msg-1", "label", "spam", "cold_pitch")
    correction_log.add(ledger, "msg-2", "action", "decline", "educate")
    assert correction_log.undo(ledger, {"id": first, "kind": "label"}) is True
    assert correction_log.undo(ledger, {"id": first, "kind": "label"}) is False
    rows = correction_log.listed(ledger, "msg-1")
    assert [(r["kind"], r["old"], r["new"], r["undone"]) for r in rows] == [("label", "spam", "cold_pitch", 1)]
    assert len(correction_log.listed(ledger)) == 2


# ---------------------------------------------------------------- files

ROWS = [
    {"sender": "Ann <ann@example.org>", "date": "2023-05-01", "kind": "helped", "weight": 1, "note": "intro",
     "source": "notes", "label": None},
    {"sender": "twitter:@bob", "date": "2024-01-02T10:00:00+01:00", "kind": "asked", "note": "retweet pls",
     "label": "cold_pitch"},
    {"sender": "carol@example.org", "date": "2024-02-03", "kind": "engaged"},
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_import_jsonl_twice_adds_nothing(ledger: Ledger, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "events.jsonl", ROWS)
    assert ledger.import_file(path) == 3
    assert ledger.import_file(path) == 0
    assert ledger.count() == 3
    assert ledger.events("twitter:@bob")[0].date == datetime(2024, 1, 2, 9, tzinfo=UTC)


def test_import_csv_with_empty_optional_cells(ledger: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("sender,date,kind,weight,note,source,label\n"
                    "ann@example.org,2023-05-01,helped,,\"fixed it, fast\",,\n"
                    "bob@example.org,2023-05-02,asked,2,,,friend_favour\n", encoding="utf-8")
    assert ledger.import_file(path) == 2
    ann, = ledger.events("ann@example.org")
    assert (ann.weight, ann.note, ann.label) == (1.0, "fixed it, fast", None)
    assert ledger.events("bob@example.org")[0].label == "friend_favour"


def test_export_then_import_elsewhere_is_identical(ledger: Ledger, tmp_path: Path) -> None:
    ledger.import_file(write_jsonl(tmp_path / "events.jsonl", ROWS))
    for fmt in ("jsonl", "csv"):
        out = tmp_path / f"export.{fmt}"
        with open(out, "w", encoding="utf-8", newline="") as fp:
            assert ledger.export(fp, fmt) == 3
        with Ledger(tmp_path / f"copy-{fmt}.db") as copy:
            assert copy.import_file(out) == 3
            assert copy.all_events() == ledger.all_events()
            assert copy.import_file(out) == 0


def test_export_format_is_checked(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="unknown format 'xml'; expected one of jsonl, csv"):
        ledger.export(io.StringIO(), "xml")


@pytest.mark.parametrize(("line", "expected"), [
    ('{"sender": "ann@example.org", "date": "2023-05-01", "kind": "liked"}', "line 2: unknown kind 'liked'"),
    ('{"sender": "ann@example.org", "date": "someday", "kind": "helped"}', "line 2: bad date 'someday'"),
    ('{"sender": "ann@example.org", "date": "2023-05-01", "kind": "helped", "weight": "NaN"}',
     "line 2: bad weight 'NaN'"),
    ('{"sender": "ann@example.org", "date": "2023-05-01", "kind": "helped", "weight": -2}', "line 2: bad weight -2"),
    ('{"sender": "Ann", "date": "2023-05-01", "kind": "helped"}', "line 2: unrecognised sender 'Ann'"),
    ('{"sender": "ann@example.org", "date": "2023-05-01", "kind": "helped", "mood": 1}', "line 2: unknown column"),
    ('{"date": "2023-05-01", "kind": "helped"}', "line 2: missing sender"),
    ('{"sender": "ann@example.org", "date": 20230501, "kind": "helped"}', "line 2: bad date 20230501"),
    ('["ann@example.org"]', "line 2: expected a JSON object"),
    ("{not json", "line 2: not JSON"),
])
def test_bad_jsonl_row_names_line_and_value_and_writes_nothing(ledger: Ledger, tmp_path: Path, line: str,
                                                               expected: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(ROWS[2]) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError) as error:
        ledger.import_file(path)
    assert str(path) in str(error.value) and expected in str(error.value)
    assert ledger.count() == 0


def test_bad_csv_row_names_the_physical_line(ledger: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text('sender,date,kind,note\nann@example.org,2023-05-01,helped,"two\nlines"\n'
                    "bob@example.org,2023-05-01,helpd,\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.csv line 4: unknown kind 'helpd'"):
        ledger.import_file(path)


def test_csv_without_required_columns(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("who,when,what\nann@example.org,2023-05-01,helped\n", encoding="utf-8")
    with pytest.raises(ValueError, match="header lacks sender, date, kind"):
        read_events(path)


def test_unknown_extension_asks_for_a_format(tmp_path: Path) -> None:
    path = tmp_path / "events.txt"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match=r"extension '.txt'; expected .jsonl or .csv"):
        read_events(path)
    assert read_events(path, "jsonl") == []


def test_write_events_jsonl_uses_null_label() -> None:
    buffer = io.StringIO()
    write_events(buffer, [ev(kind="met")])
    row = json.loads(buffer.getvalue())
    assert row == {"sender": "ann@example.org", "date": "2024-03-01T00:00:00+00:00", "kind": "met",
                   "weight": 1.0, "note": "", "source": "", "label": None}
