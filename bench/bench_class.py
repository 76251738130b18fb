"""A class on one server: three browsers at once while another process keeps one core busy.

Browser A trains (and presses Stop), browser B's press waits in the queue behind it, browser C
watches A's run by its link. Measured, against `streamlit run app.py` in a real Chromium:

- Stop latency: from the Python call that clicks Stop to the run store's status.json saying
  "stopped" (the click's round trip included), for a small job and for one whose steps take
  seconds (depth 110);
- the wait from A's stop to B's queued job starting;
- what must hold (printed as PASS/FAIL, exit status 1 on a FAIL): no exception box on any page,
  no "Traceback" in the server log, C cannot stop A's run, B waited and then trained.

    python bench/bench_class.py [--no-load]

Needs Debian's chromium (/usr/bin/chromium) and the `playwright` pip package (test extra).
Prints machine, torch version, threads and seed beside the figures; never run by the tests.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_live import ARGS, streamlit_server

# A: one job per scenario, long enough to be stopped mid-run; B: a small job that must wait.
SCENARIOS = {
    "small (ResNet-20 twins, digits)": "depth=20&width=8&steps=3000",
    "seconds per step (ResNet-110 twins, shapes, width 16, batch 256)": "depth=110&width=16&batch_size=256&steps=30&dataset=shapes",
}
QUEUED = "depth=8&width=4&steps=40"


def burn() -> None:  # one busy core, as another user's process would be
    while True:
        pass


def status_of(runs: Path, job_id: str) -> set[str]:
    out = set()
    for f in runs.glob("*/status.json"):
        cfg = json.loads((f.parent / "config.json").read_text())
        if cfg.get("group") == job_id:
            out.add(json.loads(f.read_text())["status"])
    return out


def stopped_at(runs: Path, job_id: str, timeout: float = 60.0) -> float | None:
    """Wall time (time.time) when every run of the job's status.json said "stopped"."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if status_of(runs, job_id) == {"stopped"}:
            return max(
                f.stat().st_mtime
                for f in runs.glob("*/status.json")
                if json.loads((f.parent / "config.json").read_text()).get("group") == job_id
            )
        time.sleep(0.02)
    return None


def open_page(context, url: str):
    page = context.new_page()
    page.set_default_timeout(180_000)
    page.goto(url)
    return page


def press_train(context, url: str):
    """A new page of this browser at `url`, Train pressed: (the page, its job id)."""
    page = open_page(context, url)
    page.get_by_role("button", name="Train").click()
    return page, job_of(page)


def job_of(page) -> str:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function("location.search.includes('job=')", timeout=30_000)
    except PlaywrightTimeout:  # refused: say what the page said
        alerts = page.locator('[data-testid="stAlert"]').all_inner_texts()
        raise SystemExit(f"the press was not queued; the page says: {alerts}") from None
    return page.evaluate("new URLSearchParams(location.search).get('job')")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-load", action="store_true", help="without the busy background core")
    args = ap.parse_args()
    import torch
    from playwright.sync_api import sync_playwright

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, torch {torch.__version__}, "
        f"server worker threads: the thread policy (RESNET_VIZ_THREADS unset), seed 0, "
        f"background load: {'none' if args.no_load else '1 busy core'}"
    )
    load = None if args.no_load else multiprocessing.Process(target=burn, daemon=True)
    if load is not None:
        load.start()
    checks: dict[str, bool] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-class-"))
    runs, log = tmp / "runs", tmp / "server.log"
    try:
        with streamlit_server(runs, log=log) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            a, b, c = (browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(3))
            for name, query in SCENARIOS.items():
                pa, job_a = press_train(a, f"{url}/live?{query}")
                pa.get_by_text("Running · step").wait_for(state="visible")
                t_run = time.time()

                pb, job_b = press_train(b, f"{url}/live?{QUEUED}")
                pb.get_by_text("Queued: position").wait_for(state="visible")
                checks[f"{name}: B's press waits in the queue"] = True

                pc = open_page(c, pa.url)
                pc.get_by_text("Running · step").wait_for(state="visible")
                checks[f"{name}: C, watching A's link, cannot stop it"] = pc.get_by_role(
                    "button", name="Stop"
                ).is_disabled()

                # Let A train a while under everyone's redraws, then stop it.
                while time.time() - t_run < 15:
                    pa.wait_for_timeout(500)
                step_text = pa.get_by_text("Running · step").inner_text()
                # The click's own time, taken in the browser when the event fires (Playwright's
                # actionability checks before it are not part of what a user waits for).
                pa.evaluate("document.addEventListener('click', () => { window.__clickAt = Date.now(); }, true)")
                pa.get_by_role("button", name="Stop").click()
                t_stop = stopped_at(runs, job_a)
                t_click = pa.evaluate("window.__clickAt") / 1000
                latency = None if t_stop is None else t_stop - t_click
                print(
                    f"{name}: stop latency {latency if latency is None else f'{latency:.2f} s'} "
                    f"(A was at: {' · '.join(step_text.split(' · ')[1:4])})"  # step, rate, time to go (if known)
                )
                checks[f"{name}: A stopped within 1 s"] = latency is not None and latency < 1.0

                t0 = time.time()
                while time.time() - t0 < 120 and not status_of(runs, job_b):
                    time.sleep(0.05)
                started = status_of(runs, job_b)
                print(
                    f"{name}: B's queued job started {time.time() - t_stop if started and t_stop else float('nan'):.2f} s "
                    "after A's stop"
                )
                checks[f"{name}: B's job starts when A's ends"] = bool(started)
                pb.get_by_text("Finished · step").wait_for(state="visible")
                for p in (pa, pb, pc):
                    p.wait_for_timeout(1000)
                checks[f"{name}: no exception on any page"] = all(
                    p.locator('[data-testid="stException"]').count() == 0 for p in (pa, pb, pc)
                )
                pa.screenshot(path=str(tmp / "a.png"))
            browser.close()
        checks["no Traceback in the server log"] = "Traceback" not in log.read_text(errors="replace")
    finally:
        if load is not None:
            load.terminate()
    for what, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {what}")
    print(f"server log and screenshots: {tmp}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
