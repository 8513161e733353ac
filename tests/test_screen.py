"""classifier.frontends.screen: scoring for the screen, corrections that take effect at once, the queue, and
safe display of untrusted text. Labels the tests depend on are set by hand, so no test rests on
what one model happens to say."""

from __future__ import annotations

import email
import email.policy
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from classifier.labels import TIE_EVIDENCE_KINDS
from classifier.weigh import corrections as correction_log
from classifier import Ledger, Triage
from classifier.frontends import screen
from classifier.run.batch import score
from classifier.run.job import ScoreOptions
from classifier.weigh.events import Event
from classifier.weigh.ledger import read_events
from literals import FRIEND, HISTORY, LIFT, PITCHES

EVIL = ("Hello <script>window.__pwned=1</script> <img src=x onerror=\"window.__pwned=2\"> "
        "[free money](javascript:alert(1)) and **bold** and :red[red] $x^2$")
MESSAGES = [
    *PITCHES, FRIEND[0],
    {"id": "s1", "sender": "sam@example.org", "sender_name": "Sam Stranger", "date": "2026-03-21T11:00:00+00:00",
     "subject": "airport?", "text": LIFT},
    FRIEND[1],
    {"id": "long", "sender": "news@letter.example", "date": "2026-03-26T10:00:00+00:00", "subject": "Weekly",
     "text": "This week in cities. " * 1500},
    {"id": "evil", "sender": "mallory@evil.example", "date": "2026-03-27T10:00:00+00:00",
     "subject": "<script>alert(1)</script> [click](http://evil.example)", "text": EVIL},
    {"id": "undated", "sender": "old@example.net", "subject": "no date", "text": "Could you sign our petition?"},
    {"id": "mine", "sender": "me@example.com", "date": "2026-03-22T10:00:00+00:00", "subject": "Re: airport?",
     "text": "Sorry, I can't help this time.", "folders": ["Sent"]},
]

@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("inbox")
    inbox = folder / "messages.jsonl"
    inbox.write_text("".join(json.dumps(m) + "\n" for m in MESSAGES) + "{not json\n", encoding="utf-8")
    history = folder / "history.jsonl"
    history.write_text("".join(json.dumps(h) + "\n" for h in HISTORY), encoding="utf-8")
    return inbox, history


@pytest.fixture(scope="module")
def scored(base, files, tmp_path_factory) -> screen.Inbox:
    """Scored once with an empty ledger; the tests' corrections live in each test's own ledger."""
    inbox, history = files
    triage = Triage(base.classifier, base.policy, tmp_path_factory.mktemp("l") / "empty.db", read_events(history))
    return screen.score_inbox(inbox, triage)


@pytest.fixture()
def ledger(tmp_path) -> Ledger:
    with Ledger(tmp_path / "ledger.db") as opened:
        yield opened


@pytest.fixture()
def triage(base, files, ledger) -> Triage:
    return Triage(base.classifier, base.policy, ledger.path, read_events(files[1]))


def rows_now(scored, triage, ledger) -> dict[str, dict]:
    return {row["id"]: row for row in screen.current_rows(scored, triage, screen.corrections(ledger))}


def by_id(scored, message_id) -> dict:
    return next(row for row in scored.rows if row["id"] == message_id)


# ---------------------------------------------------------------- scoring


def test_scoring_agrees_with_the_batch_job(scored, files, tmp_path):
    inbox, history = files
    out = tmp_path / "out.jsonl"
    score(ScoreOptions(inputs=[str(inbox)], history=str(history), ledger=str(tmp_path / "empty.db"),
                       output=str(out)))
    batch = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    keys = ("id", "label", "probabilities", "action", "reasons", "needs_review", "standing", "reply")
    assert [{k: r[k] for k in keys} for r in scored.rows] == [{k: r[k] for k in keys} for r in batch]


