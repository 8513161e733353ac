"""The Streamlit screen, driven with streamlit.testing: open the sample, filter, open a message,
relabel, undo, record an event, retrain and swap models. Every test uses a ledger in a temporary
folder (TRIAGE_LEDGER and HOME point there), never the real one."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import classifier.classify.model
import classifier.training.relearn
from classifier import Event, Ledger, Triage
from classifier.classify.model import read_manifest
from classifier.frontends import screen
from tiny_corpus import save_tiny_model, write_corpus

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 180


@pytest.fixture()
def ledger_path(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TRIAGE_LEDGER", str(tmp_path / "ledger.db"))
    return tmp_path / "ledger.db"


def start(**state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def by_label(widgets, label: str):
    return next(w for w in widgets if w.label == label)


def badges(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Recommended:**"))


def queue(at: AppTest):
    return at.dataframe[1].value  # [0] is the label x action counts


def open_only(at: AppTest, search: str) -> dict:
    """Search for one message; it opens, being the first (and only) one in the queue. Returns its row
    as scored (the model's label and the policy's action)."""
    ok(at.text_input(key="filter_search").set_value(search).run())
    assert len(queue(at)) == 1
    if at.session_state["open"][0] not in shown_seqs(at):  # the open message stays open until you move on
        ok(at.button(key="next").click().run())
    seq = at.session_state["open"][0]
    assert shown_seqs(at) == [seq]
    return next(row for row in at.session_state["inbox"].rows if row["seq"] == seq)


def shown_seqs(at: AppTest) -> list[int]:
    """The seqs of the queue as shown, matched back through the table's dates, senders and subjects."""
    rows = {(screen.queue_table([r])[0]["date"], r["sender"] or "(unknown)", screen.clean(r["subject"], 120)): r["seq"]
            for r in at.session_state["inbox"].rows}
    table = queue(at)
    return [rows[(d, s, subj)] for d, s, subj in zip(table["date"], table["sender"], table["subject"])]


def relabel(at: AppTest, row: dict, label: str) -> AppTest:
    seq, current = row["seq"], _shown_label(at)
    ok(at.selectbox(key=f"label_{seq}_{current}").set_value(label).run())
    return ok(at.button(key=f"set_label_{seq}").click().run())


