"""The live page's cost, measured in a real browser against `streamlit run app.py`:

1. time from pressing Train to the first loss point drawn on the chart (target < 2 s, ResNet-20
   twins on digits);
2. CPU used while the run trains with the page open, from each process's own CPU time in /proc:
   the Streamlit server (its own threads, not the worker), the training worker, and Chromium (every
   browser process); targets: server at most 15% of a core, browser at most 35%;
3. training throughput with the page open vs the CLI on the same config and the same number of
   torch threads as the worker (target: at least 85%).

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


SERVER_PIDS: dict[str, int] = {}  # url -> the pid of the `streamlit run` serving it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(runs_dir: Path | str, log: Path | None = None, env: dict[str, str] | None = None) -> Iterator[str]:
    """`streamlit run app.py` on a free port with its own run store; yields its URL once healthy.
    `log`: a file for the server's output (else it is dropped); `env`: more environment."""
    port = free_port()
    env = {**os.environ, **(env or {}), "RESNET_VIZ_RUNS": str(runs_dir), "PYTHONUNBUFFERED": "1"}
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
        SERVER_PIDS[url] = server.pid
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (its own threads, not its children); 0 once
    it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def children(pid: int) -> list[int]:
    """Every live descendant of `pid`."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        out += kids
        todo += kids
    return out


class CpuMeter:
    """CPU seconds of the server (alone), its worker processes and the browser's processes between
    start() and stop(); processes that start or end in between count for the time they lived."""

    def __init__(self, server: int) -> None:
        self.server = server
        self.seen: dict[int, float] = {}  # pid -> CPU seconds at start (0 for a process born later)
        self.last: dict[int, float] = {}

    def groups(self) -> dict[str, list[int]]:
        workers = children(self.server)
        mine = [p for p in children(os.getpid()) if p != self.server and p not in workers]
        browser = [p for p in mine if "chrom" in Path(f"/proc/{p}/comm").read_text(errors="ignore").lower()]
        return {"server": [self.server], "worker": workers, "browser": browser}

    def sample(self) -> None:
        for pids in self.groups().values():
            for p in pids:
                self.seen.setdefault(p, cpu_seconds(p))
                self.last[p] = max(self.last.get(p, 0.0), cpu_seconds(p))

    def start(self) -> None:
        self.seen, self.last = {}, {}
        self.sample()
        self.t0 = time.perf_counter()

    def stop(self) -> dict[str, float]:
        self.sample()
        wall = time.perf_counter() - self.t0
        out = {}
        for name, pids in self.groups().items():
            out[name] = sum(self.last[p] - self.seen[p] for p in pids if p in self.last)
        out["wall"] = wall
        return out


def start_profile(pid: int, out: str) -> subprocess.Popen:
    """py-spy sampling the server's threads (not its worker), 100 times a second, until SIGINT."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--rate", "100", "--format", "raw", "--output", out, "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def top_functions(collapsed: str, n: int = 15) -> list[tuple[float, float, str]]:
    """(share of samples in which a function is on the stack, share where it is the innermost
    frame, function), most inclusive first, from py-spy's collapsed stacks; idle threads waiting
    on a lock, a select or a sleep are left out."""
    idle = ("wait (threading.py", "select (selectors.py", "_run_once (asyncio", "sleep", "poll (", "_wait_for_tstate")
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in Path(collapsed).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not frames or any(i in frames[-1] for i in idle):
            continue
        total += int(count)
        for f in set(frames[1:]):
            inclusive[f] = inclusive.get(f, 0) + int(count)
        own[frames[-1]] = own.get(frames[-1], 0) + int(count)
    ranked = sorted(inclusive.items(), key=lambda kv: -kv[1])[:n]
    return [(c / total, own.get(f, 0) / total, f) for f, c in ranked] if total else []


TRACE_CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8", "blink", "cc", "gpu"]


