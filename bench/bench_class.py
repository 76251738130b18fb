"""A class on one server, measured two ways.

``--scenario class`` (the default): `--sessions` N (30) students on one `streamlit run app.py` in
teacher mode (RESNET_VIZ_TEACHER_KEY set, RESNET_VIZ_MAX_JOBS=2), most of them protocol-level
clients (bench/st_client.py: Streamlit's own websocket protocol, spoken as the browser does, fragment
timers included), `--browsers` K (2) of them real Chromium pages. Before the server starts the
store holds an assignment (classroom.parts of `--dataset` at `--depths`, plain then residual), so
each browser that opens Train & compare is given the next part, filled in; `?steps=` shortens it.

1. A lone watcher first: one page presses Train, nobody else on the server, `--lone-seconds`;
   then Stop. Its progress redraws a second are the yardstick.
2. `--trainers` (10) sessions open /live one after another (parts go in order of arrival) and
   press Train within a few seconds; the other N - 10 open `/live?job=<id>` of those jobs, spread
   over them in press order; the teacher opens /teacher with the signed cookie. A Chromium page is a
   student's browser that opened the lab's home page before (the lesson began there: Streamlit's own
   files, served immutable, are in its cache; that first visit is timed and printed);
   `--cold-browsers`: they open their links as a first visit instead.
3. Once two jobs train, `--seconds` of measurement: the server's own CPU (utime + stime of the
   streamlit process from /proc, not its training workers) as % of a core, its RSS.
4. The trainer of the newest running job presses Stop: the time to its status.json saying
   "stopped". Then the queue trains to its end (`--deadline` s at most).

Printed: each session's time to its first chart with data (from its press, its page opening, or its
job's start if later, to the chart reaching the page: the server's part, the same for a protocol client
and a Chromium page, whose websocket is tapped; a Chromium page's first loss point drawn is printed
beside it, since its rendering shares these 2 cores with the server and the workers, which a student's
laptop does not), its redraws a second while its
job trained and the ratio to the lone watcher's, ForwardMsgs and deltas received; each job's wait
in the queue and the start order; the teacher's first jobs table. PASS/FAIL (exit 1 on a FAIL):
server <= 50% of a core in the phase; every first chart within 2 s; every watcher >= 80% of the
lone watcher's redraws; FIFO start order, one job per browser; stop < 1 s; the parts trained in
order (each job's config.json against the class record's `given`); every job finished, stopped or
failed with a sentence; every stored run complete and readable (RunStore.scan: nothing damaged,
every status an end state); no exception element in any session; no "Traceback" in the server log.
31 connections in all (30 students and the teacher), plus the lone watcher's before them.

``--scenario three``: three browsers at once while another process keeps one core busy. Browser A
trains (and presses Stop), browser B's press waits in the queue behind it, browser C watches A's
run by its link. Measured, against `streamlit run app.py` in a real Chromium:

- Stop latency: from the Python call that clicks Stop to the run store's status.json saying
  "stopped" (the click's round trip included), for a small job and for one whose steps take
  seconds (depth 110);
- the wait from A's stop to B's queued job starting;
- what must hold (printed as PASS/FAIL, exit status 1 on a FAIL): no exception box on any page,
  no "Traceback" in the server log, C cannot stop A's run, B waited and then trained.

    python bench/bench_class.py [--sessions 30] [--browsers 2] [--steps 200] [--seconds 30]
    python bench/bench_class.py --scenario three [--no-load]

Needs Debian's chromium (/usr/bin/chromium) and the `playwright` pip package (test extra).
Prints machine, torch version, threads and seed beside the figures; never run by the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import multiprocessing
import os
import platform
import re
import secrets
import signal
import statistics
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_live import ARGS, POINTS_JS, SERVER_PIDS, CpuMeter, children, cpu_seconds, streamlit_server
from st_client import Session, StClient

OWNER_COOKIE = "resnet_lab_owner"  # resnet_viz.ui.session.OWNER_COOKIE (not imported: it loads the whole ui)

# The three-browser scenario. A: one job per scenario, long enough to be stopped mid-run; B: a
# small job that must wait.
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


def three(args: argparse.Namespace) -> int:
    """The three-browser scenario (A trains and stops, B waits, C watches), twice."""
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


# -- the class: --sessions N on one server ---------------------------------------------------------

ENDED = ("finished", "stopped", "failed", "diverged")


def iso_time(text: str) -> float:
    """time.time() seconds of a stored ISO timestamp (UTC when it names no zone)."""
    t = datetime.fromisoformat(text)
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()


@dataclass
class JobTimes:
    start: float  # when its first run folder was created: the job left the queue
    end: float | None  # when its last run's status.json left "running" (None: still running)
    statuses: list[str]  # of its runs
    messages: list[str]  # non-empty status messages (why a run failed or was stopped)
    configs: list[dict]  # each run's config.json


def job_times(runs: Path) -> dict[str, JobTimes]:
    """Every job (the run folders' "group") in the store, from its folders."""
    by_job: dict[str, list[tuple[dict, dict]]] = {}
    for f in runs.glob("*/status.json"):
        try:
            cfg = json.loads((f.parent / "config.json").read_text())
            status = json.loads(f.read_text())
        except (OSError, ValueError):  # being replaced this instant: read again next time
            continue
        if cfg.get("group"):
            by_job.setdefault(cfg["group"], []).append((cfg, status))
    out = {}
    for job, pairs in by_job.items():
        statuses = [st["status"] for _, st in pairs]
        done = all(s in ENDED for s in statuses)
        out[job] = JobTimes(
            start=min(iso_time(c["created"]) for c, _ in pairs),
            end=max(iso_time(st["updated"]) for _, st in pairs) if done else None,
            statuses=statuses,
            messages=[st["message"] for _, st in pairs if st.get("message")],
            configs=[c for c, _ in pairs],
        )
    return out


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def machine_busy() -> float:
    """CPU seconds every core of the machine has been busy so far (/proc/stat, all processes)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    t: float  # time.time()
    server: float  # CPU seconds so far: the streamlit process's own threads
    workers: float  # its training workers (those alive now)
    bench: float  # this process (the protocol clients) and its Chromium
    machine: float  # every process on the machine
    lag: float  # how late this sample's sleep woke: this bench's event loop was that busy


def bench_cpu(server: int, workers: list[int] | None = None) -> float:
    """CPU seconds so far of this process and what it started (Playwright's driver, Chromium), less
    the server and its workers."""
    workers = children(server) if workers is None else workers
    mine = [os.getpid(), *(p for p in children(os.getpid()) if p != server and p not in workers)]
    return sum(cpu_seconds(p) for p in mine)


async def sample_forever(server: int, out: list[Sample], every: float = 0.5) -> None:
    """The CPU of the server, its workers, this bench and the whole machine every `every` s, so a
    stall in the pages' redraws can be told apart: a busy server, a machine busy with others, or a
    late bench."""
    due = time.monotonic()
    while True:
        lag = max(0.0, time.monotonic() - due)
        workers = children(server)
        out.append(
            Sample(
                time.time(),
                cpu_seconds(server),
                sum(cpu_seconds(p) for p in workers),
                bench_cpu(server, workers),
                machine_busy(),
                lag,
            )
        )
        due = time.monotonic() + every
        await asyncio.sleep(every)


def stalls(seats: list[Seat], samples: list[Sample], times: dict[str, JobTimes], gap: float = 3.0) -> list[str]:
    """Every stretch over `gap` s while a job trained in which no session got a progress redraw, with
    what the CPU did meanwhile (cores busy: server / workers / this bench / the rest of the machine)."""
    got = sorted(t for s in seats for t, text in s.session.stats.redraws if text.startswith("Running"))
    out = []
    for a, b in itertools.pairwise(got):
        if b - a <= gap or not any(j.start <= a and (j.end is None or b <= j.end) for j in times.values()):
            continue
        inside = [x for x in samples if a <= x.t <= b]
        if len(inside) < 2:
            out.append(f"{b - a:.1f} s from {a:%H:%M:%S}: no CPU sample inside")
            continue
        first, last, dt = inside[0], inside[-1], inside[-1].t - inside[0].t
        parts = [
            (last.server - first.server) / dt,
            max(0.0, (last.workers - first.workers) / dt),
            (last.bench - first.bench) / dt,
        ]
        rest = max(0.0, (last.machine - first.machine) / dt - sum(parts))
        out.append(
            f"{b - a:.1f} s without a redraw from {datetime.fromtimestamp(a):%H:%M:%S}: cores busy server "
            f"{parts[0]:.2f}, workers {parts[1]:.2f}, this bench {parts[2]:.2f}, other processes {rest:.2f}; "
            f"this bench's loop at most {max(x.lag for x in inside):.2f} s late"
        )
    return out


def job_in(query: str) -> str | None:
    return (urllib.parse.parse_qs(query).get("job") or [None])[0]


@dataclass
class Seat:
    """One session of the class: a protocol client, or a real Chromium page whose websocket is tapped."""

    name: str  # "trainer 3", "watcher 12", "teacher", "lone"
    role: str  # trainer / watcher / teacher / lone
    token: str  # its resnet_lab_owner cookie: a browser of its own
    session: Session  # StClient, or the tap of a Chromium page
    page: object = None  # the Playwright page of a Chromium seat
    job: str | None = None  # the job it pressed or watches
    drawn_at: float | None = None  # a Chromium seat: first loss point drawn (POINTS_JS)
    first_visit: float | None = None  # a Chromium seat: its first page (the lab's home) to its heading, cold
    drawing: asyncio.Task | None = None
    first_run_at: float | None = None  # its page first drawn (first script_finished)
    train_at: float | None = None  # when it pressed Train
    closed_at: float | None = None

    @property
    def browser(self) -> bool:
        return self.page is not None

    @property
    def owner(self) -> str:
        return hashlib.sha256(self.token.encode()).hexdigest()[:16]

    def first_data(self) -> float | None:
        """When the first chart with data reached the page: what the server answers for, the same
        for a protocol client and a Chromium page (whose drawing, on these cores, is printed beside)."""
        return self.session.stats.first_data_at


async def first_run(seat: Seat, timeout: float = 120.0) -> None:
    await seat.session.wait_for(lambda s: s.stats.runs_finished.get("FINISHED_SUCCESSFULLY"), timeout)
    seat.first_run_at = seat.first_run_at or time.time()


async def student_page(browser, url: str, warm: bool) -> tuple[object, float | None]:
    """A Chromium page of its own (a fresh context: no cache) for one student; `warm`: it has
    opened the lab's home page, as a student's browser has since the lesson began (Streamlit's own
    files, served immutable, are then in its cache). (page, seconds that first visit took to its
    heading, None if not warm)."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(120_000)
    if not warm:
        return page, None
    t = time.time()
    await page.goto(f"{url}/")
    await page.get_by_test_id("stHeading").first.wait_for(state="attached")
    return page, time.time() - t


async def open_seat(
    url: str,
    name: str,
    role: str,
    path: str,
    query: str,
    *,
    student: tuple[object, float | None] | None = None,
    cookies: dict | None = None,
) -> Seat:
    """A session opening `path?query`: a protocol client, or the Chromium page of `student` (what
    student_page returned)."""
    token = secrets.token_urlsafe(24)
    cookies = {OWNER_COOKIE: token, **(cookies or {})}
    if student is None:
        client = StClient(url, path, query, cookies=cookies, name=name)
        seat = Seat(name, role, token, client)
        await client.open()
    else:
        page, visited = student
        await page.context.add_cookies([{"name": k, "value": v, "url": url} for k, v in cookies.items()])
        tap = Session(name)
        page.on("websocket", tap.tap)  # only the socket of the page below
        seat = Seat(name, role, token, tap, page=page, first_visit=visited)
        tap.stats.opened_at = time.time()
        await page.goto(f"{url}{path}?{query}")
        if role != "trainer":  # a trainer's page may open on the reference's curves: drawn counts after its press
            seat.drawing = asyncio.create_task(watch_drawing(seat))
    await first_run(seat)
    return seat


async def watch_drawing(seat: Seat, after: float | None = None) -> None:
    """A Chromium seat: when its loss chart first draws a point (`after` a press: a point of the
    new job, once the page has let go of what it drew before)."""
    from playwright.async_api import Error as PlaywrightError

    if after is not None:  # the press's rerun redraws the charts empty first
        await seat.session.wait_for(lambda s: s.progress_text() or "Queued" in " ".join(s.alerts()), 60)
    while seat.drawn_at is None:
        try:
            if await seat.page.evaluate(POINTS_JS) > 0:
                seat.drawn_at = time.time()
                return
        except PlaywrightError:  # the page is navigating or closing: ask again
            await asyncio.sleep(0.1)
            continue
        await asyncio.sleep(0.1)


async def press(seat: Seat, label: str, timeout: float = 30.0) -> float:
    """Press `label` on the seat's page once it is there and enabled; the time of the press (a
    Chromium page: of its click event)."""
    if not seat.browser:
        await seat.session.press(label, timeout, fresh=label == "Train")
        if label == "Train":
            seat.train_at = seat.session.stats.pressed_at
        return seat.session.stats.pressed_at
    page = seat.page
    await page.evaluate("document.addEventListener('click', () => { window.__clickAt = Date.now(); }, true)")
    await page.get_by_role("button", name=label).click(timeout=1000 * timeout)
    stats = seat.session.stats
    stats.pressed_at = await page.evaluate("window.__clickAt") / 1000
    if label == "Train":
        seat.train_at, stats.first_data_at = stats.pressed_at, None
        if seat.drawing is not None:
            seat.drawing.cancel()
        seat.drawn_at = None
        seat.drawing = asyncio.create_task(watch_drawing(seat, after=stats.pressed_at))
    return stats.pressed_at


async def job_id_of(seat: Seat, timeout: float = 60.0) -> str:
    def pressed(s: Session):
        if s.stats.errors or s.alerts() and any("already have a run" in a for a in s.alerts()):
            raise SystemExit(f"{seat.name}: the press was not queued; the page says: {s.alerts()} {s.stats.errors}")
        return job_in(s.query_string)

    seat.job = await seat.session.wait_for(pressed, timeout)
    return seat.job


async def close_seat(seat: Seat) -> None:
    seat.closed_at = time.time()
    if seat.drawing is not None:
        seat.drawing.cancel()
    if seat.browser:
        await seat.page.context.close()
    else:
        await seat.session.close()


def rate_window(seat: Seat, job: JobTimes | None, now: float) -> float:
    """Seconds during which the seat's job trained and its page was up (0 if never)."""
    if job is None or seat.first_run_at is None:
        return 0.0
    return max(0.0, min(job.end or now, seat.closed_at or now) - max(job.start, seat.first_run_at))


def update_rate(seat: Seat, job: JobTimes | None, now: float) -> float | None:
    """Progress redraws ("Running · step ...") a second the seat received while its job trained and
    its page was up; None for less than 5 s of that."""
    window = rate_window(seat, job, now)
    if window < 5.0:
        return None
    lo = max(job.start, seat.first_run_at)
    n = sum(1 for t, text in seat.session.stats.redraws if lo <= t <= lo + window and text.startswith("Running"))
    return n / window


def left_queue(seat: Seat) -> float | None:
    """When the seat's page first showed its job running after its press."""
    pressed = seat.train_at or 0.0
    return next((t for t, text in seat.session.stats.redraws if t >= pressed and text.startswith("Running")), None)


def first_chart(seat: Seat, job: JobTimes | None) -> float | None:
    """Seconds from when the seat could first see data (its press or its page opening, or its job's
    start if later) to its first chart with data points; None if it never got one."""
    got = seat.first_data()
    if got is None or job is None:
        return None
    return got - max(seat.train_at or seat.session.stats.opened_at, job.start)


def fmt_s(x: float | None) -> str:
    return "never" if x is None else f"{x:.2f} s"


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


async def lone_watcher(url: str, runs: Path, query: str, seconds: float) -> tuple[float | None, float | None, Seat]:
    """One job, one watcher (the page that pressed Train, nobody else on the server) for `seconds`
    while it trains, then Stop: (redraws a second, first chart s, the seat)."""
    seat = await open_seat(url, "lone", "lone", "/live", query)  # a long job: it is stopped
    await press(seat, "Train")
    job = await job_id_of(seat)
    t0 = time.time()
    while job not in job_times(runs) and time.time() - t0 < 120:  # training began (not only the worker's start-up)
        await asyncio.sleep(0.2)
    await asyncio.sleep(seconds)
    await press(seat, "Stop")
    await asyncio.to_thread(stopped_at, runs, job)
    await asyncio.sleep(1.0)
    times = job_times(runs).get(job)
    await close_seat(seat)
    return update_rate(seat, times, time.time()), first_chart(seat, times), seat


async def class_scenario(args: argparse.Namespace) -> int:
    import torch
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright

    from resnet_viz.engine import classroom
    from resnet_viz.engine.runs import RunStore
    from resnet_viz.ui import default_job_threads

    n_train = min(args.trainers, args.sessions)
    n_watch = args.sessions - n_train
    parts = classroom.parts(args.dataset, [int(d) for d in args.depths.split(",")], ("plain", "residual"))
    query = f"steps={args.steps}"
    print(
        f"# {platform.machine()} | {os.cpu_count()} cores | Python {platform.python_version()} | torch "
        f"{torch.__version__.split('+')[0]} | worker torch threads: the thread policy ({default_job_threads()} for "
        f"the live page's default twins) | seeds: the assignment's (round 0: seed 0) | RESNET_VIZ_MAX_JOBS=2"
    )
    print(
        f"# class: {n_train} trainers + {n_watch} watchers ({args.browsers} of them real Chromium pages, the rest "
        f"protocol clients) + the teacher on /teacher; assignment {', '.join(p.name for p in parts)} on "
        f"{args.dataset}, {args.steps} steps each (?{query}); lone watcher {args.lone_seconds:.0f} s, "
        f"measured phase {args.seconds:.0f} s"
    )
    key = secrets.token_urlsafe(18)  # 24 characters
    tmp = Path(tempfile.mkdtemp(prefix="bench-class-"))
    runs, log = tmp / "runs", tmp / "server.log"
    classroom.Classroom(runs).set_assignment(parts)  # read by the server from its store when it starts
    env = {
        classroom.TEACHER_ENV: key,
        "RESNET_VIZ_MAX_JOBS": "2",
        "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none",  # an edit elsewhere in the checkout must not reload modules
    }
    checks: dict[str, bool] = {}
    seats: list[Seat] = []
    t_begin = time.time()
    with streamlit_server(runs, log=log, env=env) as url:
        server = SERVER_PIDS[url]
        samples: list[Sample] = []
        sampler = asyncio.create_task(sample_forever(server, samples))
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(sampler.cancel)
            pw = await stack.enter_async_context(async_playwright())
            chromium = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)

            # 1. The lone watcher: what one page gets when it has the server to itself.
            lone_rate, lone_first, lone = await lone_watcher(url, runs, "steps=5000", args.lone_seconds)
            print(
                f"lone watcher: {lone_rate or float('nan'):.2f} redraws/s while its job trained "
                f"(first chart {lone_first if lone_first is None else f'{lone_first:.2f} s'} after the press; the server's "
                f"first job, on the worker it warmed at the first page)"
            )

            # 2. The class. Browsers take every other trainer / watcher seat from the first.
            in_browser = {("trainer", i) for i in range(0, n_train, 2)[: (args.browsers + 1) // 2]}
            in_browser |= {("watcher", i) for i in range(0, n_watch, 2)[: args.browsers // 2]}
            students = {}  # the Chromium students' pages, opened on the lab before the class begins
            for seat_key in sorted(in_browser):
                students[seat_key] = await student_page(chromium, url, warm=not args.cold_browsers)
            trainers = []
            for i in range(n_train):  # one after another: the assignment gives parts in order of arrival
                b = students.get(("trainer", i))
                trainers.append(await open_seat(url, f"trainer {i}", "trainer", "/live", query, student=b))
            seats += trainers
            presses = {}
            for seat in trainers:  # every press within a few seconds
                presses[seat.name] = await press(seat, "Train")
                await asyncio.sleep(args.press_gap)
            for seat in trainers:
                await job_id_of(seat)
            press_order = [s.job for s in sorted(trainers, key=lambda s: presses[s.name])]
            t_pressed = time.time()
            teacher = await open_seat(
                url,
                "teacher",
                "teacher",
                "/teacher",
                "",
                cookies={classroom.TEACHER_COOKIE: classroom.sign_teacher(key)},
            )
            seats.append(teacher)
            opening = []
            for i in range(n_watch):  # spread over the jobs, in press order
                b = students.get(("watcher", i))
                job = press_order[i % len(press_order)]
                opening.append(open_seat(url, f"watcher {i}", "watcher", "/live", f"job={job}", student=b))
                await asyncio.sleep(0.1)
            watchers = list(await asyncio.gather(*opening))
            for seat, i in zip(watchers, range(n_watch)):
                seat.job = press_order[i % len(press_order)]
            seats += watchers
            print(
                f"class open: {len(seats)} sessions {time.time() - t_begin:.0f} s after the server started; "
                f"{n_train} presses in {max(presses.values()) - min(presses.values()):.1f} s; the watchers opened "
                f"{time.time() - t_pressed:.1f} s after"
            )

            # 3. The measured phase: two jobs train, every watcher connected.
            t0 = time.time()
            while sum(1 for j in job_times(runs).values() if j.end is None) < 2 and time.time() - t0 < 60:
                await asyncio.sleep(0.2)
            meter = CpuMeter(server)
            meter.start()
            busy0, all0, own0 = machine_busy(), bench_cpu(server), cpu_seconds(os.getpid())
            rss, two = [], []
            t_phase = time.time()
            while time.time() - t_phase < args.seconds:
                rss.append(rss_mib(server))
                two.append(sum(1 for j in job_times(runs).values() if j.end is None) >= 2)
                await asyncio.sleep(0.5)
            cpu = meter.stop()
            own = cpu_seconds(os.getpid()) - own0
            others = machine_busy() - busy0 - cpu["server"] - cpu["worker"] - (bench_cpu(server) - all0)

            # 4. Stop under load: the trainer of the job that started last of those training.
            times = job_times(runs)
            running = [s for s in trainers if times.get(s.job) and times[s.job].end is None]
            stop_latency = stopper = None
            if not running:
                print("stop under load: no job was training any more after the phase (make --steps larger)")
            else:
                # The newest job whose page already shows it stepping (not one that began this instant).
                stepping = [s for s in running if re.match(r"Running · step [1-9]", s.session.progress_text())]
                stopper = max(stepping or running, key=lambda s: times[s.job].start)
                t_click = await press(stopper, "Stop")
                t_stop = await asyncio.to_thread(stopped_at, runs, stopper.job)
                stop_latency = None if t_stop is None else t_stop - t_click

            # 5. The rest of the queue trains to its end (or the deadline: then the late ones press Stop).
            deadline = time.time() + args.deadline
            mine = {s.job for s in trainers}
            while time.time() < deadline:
                times = job_times(runs)
                if all(j in times and times[j].end is not None for j in mine):
                    break
                await asyncio.sleep(0.5)
            if time.time() >= deadline:  # said, not a target: the stopped jobs still count as ended
                times = job_times(runs)
                late = [s for s in trainers if s.job not in times or times[s.job].end is None]
                print(
                    f"the queue had not ended {args.deadline:.0f} s after the stop: "
                    f"{', '.join(s.name for s in late)} press Stop"
                )
                for seat in late:
                    with contextlib.suppress(TimeoutError, PlaywrightError):
                        await press(seat, "Stop", timeout=5.0)
                await asyncio.sleep(5)
            await asyncio.sleep(2.5)  # the pages' last redraws and the full rerun at a job's end
            now = time.time()
            for seat in seats:
                if seat.browser:
                    shown = await seat.page.locator('[data-testid="stException"]').all_inner_texts()
                    seat.session.stats.exceptions += [f"(in the page) {t}" for t in shown]
            for seat in seats:
                await close_seat(seat)
            await chromium.close()
        rss_end = rss_mib(server)
        given = json.loads((runs / classroom.CLASS_DIR / classroom.CLASS_FILE).read_text())["assignment"]["given"]
    t_total = time.time() - t_begin
    times = job_times(runs)

    # -- figures ---------------------------------------------------------------------------------
    wall = cpu["wall"]
    print(
        f"server during the phase ({wall:.0f} s, two jobs training in {100 * sum(two) / max(1, len(two)):.0f}% of "
        f"its samples): {100 * cpu['server'] / wall:.0f}% of a core (its own threads, not the workers); "
        f"RSS {max(rss):.0f} MiB (max), {rss_end:.0f} MiB at the end; workers {100 * cpu['worker'] / wall:.0f}%, "
        f"Chromium {100 * cpu['browser'] / wall:.0f}%, this bench's clients {100 * own / wall:.0f}%, other processes "
        f"on the machine {100 * max(0.0, others) / wall:.0f}% of a core"
    )
    for line in stalls([lone, *seats], samples, times):
        print(f"stall: {line}")
    print(
        f"{'session':<11} {'kind':<8} {'job':<12} {'first chart':>11} {'redraws/s':>9} {'over':>5} {'vs lone':>7} "
        f"{'msgs':>6} {'deltas':>6} {'charts':>6}  notes"
    )
    firsts, ratios, trainer_ratios = {}, {}, {}
    for seat in seats:
        st = seat.session.stats
        job = times.get(seat.job) if seat.job else None
        rate = update_rate(seat, job, now)
        first = first_chart(seat, job) if seat.role != "teacher" else None
        if seat.role != "teacher" and first is not None:
            firsts[seat.name] = first
        ratio = rate / lone_rate if rate is not None and lone_rate else None
        if ratio is not None:
            (ratios if seat.role == "watcher" else trainer_ratios)[seat.name] = ratio
        notes = []
        if seat.browser:
            drawn = (
                "never"
                if not (seat.drawn_at and st.first_data_at)
                else f"{seat.drawn_at - st.first_data_at:.2f} s later"
            )
            visit = (
                "cold, no earlier visit" if seat.first_visit is None else f"its first visit {seat.first_visit:.2f} s"
            )
            notes.append(f"drawn {drawn} ({visit})")
        if seat is stopper:
            notes.append("pressed Stop")
        notes = "; ".join(notes + st.exceptions + st.errors + [f"page not found: {p}" for p in st.page_not_found])
        print(
            f"{seat.name:<11} {'chromium' if seat.browser else 'client':<8} {seat.job or '-':<12} "
            f"{'-' if first is None else f'{first:.2f} s':>11} {'-' if rate is None else f'{rate:.2f}':>9} "
            f"{rate_window(seat, job, now):>4.0f}s "
            f"{'-' if ratio is None else f'{100 * ratio:.0f}%':>7} {st.forward_msgs:>6} {st.deltas:>6} "
            f"{st.chart_updates:>6}  {notes[:200]}"
        )
    table = teacher.session.stats.first_seen.get("dataframe")
    print(
        f"teacher: its jobs table {'never came' if table is None else f'came {table - teacher.session.stats.opened_at:.2f} s after it opened'}; "
        f"{teacher.session.stats.deltas} deltas, {teacher.session.stats.fragment_reruns_sent} timed fragment reruns"
    )
    no_chart = [s.name for s in seats if s.role in ("trainer", "watcher") and s.name not in firsts]
    for seat in (s for s in seats if s.browser):
        job = times.get(seat.job)
        drawn = (
            None
            if not (seat.drawn_at and job)
            else seat.drawn_at - max(seat.train_at or seat.session.stats.opened_at, job.start)
        )
        print(
            f"{seat.name} (Chromium, {'cold' if seat.first_visit is None else 'the lab opened before'}): first chart "
            f"reached the page {fmt_s(first_chart(seat, job))}, drawn {fmt_s(drawn)} (its own rendering, on the "
            f"server's cores)"
            + (
                ""
                if seat.first_visit is None
                else f"; its first visit to the lab, cold: heading {seat.first_visit:.2f} s"
            )
        )
    print(
        f"first chart with data: median {median(list(firsts.values())):.2f} s, max "
        f"{max(firsts.values(), default=float('nan')):.2f} s over {len(firsts)} sessions"
        + (f"; none for {', '.join(no_chart)}" if no_chart else "")
    )
    print(
        f"watchers' redraws vs the lone watcher's: min {100 * min(ratios.values(), default=float('nan')):.0f}%, "
        f"median {100 * median(list(ratios.values())):.0f}% ({len(ratios)} watchers); trainers' own pages: min "
        f"{100 * min(trainer_ratios.values(), default=float('nan')):.0f}%, median "
        f"{100 * median(list(trainer_ratios.values())):.0f}%"
    )
    started = sorted((j for j in mine if j in times), key=lambda j: times[j].start)
    by_job = {s.job: s for s in trainers}
    # The page's first "Running" line (or, sooner, its run folder): the queue let the job go.
    left = {
        s.job: min((t for t in (left_queue(s), times[s.job].start if s.job in times else None) if t), default=None)
        for s in trainers
    }
    print("queue, in press order (left: the page's first Running line; trained: its run folder was made):")
    for j in press_order:
        pressed = presses[by_job[j].name]
        gone = "never" if left[j] is None else f"{left[j] - pressed:.1f} s"
        trained = f"{times[j].start - pressed:.1f} s" if j in times else "never"
        print(f"  {by_job[j].name} ({j}): left the queue after {gone}, training began after {trained}")
    # A page sees the queue let its job go at its next redraw (REDRAW_SECONDS, 1 s): two jobs let go
    # within that of each other may show in either order.
    gone_order = [j for j in press_order if left[j] is not None]
    fifo_left = len(gone_order) == n_train and all(left[a] <= left[b] + 1.5 for a, b in itertools.pairwise(gone_order))
    print(f"training began in press order: {started == press_order}")
    print(f"stop latency under load: {'n/a' if stop_latency is None else f'{stop_latency:.2f} s'}")
    n_parts = len(parts)
    part_problems = []
    for seat in trainers:
        n = given.get(seat.owner)
        if n is None:
            part_problems.append(f"{seat.name} got no part")
            continue
        part, seed = parts[n % n_parts], n // n_parts
        cfgs = times[seat.job].configs if seat.job in times else []
        ok = len(cfgs) == 1 and all(
            c["data"]["name"] == part.dataset
            and c["model"]["depth"] == part.depth
            and c["model"]["residual"] == (part.kind == "residual")
            and c["train"]["seed"] == seed
            for c in cfgs
        )
        if not ok:
            part_problems.append(
                f"{seat.name} was given {part.name} (seed {seed}) but trained {[c.get('label') for c in cfgs]}"
            )
    order = [given.get(s.owner) for s in trainers]
    print(f"assignment: parts given to the trainers in their order of arrival: {order}")
    for p in part_problems:
        print(f"  {p}")
    ended = {j: times[j] for j in mine if j in times}
    unexplained = [j for j, t in ended.items() if any(s == "failed" for s in t.statuses) and not t.messages]
    for j, t in ended.items():
        if any(s != "finished" for s in t.statuses):
            print(f"  job {j} ({by_job[j].name}): {', '.join(t.statuses)}; {' / '.join(t.messages) or 'no message'}")
    dump = {
        s.name: {
            "job": s.job,
            "browser": s.browser,
            "first_run_at": s.first_run_at,
            "train_at": s.train_at,
            "drawn_at": s.drawn_at,
            "closed_at": s.closed_at,
            **{k: v for k, v in vars(s.session.stats).items() if k != "chart_times"},
        }
        for s in [lone, *seats]
    }
    dump["_jobs"] = {j: {"start": t.start, "end": t.end, "statuses": t.statuses} for j, t in times.items()}
    (tmp / "sessions.json").write_text(json.dumps(dump, indent=1))
    infos, damaged = RunStore(runs).scan()
    log_text = log.read_text(errors="replace")
    print(f"total {t_total:.0f} s; server log, store: {tmp}")

    # -- targets ---------------------------------------------------------------------------------
    checks[f"server at most 50% of a core while 2 jobs train with {len(seats)} sessions"] = cpu["server"] / wall <= 0.50
    checks["first chart within 2 s for every session"] = not no_chart and max(firsts.values(), default=9e9) <= 2.0
    checks["every watcher gets at least 80% of the lone watcher's redraws"] = (
        bool(ratios) and min(ratios.values()) >= 0.80
    )
    checks["jobs left the queue in press order (FIFO), one job per browser"] = (
        fifo_left and len(set(press_order)) == n_train
    )
    checks["jobs began training in press order"] = started == press_order
    checks["stop within 1 s under load"] = stop_latency is not None and stop_latency < 1.0
    checks["the trainers trained the assignment's parts in order"] = not part_problems and order == sorted(order)
    checks["every job finished, stopped or failed with a sentence"] = (
        len(ended) == n_train
        and all(t.end is not None and all(s in ENDED for s in t.statuses) for t in ended.values())
        and not unexplained
    )
    checks["every run in the store complete and readable"] = not damaged and all(i.status in ENDED for i in infos)
    checks["no exception element in any session"] = not any(s.session.stats.exceptions for s in seats + [lone])
    checks["no Traceback in the server log"] = "Traceback" not in log_text
    for what, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {what}")
    return 0 if all(checks.values()) else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", choices=("class", "three"), default="class")
    ap.add_argument(
        "--sessions", type=int, default=30, help="students: trainers and watchers (the teacher comes on top)"
    )
    ap.add_argument("--trainers", type=int, default=10, help="of the sessions, how many press Train")
    ap.add_argument("--browsers", type=int, default=2, help="of the sessions, how many are real Chromium pages")
    ap.add_argument(
        "--cold-browsers",
        action="store_true",
        help="the Chromium pages open their link as a first visit (no cache) rather than after the lab's home page",
    )
    ap.add_argument("--dataset", default="shapes", help="the assignment's dataset")
    ap.add_argument("--depths", default="8,14,20", help="the assignment's depths (each plain, then residual)")
    ap.add_argument("--steps", type=int, default=200, help="steps of every job (?steps= on the trainers' links)")
    ap.add_argument("--seconds", type=float, default=30.0, help="the measured phase")
    ap.add_argument("--lone-seconds", type=float, default=20.0, help="the lone watcher's measurement")
    ap.add_argument("--press-gap", type=float, default=0.3, help="seconds between two trainers' presses")
    ap.add_argument("--deadline", type=float, default=180.0, help="seconds after the stop for the queue to end")
    ap.add_argument("--no-load", action="store_true", help="three: without the busy background core")
    args = ap.parse_args()
    if args.scenario == "three":
        return three(args)
    return asyncio.run(cancellable(class_scenario(args)))


async def cancellable(work) -> int:
    """`work`, cancelled by SIGTERM or SIGINT: its `finally`s stop the server and close Chromium
    (killed outright they would be left running)."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await task
    except asyncio.CancelledError:
        print("cancelled: the server and Chromium were stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
