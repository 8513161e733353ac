"""The screen in a real browser: `streamlit run app.py` in a subprocess, driven with Playwright and
Debian's Chromium. Checks what a person sees (labels, actions, a message) and that a message's
<script> never runs. Screenshots go to test-artifacts/ (gitignored)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCRIPT = "<script>window.__pwned=1</script>"
EVIL_TEXT = (f"Hello! {SCRIPT} <img src=x onerror=\"window.__pwned=2\"> Could you share my launch? "
             "[free money](javascript:window.__pwned=3)")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="Debian's chromium is not installed at /usr/bin/chromium "
                                       "(apt-get install chromium; .ci/run installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a free port, with a ledger and HOME in a temporary folder."""
    tmp = tmp_path_factory.mktemp("browser")
    port = _free_port()
    env = {**os.environ, "HOME": str(tmp), "TRIAGE_LEDGER": str(tmp / "ledger.db"),
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    log = open(tmp / "streamlit.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start: {(tmp / 'streamlit.log').read_text(errors='replace')[-2000:]}")
            time.sleep(0.3)
        yield url, tmp
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright  # a dev dependency: missing is an error, not a skip

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _loaded(page) -> None:
    """Wait until a scored inbox is on screen."""
    page.get_by_text("Recommended:").first.wait_for(timeout=120_000)
    page.locator('[data-testid="stDataFrame"] td').first.wait_for(state="attached", timeout=30_000)
    _settled(page)


def _settled(page) -> None:
    """Wait until the script has finished running and the page has drawn what it sent."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    page.wait_for_timeout(500)


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


SAMPLE_IDS = {(r["from_addr"], r["subject"]): r["id"] for r in
              map(json.loads, (ROOT / "data" / "sample" / "messages.jsonl").read_text(encoding="utf-8").splitlines())
              if r["folder"] == "inbox"}


def _open_message(page) -> tuple[str, str, str]:
    """(message id, sender, recommended action) of the message open on the page, read from what a person
    sees: its heading, its From line and its badge."""
    subject = page.locator("h3").first.inner_text().strip()
    sender_line = page.get_by_text("From ", exact=False).first.inner_text()
    sender = sender_line.split("<", 1)[1].split(">", 1)[0] if "<" in sender_line else sender_line.split()[1]
    recommended = page.locator("p", has_text="Recommended:").first.inner_text().split(":", 1)[1].split()[0]
    return SAMPLE_IDS[(sender, "" if subject == "(no subject)" else subject)], sender, recommended


def _records(ledger: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    import sqlite3

    with sqlite3.connect(ledger) as db:
        corrections = db.execute("SELECT message_id, kind FROM corrections WHERE undone = 0 ORDER BY id").fetchall()
        events = db.execute("SELECT sender, kind FROM events ORDER BY recorded, id").fetchall()
    return corrections, events


def test_ten_messages_worked_through_with_keys_and_clicks_record_exactly_what_was_done(server, browser):
    url, tmp = server
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(url)
    _loaded(page)  # the first load also loads the model into the server's cache
    started = time.monotonic()
    page.goto(url)
    _loaded(page)
    first_screen = time.monotonic() - started
    _no_exception(page)
    counts = page.locator('[data-testid="stDataFrame"]').nth(0).locator("td").all_inner_texts()
    assert {"cold_pitch", "charity_ask", "friend_favour", "spam", "no_ask", "total"} <= {c.strip() for c in counts}
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "triage-queue.png"), full_page=False)
    queue = page.locator('[data-testid="stDataFrame"]').nth(1)
    cells = {text.strip() for text in queue.locator("td").all_inner_texts()}
    assert {"educate", "●"} <= cells and len(cells & {"cold_pitch", "charity_ask", "friend_favour", "spam"}) >= 3

    expected_corrections: list[tuple[str, str]] = []
    expected_events: list[tuple[str, str]] = []
    visited, timings = [], []

    def press(key: str) -> None:
        page.locator("h1").first.click()  # the page has the focus, not a text field
        before = page.locator("h3").first.inner_text()
        pressed = time.monotonic()
        page.keyboard.press(key)
        page.wait_for_function("(h) => document.querySelector('h3') && document.querySelector('h3').innerText != h",
                               arg=before, timeout=60_000)
        _settled(page)
        timings.append(time.monotonic() - pressed)

    def decide(key: str, action: str) -> None:
        message, sender, recommended = _open_message(page)
        if action != recommended:
            expected_corrections.append((message, "action"))
        expected_corrections.append((message, "done"))
        if action == "accept":
            expected_events.append((sender, "favour_granted"))
        visited.append(message)
        press(key)

    decide("e", "educate")                       # 1: the lesson, and on to the next one waiting
    visited.append(_open_message(page)[0])
    press("j")                                   # 2: looked at, passed over
    decide("d", "decline")                       # 3
    message, sender, _ = _open_message(page)     # 4: a label corrected by hand, then accepted by a click
    label_box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Label").first
    label_box.click()
    current = label_box.inner_text().split("\n")[-1].strip()
    new_label = "friend_favour" if current != "friend_favour" else "charity_ask"
    page.get_by_role("option", name=new_label, exact=True).click()
    _settled(page)
    page.get_by_role("button", name="Change the label").click()
    _settled(page)
    assert _open_message(page)[0] == message     # the queue re-sorted; the open message did not change
    expected_corrections.append((message, "label"))
    recommended = _open_message(page)[2]
    page.get_by_role("button", name="Accept").click()
    expected_corrections += [(message, "action")] if recommended != "accept" else []
    expected_corrections.append((message, "done"))
    expected_events.append((sender, "favour_granted"))
    visited.append(message)
    _settled(page)
    visited.append(_open_message(page)[0])
    press("j")                                   # 5 -> 6
    visited.append(_open_message(page)[0])
    press("k")                                   # back to 5
    decide("e", "educate")                       # 5
    for _ in range(3):                           # 6 to 8: passed over with the keyboard
        visited.append(_open_message(page)[0])
        press("j")
    grid = page.locator('[data-testid="stDataFrame"]').nth(1).bounding_box()  # 9: a click on its row
    before = page.locator("h3").first.inner_text()
    page.mouse.click(grid["x"] + 14, grid["y"] + 35 + 35 * 3 + 17)  # the 4th row's selection box (a canvas)
    page.wait_for_function("(h) => document.querySelector('h3').innerText != h", arg=before, timeout=60_000)
    _settled(page)
    decide("d", "decline")                       # 9, and the 10th opens
    visited.append(_open_message(page)[0])
    page.screenshot(path=str(ARTIFACTS / "triage-message.png"), full_page=False)
    _no_exception(page)

    assert len(set(visited)) >= 9                # ten steps through at least nine different messages
    corrections, events = _records(tmp / "ledger.db")
    assert corrections == expected_corrections   # each row names the message that was open, nothing else
    assert events == expected_events
    (ARTIFACTS / "browser-timings.json").write_text(json.dumps(
        {"first_screen_seconds_model_cached": round(first_screen, 2),
         "seconds_per_key_or_click": [round(t, 2) for t in timings]}, indent=2) + "\n", encoding="utf-8")
    page.close()


def test_an_uploaded_message_with_a_script_is_shown_and_the_script_never_runs(server, browser):
    url, tmp = server
    evil = tmp / "evil.jsonl"
    evil.write_text("".join(json.dumps(m) + "\n" for m in [
        {"id": "e1", "sender": "mallory@evil.example", "date": "2026-05-02T10:00:00+00:00",
         "subject": f"Launch {SCRIPT} [click me](javascript:window.__pwned=4)", "text": EVIL_TEXT},
        {"id": "e2", "sender": "friend@example.org", "date": "2026-05-01T10:00:00+00:00", "subject": "thanks",
         "text": "Thanks for the lovely evening, see you soon."},
    ]), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1500, "height": 2000})
    page.goto(url)
    _loaded(page)
    page.get_by_text("An export I upload").click()  # uploaded, spooled to a temporary file, scored from there
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(evil))
    page.get_by_text("2 of 2 messages", exact=False).wait_for(timeout=120_000)
    page.get_by_text(EVIL_TEXT.split(" [")[0][:20]).first.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)
    _no_exception(page)

    # Shown, as text: in the message body and in the heading.
    body = page.locator('[data-testid="stHtml"]').first
    assert body.is_visible()
    assert SCRIPT in body.inner_text() and "[free money](javascript:window.__pwned=3)" in body.inner_text()
    assert page.get_by_role("heading", name=f"Launch {SCRIPT} [click me]").first.is_visible()
    # Never live: no such script element or link anywhere, and it did not run in any frame.
    for frame in page.frames:
        assert frame.evaluate("() => window.__pwned") is None
        assert frame.evaluate("() => [...document.scripts].some(s => s.textContent.includes('__pwned'))") is False
        assert frame.evaluate("() => [...document.querySelectorAll('a[href^=\"javascript\"]')].length") == 0
        assert frame.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length") == 0
    page.screenshot(path=str(ARTIFACTS / "triage-screen-script.png"), full_page=True)
    page.close()
