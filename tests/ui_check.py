"""`make ui-check`: a real `mlflow ui` over the repository's store, opened in a real Chromium by
Playwright at the link `fsqtok ui-url` prints. Passes when the page is the experiment's runs
table with every headline metric of reports/headline.json as a column and the pipeline's parent
rows listed. Run by hand after `make repro` (needs `pip install -e '.[ui]'` and Chromium:
`apt-get install chromium`, or $CHROMIUM); not part of the test suite."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"ui-check: mlflow ui did not answer on port {port} within {seconds:.0f} s")


def check(url: str, headline: list[str]) -> list[str]:
    """The problems seen on the page at `url` (none: it passes)."""
    from playwright.sync_api import TimeoutError, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                                             args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1800, "height": 900})  # a fresh profile: a first-time user
        page.goto(url)
        try:
            page.wait_for_selector("[role=columnheader]", timeout=30_000)
        except TimeoutError:
            landed = page.url
            browser.close()
            return [f"no runs table within 30 s at {landed}"]
        headers = set(page.locator("[role=columnheader]").all_inner_texts())
        rows = page.locator("[role=row]").all_inner_texts()
        landed = page.url
        browser.close()
    problems = [] if "/runs?" in landed and "workflowType=machine_learning" in landed else [f"landed on {landed}"]
    problems += [f"no column {name}" for name in headline if name not in headers]
    if not any("repro" in row for row in rows):
        problems.append("no pipeline parent row (repro / dvc repro) in the runs table")
    return problems


def main() -> None:
    headline = list(json.loads((ROOT / "reports/headline.json").read_text()))
    port = free_port()
    server = subprocess.Popen([str(BIN / "mlflow"), "ui", "--backend-store-uri", f"sqlite:///{ROOT / 'mlflow.db'}",
                               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until_up(port)
        url = subprocess.run([str(BIN / "fsqtok"), "ui-url", "--port", str(port)], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.strip()
        problems = check(url, headline)
    finally:
        os.killpg(server.pid, signal.SIGKILL)  # the UI's job workers too
    if problems:
        raise SystemExit("ui-check: " + "; ".join(problems))
    print(f"ui-check: ok — {url} opens the runs table with the columns {', '.join(headline)}")


if __name__ == "__main__":
    main()
