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
    page.get_by_text("Open a message").first.wait_for(timeout=120_000)
    page.locator('[data-testid="stDataFrame"] td').first.wait_for(state="attached", timeout=30_000)
    page.wait_for_timeout(1500)  # the chart and the last elements settle


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


def test_the_queue_shows_labels_and_actions_and_a_message_opens(server, browser):
    url, _ = server
    page = browser.new_page(viewport={"width": 1500, "height": 2400})
    page.goto(url)
    _loaded(page)
    _no_exception(page)
    counts = page.locator('[data-testid="stDataFrame"]').nth(0).locator("td").all_inner_texts()
    assert {"cold_pitch", "charity_ask", "friend_favour", "spam", "no_ask", "total"} <= {c.strip() for c in counts}
    # The queue grid renders the rows in view: the first ones wait for a decision.
    queue = page.locator('[data-testid="stDataFrame"]').nth(1)
    cells = {text.strip() for text in queue.locator("td").all_inner_texts()}
    assert len(cells & {"cold_pitch", "charity_ask", "friend_favour", "spam"}) >= 3
    assert {"educate", "decline", "●"} <= cells
    assert page.get_by_text("Recommended:").first.is_visible()
    assert page.get_by_text("friend_favour 0.", exact=False).first.is_visible()  # a probability bar
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "triage-screen.png"), full_page=True)

    # Open another message from the picker: its subject becomes the heading.
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Open a message").click()
    option = page.get_by_role("option").nth(2)
    picked = option.inner_text()
    option.click()
    subject = picked.split(" · ")[2]
    page.get_by_role("heading", name=subject[:30]).first.wait_for(timeout=20_000)
    _no_exception(page)
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