def trace_top(path: str, n: int = 12) -> list[tuple[float, str]]:
    """(seconds of self time, event name) of the busiest complete events in a Chromium trace, over
    every thread: an event's own duration less that of the events nested directly inside it."""
    import json as _json

    events = _json.loads(Path(path).read_text())
    events = events["traceEvents"] if isinstance(events, dict) else events
    spans: dict[tuple[int, int], list[tuple[float, float, str]]] = {}
    for e in events:
        if e.get("ph") == "X" and "dur" in e:
            spans.setdefault((e.get("pid", 0), e.get("tid", 0)), []).append((e["ts"], e["ts"] + e["dur"], e["name"]))
    own: dict[str, float] = {}
    for thread in spans.values():
        thread.sort(key=lambda s: (s[0], -s[1]))
        stack: list[list] = []  # [start, end, name, time in children]
        for start, end, name in thread:
            while stack and stack[-1][1] <= start:
                done = stack.pop()
                own[done[2]] = own.get(done[2], 0.0) + (done[1] - done[0]) - done[3]
                if stack:
                    stack[-1][3] += done[1] - done[0]
            stack.append([start, end, name, 0.0])
        while stack:
            done = stack.pop()
            own[done[2]] = own.get(done[2], 0.0) + (done[1] - done[0]) - done[3]
            if stack:
                stack[-1][3] += done[1] - done[0]
    return [(us / 1e6, name) for name, us in sorted(own.items(), key=lambda kv: -kv[1])[:n]]


def wall_seconds(runs_dir: Path) -> dict[str, float]:
    """Wall time of each stored run (its `seconds` status field), by model label."""
    out = {}
    for status in runs_dir.glob("*/status.json"):
        config = json.loads((status.parent / "config.json").read_text())
        out[config["label"]] = json.loads(status.read_text())["seconds"]
    return out


# The issue-31 targets for one run (ResNet-20 twins on the digits, the page's default redraws).
TARGETS = {"browser": 0.35, "server": 0.15, "throughput": 0.85}