def _shown_label(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Label: ")).split("**")[1][len("Label: "):]


BADGE = {"accept": ":green-badge[accept]", "educate": ":orange-badge[educate]", "decline": ":red-badge[decline]",
         "none": ":gray-badge[none]"}


def test_the_sample_opens_with_counts_queue_and_a_message(ledger_path):
    at = ok(start())
    counts = at.dataframe[0].value.set_index("label")
    assert counts.loc["total", "total"] == 200 == len(queue(at))
    waiting = queue(at)["to do"].tolist()
    assert waiting[0] == "●" and waiting[-1] == "" and waiting == sorted(waiting, key=lambda x: x != "●")
    assert set(queue(at)["action"]) <= {"accept", "educate", "decline", "none"}
    assert badges(at).startswith("**Recommended:** :")
    assert [p.text.split()[0] for p in at.get("progress")] == ["cold_pitch", "charity_ask", "friend_favour", "spam",
                                                              "no_ask"]
    assert at.html and at.html[0].value.startswith("<div")
    assert ledger_path.exists() and not (Path.home() / ".local").exists()


def test_filters_narrow_the_queue(ledger_path):
    at = ok(start())
    ok(at.multiselect(key="filter_label").set_value(["spam"]).run())
    assert set(queue(at)["label"]) == {"spam"} and 20 < len(queue(at)) < 200
    ok(at.multiselect(key="filter_label").set_value([]).run())
    ok(at.multiselect(key="filter_action").set_value(["accept"]).run())
    assert set(queue(at)["action"]) == {"accept"}
    ok(at.multiselect(key="filter_action").set_value([]).run())
    ok(by_label(at.multiselect, "Sender").set_value(["gavin@shawadvisory.example"]).run())
    assert set(queue(at)["sender"]) == {"gavin@shawadvisory.example"} and len(queue(at)) > 1
    ok(by_label(at.multiselect, "Sender").set_value([]).run())
    dates = by_label(at.date_input, "Dates")
    ok(dates.set_value((datetime(2026, 3, 1).date(), datetime(2026, 3, 31).date())).run())
    assert queue(at)["date"].str.startswith("2026-03").all() and 0 < len(queue(at)) < 200
    ok(at.text_input(key="filter_search").set_value("zzz-nothing-matches").run())
    assert any("No message matches" in i.value for i in at.info)


def test_relabel_then_undo(ledger_path):
    at = ok(start())
    row = open_only(at, "nottingham")  # Ellie, a stranger asking for feedback on her dissertation
    assert BADGE[row["action"]] in badges(at) and _shown_label(at) == row["label"]
    relabel(at, row, "spam")
    assert BADGE["decline"] in badges(at) and "label set by you" in badges(at)  # spam is declined at once
    assert queue(at)["label"].tolist() == ["spam (you)"]
    [correction] = screen.corrections(Ledger(ledger_path))
    assert (correction["kind"], correction["old"], correction["new"]) == ("label", row["label"], "spam")

    ok(at.button(key=f"undo_message_{correction['id']}").click().run())
    assert BADGE[row["action"]] in badges(at) and "label set by you" not in badges(at)
    assert _shown_label(at) == row["label"] and screen.corrections(Ledger(ledger_path))[0]["undone"] == 1


def test_an_event_changes_the_action_and_undo_restores_it(ledger_path):
    at = ok(start())
    row = open_only(at, "nottingham")
    seq = row["seq"]
    if row["label"] != "friend_favour":  # the test is about the event, not about one model's label
        relabel(at, row, "friend_favour")
    assert BADGE["educate"] in badges(at)  # a stranger's first favour
    ok(at.selectbox(key=f"event_kind_{seq}").set_value("helped").run())
    ask_day = datetime.fromisoformat(row["date"]).date()
    ok(at.date_input(key=f"event_day_{seq}").set_value(ask_day - timedelta(days=60)).run())
    ok(at.text_input(key=f"event_note_{seq}").set_value("proofread my <b>zine</b>").run())
    ok(at.button(key=f"event_add_{seq}").click().run())
    assert BADGE["accept"] in badges(at)
    assert any("helped you" in m.value for m in at.markdown)
    [event] = Ledger(ledger_path).events(row["sender"])
    assert (event.kind, event.note, event.source) == ("helped", "proofread my <b>zine</b>", "screen")

    correction = next(c for c in screen.corrections(Ledger(ledger_path)) if c["kind"] == "event")
    ok(at.button(key=f"undo_message_{correction['id']}").click().run())
    assert BADGE["educate"] in badges(at) and Ledger(ledger_path).count() == 0


def test_i_know_this_person_turns_the_lesson_into_a_yes_for_that_sender_only(ledger_path):
    at = ok(start())
    row = open_only(at, "nottingham")
    seq = row["seq"]
    if row["label"] != "friend_favour":  # the test is about the tie, not about one model's label
        relabel(at, row, "friend_favour")
    assert BADGE["educate"] in badges(at) and "**How close:** stranger" in [m.value for m in at.markdown]
    ok(at.selectbox(key=f"tie_{seq}_{screen.MAIL_DECIDES}").set_value("close").run())
    ok(at.button(key=f"set_tie_{seq}").click().run())
    assert BADGE["accept"] in badges(at) and "**How close:** close" in [m.value for m in at.markdown]
    assert any("They are close" in m.value and "you said so" in m.value for m in at.markdown)
    with Ledger(ledger_path) as ledger:
        from classifier.weigh.people import listed
        assert [(p["sender"], p["tie"]) for p in listed(ledger)] == [(row["sender"], "close")]  # that sender only
    ok(at.selectbox(key=f"tie_{seq}_close").set_value(screen.MAIL_DECIDES).run())
    ok(at.button(key=f"set_tie_{seq}").click().run())
    assert BADGE["educate"] in badges(at)


def test_action_by_hand_and_mark_done(ledger_path):
    at = ok(start())
    row = open_only(at, "nottingham")
    seq = row["seq"]
    ok(at.selectbox(key=f"action_{seq}_{row['action']}").set_value("accept").run())
    ok(at.button(key=f"set_action_{seq}").click().run())
    assert BADGE["accept"] in badges(at)
    assert any("You set the action to accept" in m.value for m in at.markdown)
    ok(at.text_input(key="filter_search").set_value("").run())
    ok(at.text_input(key="filter_search").set_value("nottingham").run())
    ok(at.checkbox(key=f"granted_{seq}").check().run())
    ok(at.button(key=f"done_{seq}").click().run())
    assert "done" in badges(at) and queue(at)["to do"].tolist() == ["✓"]
    assert by_label(at.metric, "Done").value == "1"
    assert [e.kind for e in Ledger(ledger_path).all_events()] == ["favour_granted"]


def _all_records(ledger_path: Path) -> tuple[list[dict], list[Event]]:
    with Ledger(ledger_path) as ledger:
        return screen.corrections(ledger), ledger.all_events()


def test_every_record_names_the_open_message_whatever_the_sequence(ledger_path):
    """Issue 17's reproduction: change the label, change the action, tick "I did what they asked", mark
    done, record an event, undo, with the queue re-sorting under the open message each time."""
    at = ok(start())
    first = at.session_state["open"]  # the first message waiting: opened without a search
    row = next(r for r in at.session_state["inbox"].rows if r["seq"] == first[0])
    seq, shown_label = row["seq"], _shown_label(at)
    new_label = "friend_favour" if shown_label != "friend_favour" else "charity_ask"
    ok(at.selectbox(key=f"label_{seq}_{shown_label}").set_value(new_label).run())
    ok(at.button(key=f"set_label_{seq}").click().run())
    assert at.session_state["open"] == first  # still the same message, although the queue re-sorted
    action = next(r for r in screen.current_rows(at.session_state["inbox"], Triage.load(), screen.corrections(
        Ledger(ledger_path))) if r["seq"] == seq)["action"]
    ok(at.selectbox(key=f"action_{seq}_{action}").set_value("accept").run())
    ok(at.button(key=f"set_action_{seq}").click().run())
    assert at.session_state["open"] == first
    ok(at.checkbox(key=f"granted_{seq}").check().run())
    ok(at.button(key=f"done_{seq}").click().run())
    assert at.session_state["open"] == first and "done" in badges(at)
    ok(at.selectbox(key=f"event_kind_{seq}").set_value("met").run())
    ok(at.button(key=f"event_add_{seq}").click().run())
    corrections, events = _all_records(ledger_path)
    assert [c["kind"] for c in corrections] == ["label", "action", "done", "event"]
    assert {c["message_id"] for c in corrections} == {row["id"]}  # every record names the open message
    assert {(e.sender, e.kind) for e in events} == {(row["sender"], "favour_granted"), (row["sender"], "met")}
    undo = corrections[-1]
    ok(at.button(key=f"undo_message_{undo['id']}").click().run())
    corrections, events = _all_records(ledger_path)
    assert at.session_state["open"] == first and [e.kind for e in events] == ["favour_granted"]


def test_one_click_decisions_record_the_decided_message_and_move_on(ledger_path):
    at = ok(start())
    opened = at.session_state["open"]
    row = next(r for r in at.session_state["inbox"].rows if r["seq"] == opened[0])
    ok(at.button(key=f"decide_decline_{row['seq']}").click().run())
    corrections, _ = _all_records(ledger_path)
    assert {c["message_id"] for c in corrections} == {row["id"]} and corrections[-1]["kind"] == "done"
    assert at.session_state["open"] != opened  # on to the next message waiting
    following = at.session_state["open"]
    nxt = next(r for r in at.session_state["inbox"].rows if r["seq"] == following[0])
    assert nxt["needs_decision"]
    ok(at.button(key="next").click().run())
    assert at.session_state["open"] != following
    ok(at.button(key="previous").click().run())
    assert at.session_state["open"] == following


def test_filters_and_score_again_never_move_the_open_message(ledger_path):
    at = ok(start())
    opened = at.session_state["open"]
    ok(at.multiselect(key="filter_label").set_value(["spam"]).run())
    assert at.session_state["open"] == opened  # filtered out, still open: the buttons act on what is shown
    ok(at.button(key="rescore").click().run())
    assert at.session_state["open"] == opened
    row = next(r for r in at.session_state["inbox"].rows if r["seq"] == opened[0])
    ok(at.button(key=f"done_{opened[0]}").click().run())
    corrections, _ = _all_records(ledger_path)
    assert [c["message_id"] for c in corrections] == [row["id"]]


def test_a_csv_of_any_columns_is_read_with_the_pickers(ledger_path, tmp_path):
    export = tmp_path / "export.csv"
    export.write_text("Title,From,Body Text,When\n"
                      "Launch,pat@pr.example,Would you feature our app in your newsletter?,2026-05-01T10:00:00+00:00\n",
                      encoding="utf-8")
    at = ok(start(where="An export on this computer", path=str(export)))  # the pickers guessed From and Title
    assert at.selectbox(key="csv_sender").value == "From" and at.selectbox(key="csv_subject").value == "Title"
    ok(at.selectbox(key="csv_text").set_value("Body Text").run())
    ok(at.selectbox(key="csv_date").set_value("When").run())
    [row] = at.session_state["inbox"].rows
    assert (row["sender"], row["subject"], row["date"][:10]) == ("pat@pr.example", "Launch", "2026-05-01")
    assert "feature our app" in row["text"]


def test_a_bad_export_says_why_at_once(ledger_path, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("just some notes, no mail here\n", encoding="utf-8")
    at = start(where="An export on this computer", path=str(bad))
    [error] = at.error
    assert "Could not read" not in error.value and "Give an mbox" in error.value and "notes.txt" in error.value


def test_a_message_with_script_and_markdown_is_shown_as_text(ledger_path, tmp_path):
    evil = tmp_path / "evil.jsonl"
    text = "Hi <script>window.__pwned=1</script> [free money](javascript:alert(1)) **loud**"
    evil.write_text(json.dumps({"id": "e1", "sender": "mallory@evil.example", "date": "2026-05-01T10:00:00+00:00",
                                "subject": "<script>x()</script> [click](http://evil.example)", "text": text}) + "\n",
                    encoding="utf-8")
    at = ok(start(where="An export on this computer", path=str(evil)))
    assert len(queue(at)) == 1
    page = at.html[0].value
    assert "<script" not in page and "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert "](javascript:alert(1))" in page and "<a" not in page and "**" in page  # words, not a link
    assert at.subheader[0].value == r"&lt;script&gt;x\(\)&lt;/script&gt; \[click\]\(http\://evil\.example\)"
    assert at.code[0].value == text  # the plain text, to copy


def test_a_missing_path_and_a_broken_ledger_stop_with_a_message(ledger_path, tmp_path):
    at = start(where="An export on this computer", path=str(tmp_path / "nope.mbox"))
    assert not at.exception and "No such file or folder" in at.error[0].value
    bad = tmp_path / "not-a-db"
    bad.write_text("this is not sqlite " * 100)
    at = start(ledger=str(bad))
    assert not at.exception and "Cannot open the ledger" in at.error[0].value


def test_retrain_use_and_roll_back(ledger_path, tmp_path, monkeypatch):
    corpus = write_corpus(tmp_path / "corpus.jsonl")
    models = tmp_path / "models"
    save_tiny_model(corpus, models / "outreach")
    monkeypatch.setattr(classifier.classify.model, "models_dir", lambda: models)
    monkeypatch.setattr(classifier.training.relearn, "bundled_models", lambda: models)
    monkeypatch.setattr(classifier.training.relearn, "corpus_path", lambda: corpus)
    monkeypatch.delenv("OUTREACH_DATA_HOME", raising=False)  # the held-out split only
    inbox = tmp_path / "inbox.jsonl"
    inbox.write_text(json.dumps({"id": "m1", "sender": "kim@example.org", "date": "2026-05-01T10:00:00+00:00",
                                 "subject": "", "text": "Hey mate, could you share my new book with your readers? "
                                                        "It is out Tuesday."}) + "\n", encoding="utf-8")
    original = read_manifest(models / "outreach")["sha256"]

    at = ok(start(where="An export on this computer", path=str(inbox)))
    assert at.button(key="retrain").disabled  # nothing to learn from yet
    seq = at.session_state["open"][0]
    label = at.session_state["inbox"].rows[0]["label"]
    new = "friend_favour" if label != "friend_favour" else "cold_pitch"
    ok(at.selectbox(key=f"label_{seq}_{label}").set_value(new).run())
    ok(at.button(key=f"set_label_{seq}").click().run())
    assert any(m.value.startswith("**1 corrected labels**") for m in at.markdown)

    ok(at.button(key="retrain").click().run())
    assert any("| held-out macro-F1 |" in m.value for m in at.markdown)  # in the expander
    said = next(m.value for m in at.markdown if "agrees with your corrections" in m.value)
    assert "The new model" in said and "held" in said and "macro" in said  # in words, first
    assert at.checkbox(key="confirm_promote").disabled is False
    assert at.button(key="promote").disabled  # not before the person confirms
    ok(at.checkbox(key="confirm_promote").check().run())
    ok(at.button(key="promote").click().run())
    promoted = read_manifest(models / "outreach")["sha256"]
    assert promoted != original and read_manifest(models / "outreach-previous")["sha256"] == original
    assert f"outreach@{promoted[:12]}" in at.caption[0].value  # the screen now uses the new model
    assert at.button(key="promote").disabled  # the candidate is the model in use

    ok(at.button(key="rollback").click().run())
    assert read_manifest(models / "outreach")["sha256"] == original
    assert not (models / "outreach-previous").exists() and at.button(key="rollback").disabled


def test_score_again_picks_up_events_recorded_elsewhere(ledger_path):
    at = ok(start())
    row = open_only(at, "nottingham")
    assert row["standing"]["summary"] == "no history"
    ask = datetime.fromisoformat(row["date"])
    Ledger(ledger_path).record(Event(sender=row["sender"], date=ask - timedelta(days=60), kind="helped"))
    ok(at.run())
    assert not any("gave once" in c.value for c in at.caption)  # the scored inbox is kept between runs
    ok(at.button(key="rescore").click().run())
    assert any("gave once" in c.value for c in at.caption)