def test_scoring_keeps_text_history_and_what_was_skipped(scored):
    ids = [row["id"] for row in scored.rows]
    assert "mine" not in ids and scored.not_scored["sent"] == 1  # the user's own mail is history, not a row
    assert scored.unreadable and "not JSON" in scored.unreadable[0][1]
    long = by_id(scored, "long")
    assert len(long["text"]) == screen.TEXT_CHARS > 5000 and long["text_cut"]  # more than a batch row keeps
    assert by_id(scored, "evil")["text"] == EVIL
    assert scored.me == ["me@example.com"]  # found from the Sent folder
    sam = by_id(scored, "s1")
    events = scored.export_events["sam@example.org"]  # each event knows the message it came from
    assert {(seq, e.date) for seq, e in events} == {(sam["seq"], datetime.fromisoformat(sam["date"]))}
    assert [e.kind for _, e in events if e.kind not in TIE_EVIDENCE_KINDS] == ["asked"]


def test_a_sender_no_ledger_key_can_name_degrades_instead_of_crashing(base, tmp_path):
    inbox = tmp_path / "bob.csv"
    inbox.write_text("id,sender,date,subject,text\n"
                     f"1,bob,2026-01-01,hi,{LIFT}\n2,bob,2026-01-05,again,{LIFT}\n", encoding="utf-8")
    rows = screen.score_inbox(inbox, Triage(base.classifier, base.policy, tmp_path / "l.db")).rows
    assert [row["id"] for row in rows] == ["1", "2"]


# ---------------------------------------------------------------- corrections take effect at once


def test_no_corrections_leaves_the_scored_rows(scored, triage, ledger):
    now = rows_now(scored, triage, ledger)
    for row in scored.rows:
        assert {k: now[row["id"]][k] for k in ("label", "action", "reasons")} == \
               {k: row[k] for k in ("label", "action", "reasons")}
        assert now[row["id"]]["corrections"] == [] and not now[row["id"]]["done"]


def test_a_corrected_label_is_weighed_again_and_undone(scored, triage, ledger):
    row = by_id(scored, "s1")
    correction = screen.correct_label(ledger, row, "spam")
    now = rows_now(scored, triage, ledger)["s1"]
    assert (now["label"], now["action"], now["label_by"], now["reply"]) == ("spam", "decline", "you", None)
    assert now["model_label"] == row["label"] and now["probabilities"] == row["probabilities"]
    assert now["needs_review"] is False  # a person chose the label: nothing left to check
    assert screen.corrections(ledger, "s1")[0]["new"] == "spam"

    assert screen.undo(ledger, screen.corrections(ledger, "s1")[0])
    assert not screen.undo(ledger, screen.corrections(ledger, "s1")[0])  # twice is a no-op
    again = rows_now(scored, triage, ledger)["s1"]
    assert (again["label"], again["action"], again["label_by"]) == (row["label"], row["action"], "model")
    assert correction == screen.corrections(ledger, "s1")[0]["id"]


def test_a_corrected_label_counts_in_the_senders_history(scored, triage, ledger):
    for message_id in ("p1", "p2", "p3"):
        screen.correct_label(ledger, by_id(scored, message_id), "cold_pitch")
    third = rows_now(scored, triage, ledger)["p3"]
    assert third["standing"]["asks"] == 2 and third["action"] == "decline"  # a third pitch in two weeks

    for message_id in ("p1", "p2"):  # they were newsletters after all: no asks, small deposits
        screen.correct_label(ledger, by_id(scored, message_id), "no_ask")
    third = rows_now(scored, triage, ledger)["p3"]
    assert third["standing"]["asks"] == 0 and third["standing"]["deposits"] > 0
    assert third["action"] == "educate"
    assert any("first ask" in reason or "does not cover" in reason for reason in third["reasons"])


def test_an_action_set_by_hand_wins_and_drafts_its_reply(scored, triage, ledger):
    row = by_id(scored, "s1")
    screen.correct_label(ledger, row, "friend_favour")
    screen.correct_action(ledger, rows_now(scored, triage, ledger)["s1"], "decline")
    now = rows_now(scored, triage, ledger)["s1"]
    assert now["action"] == "decline" and now["policy_action"] == "educate"
    assert now["reasons"] == ["You set the action to decline; the policy said educate."]  # nothing contradicts it
    assert any("kind reply" in reason or "relationship" in reason for reason in now["policy_reasons"])
    assert now["reply"] and now["reply"].startswith("Hi Sam,")  # the first name of "Sam Stranger"
    with pytest.raises(ValueError, match="unknown action 'maybe'"):
        screen.correct_action(ledger, row, "maybe")
    with pytest.raises(ValueError, match="unknown label 'pitch'"):
        screen.correct_label(ledger, row, "pitch")


