"""The live page's two targets, measured in a real browser against `streamlit run app.py`:

1. time from pressing Train to the first loss point drawn on the chart (target < 2 s, ResNet-20
   twins on digits);
2. training throughput with the page open and redrawing vs the CLI on the same config
   (target: the page costs at most 5%).

    python bench/bench_live.py [--steps 300] [--depth 20]

Needs Debian's chromium (/usr/bin/chromium) and the `playwright` pip package (test extra).
Prints machine, torch version, threads and seed beside the figures; never run by the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
POINTS_JS = """() => { const p = document.querySelectorAll('.js-plotly-plot');
  if (!p.length || !p[0]._fullData) return 0; return p[0]._fullData.reduce((n, t) => n + (t._length || 0), 0); }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(runs_dir: Path | str, log: Path | None = None) -> Iterator[str]:
    """`streamlit run app.py` on a free port with its own run store; yields its URL once healthy.
    `log`: a file for the server's output (else it is dropped)."""
    port = free_port()
    env = {**os.environ, "RESNET_VIZ_RUNS": str(runs_dir), "PYTHONUNBUFFERED": "1"}
    out = open(log, "w") if log is not None else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(15)
        if log is not None:
            out.close()


def wall_seconds(runs_dir: Path) -> dict[str, float]:
    """Wall time of each stored run (its `seconds` status field), by model label."""
    out = {}
    for status in runs_dir.glob("*/status.json"):
        config = json.loads((status.parent / "config.json").read_text())
        out[config["label"]] = json.loads(status.read_text())["seconds"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import torch
    from playwright.sync_api import sync_playwright

    print(
        f"# {platform.machine()} | torch {torch.__version__.split('+')[0]} | {os.cpu_count()} cores | "
        f"torch threads {torch.get_num_threads()} | seed {args.seed} | digits, width 8, batch 64, both twins"
    )
    tmp = Path(tempfile.mkdtemp())
    server_runs, cli_runs = tmp / "server", tmp / "cli"
    with streamlit_server(server_runs) as url:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)

            def press_and_time_first_point(steps: int) -> float:
                page.goto(f"{url}/live?depth={args.depth}&steps={steps}&seed={args.seed}")
                page.get_by_role("button", name="Train").wait_for()
                page.wait_for_timeout(1500)
                page.get_by_role("button", name="Train").click()
                t_click = time.perf_counter()
                while page.evaluate(POINTS_JS) <= 0:
                    page.wait_for_timeout(20)
                first = time.perf_counter() - t_click
                page.get_by_text("Finished · step").wait_for(state="visible", timeout=600_000)
                return first

            # Cold: the first visitor presses Train 1.5 s after the server's first page load, while
            # the worker process is still importing torch. Warm: any later press.
            cold = press_and_time_first_point(20)
            shutil.rmtree(server_runs, ignore_errors=True)
            warm = press_and_time_first_point(args.steps)
            browser.close()
        page_wall = wall_seconds(server_runs)

    cli = [
        sys.executable,
        "-m",
        "resnet_viz.cli",
        "train",
        "--depth",
        str(args.depth),
        "--steps",
        str(args.steps),
        "--seed",
        str(args.seed),
        "--runs-dir",
        str(cli_runs),
        "--json",
    ]
    subprocess.run(cli, check=True, capture_output=True)
    cli_wall = wall_seconds(cli_runs)

    images = 2 * args.steps * 64  # both twins
    p, c = max(page_wall.values()), max(cli_wall.values())
    print(
        f"first loss point drawn {warm:.2f} s after pressing Train (ResNet-{args.depth} twins; "
        f"{cold:.2f} s for the very first press after the server started)"
    )
    print(f"page open : {images / p:8.0f} images/s ({p:.1f} s for {args.steps} steps of both twins)")
    print(f"CLI       : {images / c:8.0f} images/s ({c:.1f} s)")
    print(f"page cost : {100 * (1 - c / p):+.1f}% of throughput")


if __name__ == "__main__":
    main()
