"""`triage score --engine dask`: the same labels, actions and standings as one machine; the model checked
on every worker."""

import contextlib
import io
import json
import mailbox
import shutil
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

pytest.importorskip("distributed")

import pyarrow.parquet as pq
from distributed import Client, LocalCluster

from classifier.run import distributed as dask_engine
from classifier.run.batch import score
from classifier.run.job import ScoreOptions
from classifier.frontends.cli import build_parser, main
from classifier.run.distributed import score_dask, worker_classifier
from classifier.weigh.events import Event
from classifier.weigh.ledger import Ledger
from classifier.classify.model import ModelError, model_dir
from classifier.run.writers import FLAT_COLUMNS

ME = "maya@letters.example"
PITCH = ("Would you feature our new budgeting app in your newsletter? We'd love a mention to your readers, "
         "and I can offer an exclusive interview with our CEO.")
LIFT = "hey! any chance you could give me a lift to the airport on saturday morning? I'll buy breakfast x"
APPEAL = ("Every year our volunteers clear 40 tonnes of plastic from the coast. Could you donate £20 to "
          "keep the beach clean-ups going this spring? Please give today.")
START = datetime(2026, 2, 1, 9, 0, tzinfo=timezone.utc)


def _mail(n: int, sender: str | None, day: float, subject: str, body: str, *, to: str = ME,
          reply_to: int | None = None, sent: bool = False, dated: bool = True) -> EmailMessage:
    mail = EmailMessage()
    if sender:
        mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    if dated:
        mail["Date"] = format_datetime(START + timedelta(days=day))
    mail["Message-ID"] = f"<m{n}@test.example>"
    if reply_to is not None:
        mail["In-Reply-To"] = f"<m{reply_to}@test.example>"
    if sent:
        mail["X-Gmail-Labels"] = "Sent"
    mail.set_content(body)
    return mail


def _mbox(path: Path, mails: list[EmailMessage]) -> str:
    box = mailbox.mbox(path)
    for mail in mails:
        box.add(mail)
    box.close()
    return str(path)


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """Four inputs whose history crosses files: pitches and their decline, a friend's favours and their
    yes, repeat appeals, a ledger alias; plus mail with no date, no sender, and one unreadable record."""
    root = tmp_path_factory.mktemp("export")
    pat, ana, coast, jo = ("pat@brightpr.example", "Ana Lima <ana@example.com>", "team@coastcare.example",
                           "jo@example.net")
    inbox_a = [
        _mail(1, pat, 29, "Exclusive for you", PITCH),
        _mail(2, ana, 9, "someone you should meet", "I'd love to introduce you to my friend Sam, who runs the "
              "local zine fair. Copying in Sam here, you two should meet!"),
        _mail(3, pat, 43, "Following up", "Following up one more time. " + PITCH),
        _mail(4, ana, 52, "thank you", "Thanks so much for the lift, it was lovely to catch up. See you soon!"),
        _mail(5, coast, 28, "Beach clean-up appeal", APPEAL),
        _mail(6, jo, 39, "a favour", LIFT),
        _mail(7, None, 30, "This week's newsletter", "Here is what happened in the garden this week: tulips."),
    ]
    inbox_b = [
        _mail(10, pat, 36, "Re: Exclusive", "Just bumping this up. " + PITCH),
        _mail(11, ana, 48, "", LIFT),
        _mail(12, "stranger@example.org", 48.04, "", LIFT),
        _mail(13, coast, 32, "Beach clean-up appeal", "Just a reminder! " + APPEAL),
        _mail(14, coast, 37, "Last chance", "Last chance to give. " + APPEAL),
        _mail(15, pat, 78, "New launch", PITCH),
        _mail(16, "win@promo-mail.top", 40, "You have WON", "Congratulations!!! Claim your prize now, click here"),
        _mail(17, "new@nowhere.example", 0, "no date", LIFT, dated=False),
        _mail(18, ana, 63, "one more", LIFT),
    ]
    sent = [
        _mail(20, f"Maya Okafor <{ME}>", 29.5, "Re: Exclusive for you", "Thanks, but I'll pass on this one.",
              to=pat, reply_to=1, sent=True),
        _mail(21, f"Maya Okafor <{ME}>", 48.3, "Re:", "Of course, happy to! See you at 8.", to=ana, reply_to=11,
              sent=True),
        _mail(22, f"Maya Okafor <{ME}>", 2, "Catching up", "Lovely to see you last week, let's do it again.",
              to=jo, sent=True),
        _mail(23, f"Maya Okafor <{ME}>", 33, "Re: Beach clean-up appeal", "Not for me, sorry.", to=coast,
              reply_to=13, sent=True),
    ]
    paths = [_mbox(root / "inbox-a.mbox", inbox_a), _mbox(root / "inbox-b.mbox", inbox_b),
             _mbox(root / "sent.mbox", sent)]
    with open(paths[0], "ab") as f:
        f.write(b"From MAILER-DAEMON Mon Mar  2 10:00:00 2026\n\n\n")  # an empty message: unreadable
    maildir = mailbox.Maildir(root / "Maildir", create=True)
    maildir.add(_mail(30, jo, 70, "again", "Could you read my draft this week? It's short, I promise."))
    maildir.add(_mail(31, "Sam Rivers <sam@zinefair.example>", 15, "hello from Sam",
                      "Ana introduced us, so hello! I shared your last issue with our readers."))
    paths.append(str(root / "Maildir"))
    history = root / "history.jsonl"
    history.write_text(json.dumps({"sender": "ana@example.com", "date": "2026-02-05", "kind": "helped",
                                   "note": "fixed my bike"}) + "\n", encoding="utf-8")
    ledger = root / "ledger.db"
    with Ledger(ledger) as book:
        book.alias("jo@example.net", "jo@work.example")
        book.record(Event(sender="jo@work.example", date="2026-01-20", kind="helped", note="proofread"))
        book.record(Event(sender="pat@brightpr.example", date="2026-01-05", kind="met"))
    return {"inputs": paths, "history": str(history), "ledger": str(ledger)}


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as local:
        yield local.scheduler_address