def test_an_event_changes_the_action_and_undo_removes_it_from_the_ledger(scored, triage, ledger):
    row = by_id(scored, "s1")
    screen.correct_label(ledger, row, "friend_favour")
    assert rows_now(scored, triage, ledger)["s1"]["action"] == "educate"  # a stranger's first favour

    ask_day = datetime.fromisoformat(row["date"]).date()
    helped = screen.record_event(ledger, row, "helped", ask_day - timedelta(days=60), note="fixed my <b>bike</b>")
    assert helped is not None and ledger.count() == 1
    assert screen.record_event(ledger, row, "helped", ask_day - timedelta(days=60), note="fixed my <b>bike</b>") is None
    now = rows_now(scored, triage, ledger)["s1"]
    assert now["action"] == "accept" and any("helped you" in reason for reason in now["reasons"])
    assert rows_now(scored, triage, ledger)["f1"]["action"] == by_id(scored, "f1")["action"]  # others untouched

    correction = next(c for c in screen.corrections(ledger, "s1") if c["kind"] == "event")
    assert screen.describe_correction(correction) == f"They helped me, {ask_day - timedelta(days=60)} (fixed my <b>bike</b>)"
    assert screen.undo(ledger, correction)
    assert ledger.count() == 0
    assert rows_now(scored, triage, ledger)["s1"]["action"] == "educate"


def test_an_event_the_day_before_an_ask_is_a_burst_and_counts_little(scored, triage, ledger):
    row = by_id(scored, "s1")
    screen.correct_label(ledger, row, "friend_favour")
    screen.record_event(ledger, row, "helped", datetime.fromisoformat(row["date"]).date() - timedelta(days=1))
    now = rows_now(scored, triage, ledger)["s1"]
    assert now["action"] == "educate" and any("burst" in reason for reason in now["reasons"])


def test_events_refuse_what_the_ledger_cannot_hold(scored, ledger):
    with pytest.raises(ValueError, match="unknown event 'asked'"):
        screen.record_event(ledger, by_id(scored, "s1"), "asked", date(2026, 1, 1))
    with pytest.raises(ValueError, match="no sender"):
        screen.record_event(ledger, {**by_id(scored, "s1"), "sender": None}, "met", date(2026, 1, 1))
    assert ledger.count() == 0 and screen.corrections(ledger) == []


def test_marking_done_takes_the_message_out_of_the_waiting_queue(scored, triage, ledger):
    row = by_id(scored, "s1")
    screen.correct_label(ledger, row, "friend_favour")
    assert rows_now(scored, triage, ledger)["s1"]["needs_decision"]
    screen.mark_done(ledger, row, granted=True, now=datetime(2026, 3, 23, tzinfo=UTC))
    now = rows_now(scored, triage, ledger)
    assert now["s1"]["done"] and not now["s1"]["needs_decision"]
    assert [e.kind for e in ledger.events("sam@example.org")] == ["favour_granted"]
    order = screen.queue(now.values())
    position = [r["id"] for r in order].index("s1")
    assert any(r["needs_decision"] for r in order) and not any(r["needs_decision"] for r in order[position:])

    done = next(c for c in screen.corrections(ledger, "s1") if c["kind"] == "done")
    assert screen.describe_correction(done) == "marked done, favour granted"
    screen.undo(ledger, done)
    assert rows_now(scored, triage, ledger)["s1"]["needs_decision"] and ledger.count() == 0


def test_active_corrections_fold_latest_first_and_skip_undone_and_unknown():
    rows = [{"id": 1, "message_id": "m", "kind": "label", "old": "spam", "new": "cold_pitch", "undone": 0},
            {"id": 2, "message_id": "m", "kind": "label", "old": "cold_pitch", "new": "no_ask", "undone": 0},
            {"id": 3, "message_id": "m", "kind": "label", "old": "no_ask", "new": "charity_ask", "undone": 1},
            {"id": 4, "message_id": "m", "kind": "colour", "old": None, "new": "blue", "undone": 0},
            {"id": 5, "message_id": "m", "kind": "label", "old": None, "new": "not-a-label", "undone": 0}]
    state = screen.active_corrections(reversed(rows))
    assert state.labels == {"m": "no_ask"} and [c["id"] for c in state.active] == [1, 2]


