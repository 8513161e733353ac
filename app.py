"""outreach-triage: the triage screen. Run with ``streamlit run app.py``.

Widgets -> classifier API -> display. The queue, the corrections and retraining live in
classifier/frontends/screen.py (a view model over the same stages as the batch job); this file only
lays them out. Message text is untrusted: it is shown as plain text, or as escaped HTML
(screen.highlight_html, screen.md_escape).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from classifier import ACTIONS, LABELS, FormatError, Ledger, LedgerError, ModelError, Triage
from classifier.frontends import screen

HERE = Path(__file__).resolve().parent
SAMPLE_INBOX = HERE / "data" / "sample" / "inbox.mbox"
SAMPLE_HISTORY = HERE / "data" / "sample" / "history.jsonl"
SAMPLE, UPLOAD, ON_DISK = "The sample inbox", "An export I upload", "An export on this computer"
ACTION_COLOURS = {"accept": "green", "educate": "orange", "decline": "red", "none": "gray"}
# Widths that fit the whole queue in the page at 1,400 px with the sidebar open (tests/test_browser.py).
QUEUE_COLUMNS = {"to do": st.column_config.TextColumn(width=40), "date": st.column_config.TextColumn(width=118),
                 "sender": st.column_config.TextColumn(width=200), "subject": st.column_config.TextColumn(width=270),
                 "label": st.column_config.TextColumn(width=105), "action": st.column_config.TextColumn(width=70),
                 "check": st.column_config.TextColumn(width=48)}
EVENT_COLOURS = alt.Scale(domain=["deposit", "withdrawal", "signal"], range=["#2e7d32", "#c62828", "#757575"])

st.set_page_config(page_title="outreach-triage", page_icon="📬", layout="wide")


CSV_GUESSES = {"text": {"text", "body", "message", "content"}, "sender": {"sender", "from", "email", "author"},
               "date": {"date", "sent", "time", "timestamp"}, "subject": {"subject", "title"}}


def _head(path_text: str) -> bytes | None:
    """The first bytes of the file at ``path_text``, for its CSV header; None when it cannot be read."""
    try:
        with open(Path(path_text.strip()).expanduser(), "rb") as fp:
            return fp.read(65536)
    except OSError:
        return None


def open_message(row: dict) -> None:
    """Open ``row``'s message: the session names it by seq and id; the queue table starts afresh, so that
    its stored selection (a position) can never point at another message."""
    st.session_state.open = (row["seq"], row["id"])
    st.session_state.queue_generation = st.session_state.get("queue_generation", 0) + 1


@st.cache_resource(show_spinner="Loading the model…")
def load_triage(folder: str, sha256: str) -> Triage:
    """The model and the default policy, once per model file (a replaced model has another sha256)."""
    return Triage.load(folder)


# ---------------------------------------------------------------- the sidebar: what to open

with st.sidebar:
    st.header("Inbox")
    where = st.radio("Open", [SAMPLE, UPLOAD, ON_DISK], key="where")
    upload = st.file_uploader("Export: mbox, .eml, CSV or JSONL", key="upload",
                              type=["mbox", "mbx", "eml", "csv", "jsonl", "ndjson", "json"]) if where == UPLOAD else None
    path_text = st.text_input("Path: a file, a Maildir or a folder of .eml", key="path") if where == ON_DISK else ""
    history_text = "" if where == SAMPLE else st.text_input(
        "History file (optional)", key="history", help="Ledger events you noted down: JSONL or CSV.")
    columns, column_error = None, None
    csv_head = (upload.getvalue()[:65536] if upload is not None and upload.name.lower().endswith(".csv") else
                _head(path_text) if path_text.strip().lower().endswith(".csv") else None)
    header = screen.csv_header(csv_head) if csv_head else []
    if header and not {"Body", "From: (Address)"} <= set(header):  # Outlook's own export reads itself
        st.caption("Which columns hold what:")
        picked = {}
        for role in screen.CSV_ROLES:
            options = ([] if role == "text" else ["(none)"]) + header
            guess = next((i for i, name in enumerate(options) if name.lower() in CSV_GUESSES[role]), 0)
            choice = st.selectbox(f"{role.capitalize()} column", options, index=guess, key=f"csv_{role}")
            picked[role] = None if choice == "(none)" else choice
        try:
            columns = screen.csv_columns(header, picked)
        except ValueError as error:
            column_error = str(error)
    me_text = st.text_input("Your addresses (optional)", key="me",
                            help="Comma-separated. Left empty, they are found from your Sent folder.")
    ledger_text = st.text_input("Ledger database", value=str(screen.ledger_path_default()), key="ledger",
                                help="Corrections and the events you record are kept here (SQLite).")
    if st.button("Score again", key="rescore", help="Picks up events recorded elsewhere, e.g. with triage ledger."):
        st.session_state.pop("inbox_key", None)

try:
    ledger = Ledger(ledger_text.strip() or None)
except (LedgerError, OSError) as error:
    st.error(f"Cannot open the ledger: {error}")
    st.stop()

try:
    folder, sha256 = screen.model_in_use()
    base = load_triage(str(folder), sha256)
except ModelError as error:
    st.error(f"Cannot load the model: {error}")
    st.stop()

if where == SAMPLE:
    history_path = SAMPLE_HISTORY
else:
    history_path = Path(history_text.strip()).expanduser() if history_text.strip() else None
try:
    history = screen.read_history(history_path) if history_path else None
except (OSError, ValueError) as error:
    st.error(f"Cannot read the history file: {error}")
    st.stop()
triage = Triage(base.classifier, base.policy, ledger.path, history)
me = [address.strip() for address in me_text.split(",") if address.strip()]

if where == SAMPLE:
    source, key = SAMPLE_INBOX, ("sample",)
elif where == UPLOAD and upload is not None:
    source, key = None, ("upload", upload.file_id, upload.name, upload.size)
elif where == ON_DISK and path_text.strip():
    source = Path(path_text.strip()).expanduser()
    if not source.exists():
        st.error(f"No such file or folder: {source}")
        st.stop()
    key = ("path", str(source.resolve()), source.stat().st_mtime_ns)
else:
    st.info("Choose an export in the sidebar: upload one, or give its path.")
    st.stop()
if column_error:
    st.error(column_error)
    st.stop()
key += (str(history_path), str(ledger.path), tuple(me), base.classifier.model_id, columns)

# ---------------------------------------------------------------- scoring, once per export

if st.session_state.get("inbox_key") != key:
    with st.status("Scoring the inbox…", expanded=True) as status:
        counter = st.empty()

        def progress(read: int) -> None:
            counter.text(f"{read:,} messages read")

        try:
            if source is None:
                with tempfile.TemporaryDirectory(prefix="triage-upload-") as tmp:
                    inbox = screen.score_inbox(screen.spool(upload, upload.name, Path(tmp)), triage, me=me,
                                               progress=progress, columns=columns)
            else:
                inbox = screen.score_inbox(source, triage, me=me, progress=progress, columns=columns)
        except (FormatError, OSError, ValueError) as error:
            reason = screen.clean(str(error), 300)
            status.update(label=f"Could not read the export: {reason}", state="error")
            st.error(f"{reason}. Give an mbox, a Maildir or a folder of .eml files, one .eml, a CSV (choose its "
                     "columns in the sidebar) or a JSONL file with a \"text\" field.")
            st.stop()
        status.update(label=f"Scored {len(inbox.rows):,} messages", state="complete", expanded=False)
    st.session_state.update(inbox_key=key, inbox=inbox, relearned=None)
inbox = st.session_state.inbox

corrections = screen.corrections(ledger)
labels_by_hand = screen.active_corrections(corrections).labels
rows = screen.current_rows(inbox, triage, corrections)
by_seq = {row["seq"]: row for row in rows}
token = str(abs(hash(key)) % 10**8)  # widgets whose options depend on the export start afresh with a new one

# ---------------------------------------------------------------- the page

st.title("outreach-triage")
waiting = sum(row["needs_decision"] for row in rows)
st.caption(f"{len(rows):,} messages scored · model {base.classifier.model_id} · "
           f"ledger {screen.md_escape(str(ledger.path))}")
if inbox.unreadable:
    with st.expander(f"{len(inbox.unreadable)} records could not be read and were skipped"):
        st.text("\n".join(f"{origin}: {reason}" for origin, reason in inbox.unreadable[:200]))
if not rows:
    st.warning("No inbound message to score in this export.")
    st.stop()
count_col, need_col = st.columns([4, 1], gap="large")
count_col.dataframe(screen.counts(rows), hide_index=True, key="counts")
need_col.metric("Waiting for you", waiting)
need_col.metric("Labels to check", sum(row["needs_review"] and not row["done"] for row in rows))
need_col.metric("Done", sum(row["done"] for row in rows))

queue_tab, learn_tab = st.tabs(["Queue", "Corrections and learning"])

with queue_tab:
    f1, f2, f3, f4, f5 = st.columns([2, 2, 3, 3, 3])
    pick_labels = f1.multiselect("Label", LABELS, key="filter_label")
    pick_actions = f2.multiselect("Action", ACTIONS, key="filter_action")
    pick_senders = f3.multiselect("Sender", sorted({row["sender"] for row in rows if row["sender"]}),
                                  key=f"filter_sender_{token}")
    span = screen.date_range(rows)
    days = f4.date_input("Dates", value=span, min_value=span[0], max_value=span[1],
                         key=f"filter_dates_{token}") if span else ()
    search = f5.text_input("Search", key="filter_search", placeholder="words in the subject, text or sender")
    start, end = (tuple(days) + (None, None))[:2]
    shown = screen.queue(screen.filter_rows(rows, labels=pick_labels, actions=pick_actions, senders=pick_senders,
                                            start=start, end=end, search=search))
    st.caption(f"{len(shown):,} of {len(rows):,} messages; those waiting for you come first. Click a row to open "
               "it; J and K move down and up, A, E and D decide and go on to the next one waiting.")

    # The open message is named by its seq and id in the session, never by a widget's position: a queue
    # that re-sorts after a decision must not put another message under the buttons (issue 17).
    opened = st.session_state.get("open")
    if opened is None or opened[0] not in by_seq or by_seq[opened[0]]["id"] != opened[1]:
        opened = (shown[0]["seq"], shown[0]["id"]) if shown else None
        st.session_state.open = opened
    generation = st.session_state.setdefault("queue_generation", 0)
    open_at = next((i for i, r in enumerate(shown) if opened and r["seq"] == opened[0]), None)
    # The table's key carries the open message's place: a table that re-sorts is a new table, whose
    # selection is set afresh to the open message, so a selection left from before can never open another.
    picked = st.dataframe(screen.queue_table(shown), hide_index=True, key=f"queue_{token}_{generation}_{open_at}",
                          height=min(38 + 35 * max(len(shown), 1), 360), column_config=QUEUE_COLUMNS,
                          on_select="rerun", selection_mode="single-row",
                          selection_default={"selection": {"rows": [open_at] if open_at is not None else []}})
    chosen = picked.selection.rows if picked is not None else []
    if chosen and chosen[0] != open_at and chosen[0] < len(shown):
        open_message(shown[chosen[0]])
        st.rerun()

    if not shown:
        st.info("No message matches these filters.")
    if opened is not None:
        row = by_seq[opened[0]]
        seq = row["seq"]
        if open_at is None:
            st.caption("The open message is not among those the filters show; it stays open until you move on.")
        nav = st.columns([1, 1, 1, 1, 1, 1, 2])
        if nav[0].button("↑ Prev", key="previous", shortcut="K", disabled=screen.step(shown, seq, -1) is None):
            open_message(by_seq[screen.step(shown, seq, -1)])
            st.rerun()
        if nav[1].button("↓ Next", key="next", shortcut="J", disabled=screen.step(shown, seq, 1) is None):
            open_message(by_seq[screen.step(shown, seq, 1)])
            st.rerun()
        for column, (action, key) in zip(nav[2:5], (("accept", "A"), ("educate", "E"), ("decline", "D"))):
            if column.button(action.capitalize(), key=f"decide_{action}_{seq}", shortcut=key, disabled=row["done"],
                             type="primary" if action == row["action"] else "secondary",
                             help=f"{action} this message, mark it done, and open the next one waiting"):
                following = screen.next_undecided(shown, seq)
                screen.decide(ledger, row, action)
                if following is not None:
                    open_message(by_seq[following])
                st.rerun()
        st.divider()
        message_col, side_col = st.columns([3, 2], gap="large")

        with message_col:
            st.subheader(screen.md_escape(row["subject"]) or "(no subject)")
            when = screen.message_time(row)
            sender = f"{row['sender_name']} <{row['sender']}>" if row["sender_name"] else (row["sender"] or "unknown")
            st.text(f"From {sender}, {when.strftime('%a %d %b %Y, %H:%M') if when else 'no date'}")
            badges = [f"**Recommended:** :{ACTION_COLOURS[row['action']]}-badge[{row['action']}]"]
            badges += [":violet-badge[check the label]"] if row["needs_review"] else []
            badges += [":blue-badge[label set by you]"] if row["label_by"] == "you" else []
            badges += [":gray-badge[done]"] if row["done"] else []
            st.markdown(" ".join(badges))
            st.markdown("\n".join(f"- {screen.md_escape(reason)}" for reason in row["reasons"]))
            if row.get("policy_reasons"):
                with st.expander(f"Why the policy said {row['policy_action']}"):
                    st.markdown("\n".join(f"- {screen.md_escape(reason)}" for reason in row["policy_reasons"]))

            words = screen.highlight_words(row["top_features"], row["text"])
            st.caption(f"Highlighted: the words in the text that drove the label {row['model_label']} "
                       f"({screen.md_escape(', '.join(words))})." if words else
                       f"No single words drove the label {row['model_label']}: the cues did (links, phrasing, length).")
            st.html(screen.highlight_html(row["text"], words))
            if row["text_cut"]:
                st.caption("The message is longer than shown here.")
            with st.expander("Plain text, to copy"):
                st.code(row["text"], language=None, wrap_lines=True)

            st.markdown("**Correct it**")
            c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
            new_label = c1.selectbox("Label", LABELS, index=LABELS.index(row["label"]),
                                     key=f"label_{seq}_{row['label']}")
            if c2.button("Change the label", key=f"set_label_{seq}", disabled=new_label == row["label"]):
                screen.correct_label(ledger, row, new_label)
                st.rerun()
            c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
            new_action = c1.selectbox("Action", ACTIONS, index=ACTIONS.index(row["action"]),
                                      key=f"action_{seq}_{row['action']}")
            if c2.button("Change the action", key=f"set_action_{seq}", disabled=new_action == row["action"]):
                screen.correct_action(ledger, row, new_action)
                st.rerun()

            c1, c2, c3 = st.columns([3, 2, 3])
            kind = c1.selectbox("Something happened", list(screen.EVENT_CHOICES), key=f"event_kind_{seq}",
                                format_func=screen.EVENT_CHOICES.get)
            happened = c2.date_input("When", key=f"event_day_{seq}", help="An event counts for the asks after it.",
                                     value=(when.date() - timedelta(days=1)) if when else date.today())
            note = c3.text_input("Note (optional)", key=f"event_note_{seq}")
            if st.button("Record it", key=f"event_add_{seq}", disabled=row["sender"] is None):
                try:
                    recorded = screen.record_event(ledger, row, kind, happened, note)
                except ValueError as error:
                    st.error(str(error))
                else:
                    if recorded is None:
                        st.info("The ledger already holds this event.")
                    else:
                        st.rerun()

            granted = st.checkbox("I did what they asked (the ledger records a favour granted)",
                                  key=f"granted_{seq}", disabled=row["done"])
            if st.button("Mark as done", key=f"done_{seq}", disabled=row["done"]):
                screen.mark_done(ledger, row, granted=granted)
                st.rerun()
            for correction in row["corrections"]:
                text_col, undo_col = st.columns([4, 1], vertical_alignment="center")
                text_col.text(screen.describe_correction(correction))
                if undo_col.button("Undo", key=f"undo_message_{correction['id']}"):
                    screen.undo(ledger, correction)
                    st.rerun()

        with side_col:
            st.markdown(f"**Label: {row['label']}**" + (f" (the model said {row['model_label']})"
                                                        if row["label_by"] == "you" else ""))
            with st.expander("Advanced: the model's probabilities"):
                for label in LABELS:
                    st.progress(row["probabilities"][label], text=f"{label} {row['probabilities'][label]:.2f}")

            st.markdown(f"**How close:** {row['tie']}")
            c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
            choices = list(screen.TIE_CHOICES)
            current = screen.declared_tie(ledger, row)
            tie = c1.selectbox("I know this person", choices, index=choices.index(current), key=f"tie_{seq}_{current}",
                               help="Family and close ties are never sent the 'build a relationship first' reply.")
            if c2.button("Set", key=f"set_tie_{seq}", disabled=row["sender"] is None or tie == current):
                screen.set_tie(ledger, row, tie)
                st.rerun()

            st.markdown("**Their standing over time**")
            st.caption(screen.md_escape(row["standing"]["summary"]))
            events = screen.sender_events(inbox, triage, row["sender"], labels_by_hand)
            if events:
                line, marks = screen.standing_series(events, max(datetime.now(UTC), when or datetime.now(UTC)),
                                                     triage.policy)
                chart = alt.Chart(pd.DataFrame(line)).mark_line(color="#1565c0").encode(
                    x=alt.X("date:T", title=None), y=alt.Y("balance:Q", title="standing"))
                chart += alt.Chart(pd.DataFrame(marks)).mark_point(filled=True, size=70).encode(
                    x="date:T", y="balance:Q", color=alt.Color("type:N", scale=EVENT_COLOURS, title=None),
                    shape=alt.Shape("type:N", title=None), tooltip=["date:T", "kind:N", "note:N", "source:N"])
                if when is not None:
                    chart += alt.Chart(pd.DataFrame([{"date": when}])).mark_rule(strokeDash=[4, 4]).encode(x="date:T")
                st.altair_chart(chart, height=220)
                table = screen.events_table(events)
                st.dataframe(table, hide_index=True, height=min(38 + 35 * len(table), 215), key="events")
            else:
                st.caption("No history with this sender yet.")

            st.markdown("**Reply**")
            if row["reply"]:
                draft = st.text_area("Reply draft", value=row["reply"], height=240,
                                     key=f"draft_{seq}_{row['label']}_{row['action']}")
                with st.expander("Copy the draft"):
                    st.code(draft, language=None, wrap_lines=True)
                eml = screen.reply_eml(row, draft, inbox.me[0] if inbox.me else None)
                if eml is not None:
                    st.download_button("Download as .eml", eml, file_name=f"reply-{seq}.eml", mime="message/rfc822",
                                       key=f"eml_{seq}", on_click="ignore")
                else:
                    st.caption("The sender has no e-mail address to reply to.")
            else:
                st.caption(f"No reply is due for {row['action']} on {row['label']}.")

with learn_tab:
    examples, elsewhere = screen.corrected_examples(inbox, corrections)
    st.markdown(f"**{len(examples)} corrected labels** in this inbox can teach the model."
                + (f" {elsewhere} more are for messages of another export; open it to include them."
                   if elsewhere else ""))
    active = screen.active_corrections(corrections).active
    in_inbox = {row["id"] for row in rows}
    subjects = {row["id"]: row["subject"] or "(no subject)" for row in rows}
    for correction in [c for c in active if c["message_id"] in in_inbox]:
        text_col, undo_col = st.columns([6, 1], vertical_alignment="center")
        subject = subjects.get(correction["message_id"]) or screen.clean(correction["message_id"], 60)
        text_col.text(f"{correction['created'][:16].replace('T', ' ')}  \"{screen.clean(subject, 70)}\": "
                      f"{screen.describe_correction(correction)}")
        if undo_col.button("Undo", key=f"undo_all_{correction['id']}"):
            screen.undo(ledger, correction)
            st.rerun()

    st.divider()
    st.markdown("**Retrain with my corrections**")
    st.caption(f"Trains the current model's kind on the corpus's training part plus your corrected messages "
               f"(each counts {screen.CORRECTION_WEIGHT:g} times), measures it against the current one on the "
               f"held-out part, and keeps it aside until you choose to use it. It takes a few minutes.")
    if st.button("Retrain with my corrections", key="retrain", disabled=not examples):
        bar = st.progress(0.0, text="starting")
        try:
            st.session_state.relearned = screen.retrain(examples, progress=lambda what, done: bar.progress(done, text=what))
        except (ModelError, OSError, ValueError) as error:
            st.error(f"Retraining failed: {error}")
    result = st.session_state.get("relearned")
    if result is not None:
        st.markdown(f"**{screen.md_escape(result.in_words())}**")
        with st.expander("Every number, before and after"):
            st.markdown(result.table)
        if result.corpus_changed:
            st.warning("The current model was trained on an older version of the corpus, so some held-out "
                       "messages may be ones it learned from: its numbers can look better than they are.")
    pending = screen.pending_model()
    confirmed = st.checkbox("I have compared the numbers and want to use the new model", key="confirm_promote",
                            disabled=not pending)
    use_col, back_col = st.columns(2)
    if use_col.button("Use the new model", key="promote", disabled=not (confirmed and pending)):
        screen.promote_model()
        st.session_state.relearned = None
        st.rerun()
    if back_col.button("Roll back to the previous model", key="rollback", disabled=not screen.previous_model_exists()):
        screen.rollback_model()
        st.rerun()