def _rows(path: Path) -> dict[str, dict]:
    table = pq.read_table(path)
    assert tuple(table.column_names) == FLAT_COLUMNS
    rows = table.to_pylist()
    by_id = {row["id"]: row for row in rows}
    assert len(by_id) == len(rows)
    return by_id


@pytest.fixture(scope="module")
def both(export, cluster, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    options = {"inputs": export["inputs"], "history": export["history"], "ledger": export["ledger"],
               "format": "parquet"}
    local = score(ScoreOptions(output=str(out / "local.parquet"), jobs=1, **options))
    dask = score_dask(ScoreOptions(output=str(out / "dask"), **options), scheduler=cluster)
    return local, dask, _rows(out / "local.parquet"), _rows(out / "dask"), out / "dask"


def test_dask_gives_the_same_labels_actions_and_standings_per_message(both):
    _, _, local, dask, _ = both
    assert dask.keys() == local.keys()
    for message_id, row in local.items():
        assert dask[message_id] == row, message_id  # every column: label, action, standing, reasons, reply


def test_the_history_crosses_files_so_it_had_to_be_shuffled_together(both):
    *_, local, dask, _ = both
    pitch = dask["<m15@test.example>"]
    assert "declined once" in pitch["standing_summary"]  # the user's reply in sent.mbox to inbox-a's pitch
    assert dask["<m3@test.example>"]["action"] == "decline"  # the third pitch sees inbox-b's second
    assert "gave" in dask["<m6@test.example>"]["standing_summary"]  # a ledger alias's help counts for jo
    assert dask["<m12@test.example>"]["standing_summary"] == "no history"  # same words, a stranger
    assert {row["action"] for row in dask.values()} >= {"accept", "educate", "decline", "none"}


def test_the_summaries_agree_and_the_client_never_loads_the_model(both):
    local, dask, *_ = both
    assert dask.me == local.me == [ME]
    assert (dask.scored, dask.by_label_action, dask.waiting, dask.not_scored, dask.flagged) == (
        local.scored, local.by_label_action, local.waiting, local.not_scored, local.flagged)
    assert dask.unreadable == local.unreadable == [("inbox-a.mbox#7", "empty message")]
    assert dask_engine._classifiers == {}  # loaded on the workers only


def test_the_output_is_a_dataset_of_parts_and_the_scratch_folder_is_gone(both):
    *_, out = both
    parts = sorted(p.name for p in out.iterdir())
    assert len(parts) >= 2 and all(p.startswith("part.") and p.endswith(".parquet") for p in parts)


def test_a_worker_refuses_a_model_whose_manifest_hash_does_not_match(export, cluster, tmp_path):
    tampered = tmp_path / "tampered"
    shutil.copytree(model_dir("outreach"), tampered)
    manifest = json.loads((tampered / "manifest.json").read_text(encoding="utf-8"))
    manifest["sha256"] = "0" * 64
    (tampered / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with Client(cluster) as client:
        with pytest.raises(ModelError, match="sha256"):
            client.submit(worker_classifier, str(tampered), pure=False).result()
    with pytest.raises(ModelError, match="refusing to load it"):
        score_dask(ScoreOptions(inputs=export["inputs"], output=str(tmp_path / "out"), format="parquet",
                                model=str(tampered)), scheduler=cluster)


def test_stdin_and_a_non_parquet_output_are_one_line_errors(export, tmp_path):
    with pytest.raises(ValueError, match="stdin"):
        score_dask(ScoreOptions(inputs=["-"], output=str(tmp_path / "o"), format="parquet"))
    with pytest.raises(ValueError, match="--format parquet and -o OUT_DIR"):
        score_dask(ScoreOptions(inputs=export["inputs"], output=None, format="jsonl"))


def _cli_has_engine() -> bool:
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            build_parser().parse_args(["score", "x.mbox", "--engine", "dask"])
        except SystemExit:
            return False
    return True


@pytest.mark.skipif(not _cli_has_engine(), reason="classifier/cli.py has no --engine option yet")
def test_the_command(export, cluster, both, tmp_path, capsys):
    *_, dask, _ = both
    out = tmp_path / "scored"
    code = main(["score", *export["inputs"], "-o", str(out), "--engine", "dask", "--scheduler", cluster,
                 "--history", export["history"], "--ledger", export["ledger"]])
    assert code == 3  # one unreadable record: reported, not fatal
    assert f"scored {len(dask)} messages" in capsys.readouterr().err
    assert _rows(out) == dask
    assert main(["score", *export["inputs"], "-o", str(out), "--scheduler", cluster]) == 2
    assert "--scheduler" in capsys.readouterr().err
