"""Shared fixtures. Kept light: nothing heavy is imported at collection time.

The browser fixtures (`streamlit_server`, `app_page`) start `streamlit run app.py` once per
session and drive the system Chromium through Playwright; tests that use them should be marked
`slow` and `browser`. They skip, with the reason, when Chromium or Playwright is missing.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"  # screenshots and server logs; gitignored
CHROMIUM = Path("/usr/bin/chromium")  # Debian package `chromium`; .ci/run installs it
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


def pytest_configure(config: pytest.Config) -> None:
    # No reference atlas unless a test asks for one (tests/test_reference_pages.py): the page tests
    # were written for, and keep checking, what a page shows with nothing to show; a server
    # started by the browser fixtures inherits this too.
    import tempfile

    os.environ["RESNET_VIZ_ATLAS"] = tempfile.mkdtemp(prefix="no-atlas-")


@pytest.fixture
def tmp_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh run store: RESNET_VIZ_RUNS points at an empty folder for this test.

    The server-wide job queue outlives a test; a job a page test left queued or training would
    hold the one CPU slot and make the next test's job wait (a flaky "stopped" test once), so
    every job still active is stopped when the test ends.
    """
    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setenv("RESNET_VIZ_RUNS", str(runs))
    yield runs
    from resnet_viz.engine import runner

    if runner.jobqueue._QUEUE is not None:
        for job in runner.jobqueue._QUEUE.jobs():
            job.stop()
        for job in runner.jobqueue._QUEUE.jobs():
            job.wait(30)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """test-artifacts/ at the repository root (gitignored): screenshots, server logs."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class StreamlitServer:
    url: str  # e.g. "http://127.0.0.1:8765"
    runs_dir: Path  # RESNET_VIZ_RUNS of the server process
    log_path: Path  # the server's stdout + stderr

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def serve(runs: Path, log_path: Path, env: dict[str, str]) -> Iterator[StreamlitServer]:
    """`streamlit run app.py` on a free port with the environment `env` and the run store `runs`,
    healthy before it is yielded; stopped after."""
    port = _free_port()
    env = {**env, "RESNET_VIZ_RUNS": str(runs), "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        # No reloading of edited modules: a reload would start a second job registry mid-test.
        "--server.fileWatcherType",
        "none",
    ]
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"streamlit exited with {proc.returncode}:\n{log_path.read_text()}")
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"streamlit not healthy after 90 s:\n{log_path.read_text()}")
                time.sleep(0.3)
            yield StreamlitServer(url=url, runs_dir=runs, log_path=log_path)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="session")
def streamlit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamlitServer]:
    """`streamlit run app.py` on a free port, with its own empty run store (and no reference atlas:
    the empty one pytest_configure set); stopped at the end."""
    ARTIFACTS.mkdir(exist_ok=True)
    with serve(tmp_path_factory.mktemp("server-runs"), ARTIFACTS / "streamlit-server.log", dict(os.environ)) as server:
        yield server


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[object]:
    """A headless system Chromium driven by Playwright (never `playwright install`)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's `chromium` package (apt-get install chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'"
    )
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def app_page(chromium_browser, streamlit_server: StreamlitServer) -> Iterator[object]:
    """A fresh browser page (Playwright `Page`) opened on the app's home page."""
    context = chromium_browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(streamlit_server.url)
        yield page
    finally:
        context.close()


class _MarkingCatalogue:
    """A stand-in gettext catalogue that wraps every template it is asked for in « »: a sentence
    built while it is installed shows which of its parts came out of the catalogue."""

    def gettext(self, msgid: str) -> str:
        return f"«{msgid}»"

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return f"«{singular if n == 1 else plural}»"


@pytest.fixture
def marking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sentences built in the test come out of the stand-in catalogue (see _MarkingCatalogue)."""
    import resnet_viz.i18n

    monkeypatch.setattr(resnet_viz.i18n, "_catalogue", _MarkingCatalogue())