def test_corrected_examples_are_the_inbox_messages_with_a_label_by_hand(scored, ledger):
    screen.correct_label(ledger, by_id(scored, "s1"), "friend_favour")
    screen.correct_action(ledger, by_id(scored, "p1"), "accept")
    correction_log.add(ledger, "from-another-export", "label", "spam", "no_ask")
    examples, elsewhere = screen.corrected_examples(scored, screen.corrections(ledger))
    assert [(e.subject, e.label) for e in examples] == [("airport?", "friend_favour")] and elsewhere == 1


def test_ledger_delete_event(tmp_path):
    with Ledger(tmp_path / "l.db") as ledger:
        kept = Event(sender="a@example.org", date="2026-01-01", kind="met")
        gone = Event(sender="a@example.org", date="2026-01-02", kind="helped")
        ledger.record_many([kept, gone])
        assert ledger.delete_event(gone.id) is True
        assert ledger.delete_event(gone.id) is False
        assert ledger.all_events() == [kept]


# ---------------------------------------------------------------- the queue


def test_filters(scored, triage, ledger):
    rows = rows_now(scored, triage, ledger).values()
    assert {r["id"] for r in screen.filter_rows(rows, senders=["ana@example.com"])} == {"f1", "n1"}
    assert {r["id"] for r in screen.filter_rows(rows, search="AIRPORT sat")} == {"f1", "s1"}
    assert {r["id"] for r in screen.filter_rows(rows, search="stranger")} == {"s1"}  # the sender's name
    march = screen.filter_rows(rows, start=date(2026, 3, 20), end=date(2026, 3, 25))
    assert {r["id"] for r in march} == {"f1", "s1", "n1", "undated"}  # undated always passes a date filter
    assert all(r["label"] == "no_ask" for r in screen.filter_rows(rows, labels=["no_ask"]))
    assert all(r["action"] in ("accept", "none") for r in screen.filter_rows(rows, actions=["accept", "none"]))
    assert screen.filter_rows(rows, labels=["spam"], search="zzz") == []
    assert screen.date_range(rows) == (date(2026, 3, 2), date(2026, 3, 27))


def test_queue_puts_decisions_first_newest_first_undated_last():
    def row(seq, when, decide):
        return {"seq": seq, "date": when, "needs_decision": decide}
    rows = [row(0, "2026-01-01T00:00:00+00:00", False), row(1, "2026-01-02T00:00:00+00:00", True),
            row(2, None, True), row(3, "2026-01-03T00:00:00+00:00", True), row(4, "2026-01-04T00:00:00+00:00", False)]
    assert [r["seq"] for r in screen.queue(rows)] == [3, 1, 2, 4, 0]


def test_counts_by_label_and_action():
    rows = [{"label": "spam", "action": "decline"}] * 3 + [{"label": "cold_pitch", "action": "educate"}]
    table = {r["label"]: r for r in screen.counts(rows)}
    assert table["spam"]["decline"] == 3 and table["cold_pitch"]["educate"] == 1
    assert table["total"] == {"label": "total", "accept": 0, "educate": 1, "decline": 3, "none": 0, "total": 4}


# ---------------------------------------------------------------- the sender's standing


def test_standing_series_marks_deposits_and_withdrawals(scored, triage, ledger):
    events = screen.sender_events(scored, triage, "ana@example.com", {})
    assert [e.kind for e in events][:2] == ["met", "helped"]  # the history file, oldest first
    line, marks = screen.standing_series(events, datetime(2026, 4, 1, tzinfo=UTC), triage.policy)
    assert len(line) == len(marks) + 1 and line[-1]["date"] == datetime(2026, 4, 1, tzinfo=UTC)
    assert {m["kind"]: m["type"] for m in marks}["helped"] == "deposit"
    asked = [m for m in marks if m["kind"] == "asked"]
    assert asked and all(m["type"] == "withdrawal" for m in asked)
    on_line = {p["date"]: p["balance"] for p in line}
    assert all(m["balance"] == on_line[m["date"]] for m in marks)  # each mark sits on the balance line