def cli_seconds(args: argparse.Namespace, threads: int, runs_dir: Path) -> float:
    """Wall time of the same twins trained by the CLI with the worker's torch threads."""
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
        str(runs_dir),
        "--json",
    ]
    env = {**os.environ, "RESNET_VIZ_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    subprocess.run(cli, check=True, capture_output=True, env=env)
    return max(wall_seconds(runs_dir).values())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", type=int, default=1, help="timed runs (each against a CLI run of its own); default 1")
    ap.add_argument(
        "--plotly-chart",
        action="store_true",
        help="draw the live charts with st.plotly_chart, rebuilt at each redraw (RESNET_VIZ_LIVE_PLOT=0): the "
        "page before resnet_viz/ui/live_plot.py",
    )
    ap.add_argument("--busy", action="store_true", help="keep one core busy with another process throughout")
    ap.add_argument(
        "--profile",
        metavar="FILE",
        help="also sample the server with py-spy during the timed run; write its collapsed stacks to FILE "
        "and print the functions that take the most of the server's samples",
    )
    ap.add_argument(
        "--trace",
        metavar="FILE",
        help="also record a Chromium performance trace of the timed run to FILE (open it in chrome://tracing "
        "or Perfetto) and print the browser's busiest trace events",
    )
    args = ap.parse_args()
    import multiprocessing

    import torch
    from playwright.sync_api import sync_playwright

    from resnet_viz.ui import default_job_threads

    threads = default_job_threads()  # what the worker gives these twins (the thread policy)
    print(
        f"# {platform.machine()} | torch {torch.__version__.split('+')[0]} | {os.cpu_count()} cores | "
        f"worker and CLI torch threads {threads} | seed {args.seed} | digits, width 8, batch 64, both twins, "
        f"ResNet-{args.depth}, {args.steps} steps | live charts: "
        f"{'st.plotly_chart (rebuilt per redraw)' if args.plotly_chart else 'ui/live_plot (redrawn in place)'}"
        f"{' | one core kept busy by another process' if args.busy else ''}"
    )
    busy = None
    if args.busy:
        busy = multiprocessing.Process(target=_burn, daemon=True)
        busy.start()
    tmp = Path(tempfile.mkdtemp())
    server_runs = tmp / "server"
    env = {"RESNET_VIZ_LIVE_PLOT": "0"} if args.plotly_chart else {}
    results = []
    try:
        with streamlit_server(server_runs, env=env) as url:
            meter = CpuMeter(SERVER_PIDS[url])
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(120_000)

                def press_and_time_first_point(steps: int, timed: bool) -> float:
                    page.goto(f"{url}/live?depth={args.depth}&steps={steps}&seed={args.seed}")
                    page.get_by_role("button", name="Train").wait_for()
                    page.wait_for_timeout(1500)
                    meter.start()
                    spy = start_profile(SERVER_PIDS[url], args.profile) if args.profile and timed else None
                    tracing = bool(args.trace) and timed
                    if tracing:
                        browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
                    page.get_by_role("button", name="Train").click()
                    t_click = time.perf_counter()
                    while page.evaluate(POINTS_JS) <= 0:
                        page.wait_for_timeout(20)
                    first = time.perf_counter() - t_click
                    page.get_by_text("Finished · step").wait_for(state="visible", timeout=600_000)
                    if spy is not None:
                        spy.send_signal(2)  # SIGINT: py-spy writes what it sampled and exits
                        spy.wait(60)
                    if tracing:
                        Path(args.trace).write_bytes(browser.stop_tracing())
                    return first

                # Cold: the first visitor presses Train 1.5 s after the server's first page load, while
                # the worker process is still importing torch. Warm: any later press.
                cold = press_and_time_first_point(20, timed=False)
                for i in range(args.runs):
                    shutil.rmtree(server_runs, ignore_errors=True)
                    warm = press_and_time_first_point(args.steps, timed=i == args.runs - 1)
                    cpu = meter.stop()
                    page_wall = max(wall_seconds(server_runs).values())
                    cli_wall = cli_seconds(args, threads, tmp / f"cli-{i}")
                    results.append((warm, cpu, page_wall, cli_wall))
                    report(args, i, cold, warm, cpu, page_wall, cli_wall)
                browser.close()
    finally:
        if busy is not None:
            busy.terminate()
    if args.runs > 1:
        met = [
            r[1]["browser"] / r[1]["wall"] <= TARGETS["browser"]
            and r[1]["server"] / r[1]["wall"] <= TARGETS["server"]
            and r[3] / r[2] >= TARGETS["throughput"]
            for r in results
        ]
        print(
            f"{sum(met)} of {len(met)} runs met every target (browser <= {TARGETS['browser']:.0%} of a core, server <= "
            f"{TARGETS['server']:.0%}, throughput >= {TARGETS['throughput']:.0%} of the CLI's); browser "
            + ", ".join(f"{100 * r[1]['browser'] / r[1]['wall']:.0f}%" for r in results)
            + "; server "
            + ", ".join(f"{100 * r[1]['server'] / r[1]['wall']:.0f}%" for r in results)
            + "; throughput "
            + ", ".join(f"{100 * r[3] / r[2]:.0f}%" for r in results)
        )
    if args.trace:
        print("browser trace (self seconds over every thread of the timed run):")
        for seconds, name in trace_top(args.trace):
            print(f"  {seconds:6.2f} s  {name}")
    if args.profile:
        print("server profile (busy samples; on the stack / innermost):")
        for incl, own, name in top_functions(args.profile):
            print(f"  {100 * incl:5.1f}% {100 * own:5.1f}%  {name}")


def _burn() -> None:  # one busy core, as another user's process would be
    while True:
        pass


def report(
    args: argparse.Namespace, i: int, cold: float, warm: float, cpu: dict[str, float], page: float, cli: float
) -> None:
    images = 2 * args.steps * 64  # both twins
    run = f"run {i + 1}: " if args.runs > 1 else ""
    print(
        f"{run}first loss point drawn {warm:.2f} s after pressing Train (ResNet-{args.depth} twins; "
        f"{cold:.2f} s for the very first press after the server started)"
    )
    wall = cpu["wall"]
    print(
        f"{run}CPU from Train to Finished ({wall:.1f} s): server {cpu['server']:.1f} s ({100 * cpu['server'] / wall:.0f}% "
        f"of a core), browser {cpu['browser']:.1f} s ({100 * cpu['browser'] / wall:.0f}%), worker {cpu['worker']:.1f} s "
        f"({100 * cpu['worker'] / wall:.0f}%)"
    )
    print(f"{run}page open : {images / page:8.0f} images/s ({page:.1f} s for {args.steps} steps of both twins)")
    print(f"{run}CLI       : {images / cli:8.0f} images/s ({cli:.1f} s)")
    print(f"{run}page / CLI: {100 * cli / page:.0f}% of the CLI's throughput")


if __name__ == "__main__":
    main()