# ---------------------------------------------------------------- nothing in a message is live


def test_highlight_html_escapes_everything_but_the_marks():
    out = screen.highlight_html(EVIL + "\nCould\nyou FEATURE it? featured", ["could you", "feature", "free"])
    assert "<script" not in out and "<img" not in out and "onerror=\"" not in out
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in out
    assert "[<mark>free</mark> money](javascript:alert(1))" in out  # a link in words only
    assert "<mark>Could\nyou</mark> <mark>FEATURE</mark> it? featured" in out  # whole words, any case
    assert out.count("<mark>") == 3 and out.count("<") == out.count("<mark>") + out.count("</mark>") + 2  # + the div


def test_markdown_escape_leaves_no_live_markdown_or_html():
    rendered = MarkdownIt("commonmark").enable("table").render(screen.md_escape(EVIL + " <a href='x'>a</a> # h"))
    assert "<a" not in rendered and "<script" not in rendered and "<img" not in rendered
    assert "<strong>" not in rendered and "<em>" not in rendered and "<h1>" not in rendered
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in rendered
    assert "[free money](javascript:alert(1))" in rendered and ":red[red]" in rendered and "$x^2$" in rendered
    assert screen.md_escape("line\r\nbreak") == "line break"


def test_highlight_words_are_the_driving_words_the_text_shows():
    features = [{"feature": f, "weight": 1.0} for f in ("request phrasing (could you…)", "_url_", ",", "a", "st",
                                                         "could you", "retweet", "i 'd", "do n't", "newsletter",
                                                         "love it")]
    text = "Could you RT this in your newsletter? I'd love it, and don't forget. St Mark's. _url_ , a"
    # stop words ("could you", "I'd") and scraps ("st") would mark half of every message: left out
    assert screen.highlight_words(features, text) == ["newsletter", "love it"]
    assert screen.highlight_html(text, ["i 'd", "do n't"]).count("<mark>") == 2  # contractions, as written


# ---------------------------------------------------------------- the reply as a file


def test_reply_eml_is_addressed_to_the_sender_and_cannot_carry_injected_headers():
    row = {"id": "<abc@mail.example>", "sender": "sam@example.org", "sender_name": "Sam\r\nBcc: all@example.org",
           "subject": "airport?\r\nBcc: victim@example.org\nX-Evil: 1"}
    raw = screen.reply_eml(row, "Hi Sam,\n\nNot this time.\n", me="me@example.com")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert sorted(parsed.keys()) == sorted(["From", "To", "Subject", "In-Reply-To", "References", "X-Unsent",
                                            "Content-Type", "Content-Transfer-Encoding", "MIME-Version"])
    assert parsed["To"].addresses[0].addr_spec == "sam@example.org"
    assert parsed["Subject"] == "Re: airport? Bcc: victim@example.org X-Evil: 1"
    assert parsed["In-Reply-To"] == "<abc@mail.example>" and parsed["From"] == "me@example.com"
    assert parsed.get_content() == "Hi Sam,\n\nNot this time.\n"
    assert b"\nBcc:" not in raw and b"\nX-Evil:" not in raw


def test_reply_eml_refuses_what_is_not_one_plain_address():
    row = {"id": "x\r\nBcc: a@b.example", "sender": "sam@example.org\r\nBcc: a@b.example", "sender_name": "",
           "subject": ""}
    assert screen.reply_eml(row, "body") is None
    assert screen.reply_eml({**row, "sender": "twitter:@sam"}, "body") is None
    raw = screen.reply_eml({**row, "sender": "sam@example.org"}, "body", me="not an address\r\nBcc: x@y.example")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert "In-Reply-To" not in parsed and "From" not in parsed and parsed["Subject"] == "Re: your message"


# ---------------------------------------------------------------- uploads


def test_spool_copies_an_upload_in_blocks_under_a_safe_name(tmp_path):
    data = b"From x\n" + b"y" * (3 << 20)
    path = screen.spool(io.BytesIO(data), "../../etc/Maya's inbox.MBOX", tmp_path)
    assert path.parent == tmp_path and path.name == "Maya_s_inbox.MBOX"
    assert path.read_bytes() == data
    assert screen.spool(io.BytesIO(b"x"), "..", tmp_path).name == "upload"
