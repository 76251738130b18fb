"""What one more watcher of a running job costs the server (issue 30, part 4).

Three measurements:

``inproc`` (the default): the live page's two fragment bodies (ui.live._live_fragment and
_gradient_fragment), run through Streamlit's AppTest in this process for `--readers` sessions
watching one job, the job growing by `--log-every` steps (steps and a probe per twin) between
rounds as a training job does. Prints milliseconds per session rerun for the first reader of a
job version and for the others, and with `--profile` the cProfile split by cause (snapshot
copies, figure building, plotly's to_dict, JSON, element id hashing, protobuf).

``clients``: `streamlit run app.py` with RESNET_VIZ_MAX_JOBS=`--jobs`; one Chromium page per job
presses Train on ResNet-20 twins and stays open; then one, and then `--watchers`, sessions open
the jobs' `?job=` links over Streamlit's websocket protocol (class Watcher: no browser, so
Chromium's rendering does not take the CPU the server needs). Prints the server's CPU (its own
threads, not the workers) and the redraws per watcher (progress lines received) over a
`--seconds` window that starts once every watcher has drawn its first loss chart, and the time
that took; `--profile FILE` samples the server with py-spy over the window.

``browser``: the same with Chromium pages as the watchers (each renders every chart).

    python bench/bench_watchers.py inproc [--readers 10] [--rounds 20] [--steps 600] [--profile]
    python bench/bench_watchers.py clients [--watchers 30] [--jobs 2] [--seconds 40] [--profile FILE]
    python bench/bench_watchers.py browser [--watchers 30] [--jobs 2] [--seconds 40]

The histories of `inproc` come from a real ResNet-20 twin run (trained once with the CLI into
`--runs`, then replayed); prints machine, torch version and seed beside the figures. The other
modes run on whatever else the machine is doing: note its load beside their numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

# Where the time of a fragment rerun goes, by the function names cProfile records (inclusive time
# of the outermost match on each stack: a cause named earlier wins, so they do not overlap).
CAUSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("snapshot (History.view copies)", ("job.py:snapshot",)),
    ("figure building (go.Figure, validation)", ("live_curves.py:", "live_gradients.py:")),
    ("plotly fig.to_dict (deep copy + base64)", ("basedatatypes.py:to_dict",)),
    ("st.plotly_chart: to_json", ("_json.py:to_json",)),
    ("st.plotly_chart: element id hash", ("utils.py:compute_and_register_element_id",)),
    ("ForwardMsg hash (protobuf serialise + md5)", ("forward_msg_cache.py:populate_hash_if_needed",)),
)


def _replay_source(runs: Path, steps: int, depth: int, seed: int) -> list:
    """The stored histories of a ResNet-`depth` twin run (trained here first if `runs` has none)."""
    from resnet_viz.engine.runs import RunStore

    store = RunStore(runs)
    infos = [i for i in store.list() if i.step >= steps and i.model.depth == depth]
    if len(infos) < 2:
        cmd = [sys.executable, "-m", "resnet_viz.cli", "train", "--depth", str(depth), "--width", "8"]
        cmd += ["--steps", str(steps), "--seed", str(seed), "--runs-dir", str(runs), "--json"]
        print(f"# training the twins to replay: {' '.join(cmd[2:])}", flush=True)
        subprocess.run(cmd, check=True, capture_output=True)
        infos = [i for i in store.list() if i.step >= steps and i.model.depth == depth]
    infos = sorted(infos, key=lambda i: i.model.residual)[:2]
    return [store.load_history(i.run_id) for i in infos], [i.model for i in infos]


def _updates(full, upto: int, start: int = 0) -> list:
    """The Update messages that grow a History from step `start` to `upto` (steps and probes)."""
    from resnet_viz.engine.history import Update

    out = []
    if start == 0:
        names = {k: getattr(full, k) for k in ("layer_names", "block_names", "residual_block_names")}
        out.append(Update(full.name, "status", {"status": "running", **names}))
    idx = [i for i, s in enumerate(full.step) if start < s <= upto]
    if idx:
        data = {k: [getattr(full, k)[i] for i in idx] for k in ("step", "loss", "acc", "lr")}
        out.append(Update(full.name, "steps", {**data, "elapsed": 0.05 * upto}))
    keys = ("grad_norm", "grad_rms", "grad_rel", "act_std", "identity_grad", "branch_grad", "grad_x_rms")
    for p, s in enumerate(full.probe_step):
        if start < s <= upto:
            out.append(Update(full.name, "probe", {"step": s, **{k: getattr(full, k)[p] for k in keys}}))
    for e in full.eval:
        if start < e["step"] <= upto:
            out.append(Update(full.name, "eval", dict(e)))
    return out


def _page(job_id: str, timings: str, profile: str) -> None:
    """One session's rerun of both fragment bodies, timed (AppTest runs this as the script)."""
    import cProfile as _cp
    import json as _json
    import time as _time

    from resnet_viz.ui import live

    prof = _cp.Profile() if profile else None
    t0 = _time.perf_counter()
    if prof is not None:
        prof.enable()
    live._live_fragment(job_id, True)
    t1 = _time.perf_counter()
    live._gradient_fragment(job_id)
    if prof is not None:
        prof.disable()
    t2 = _time.perf_counter()
    with open(timings, "a") as f:
        f.write(_json.dumps({"live": t1 - t0, "gradient": t2 - t1}) + "\n")
    if prof is not None:
        prof.dump_stats(f"{profile}.{_time.perf_counter_ns()}")


def _split(stats: pstats.Stats) -> dict[str, float]:
    """Seconds per cause (CAUSES), each the inclusive time of the functions named for it, counted
    only where no function of an earlier cause is their caller (cProfile keeps callers one level
    deep, so this is the caller's cause, a good enough guard for these call trees)."""
    raw = stats.stats  # type: ignore[attr-defined]  # {(file, line, fn): (cc, nc, tt, ct, callers)}
    out: dict[str, float] = {}
    for cause, names in CAUSES:
        total = 0.0
        for (file, _line, fn), (_cc, _nc, _tt, ct, callers) in raw.items():
            label = f"{Path(file).name}:{fn}"
            if not any(label.startswith(n) for n in names):
                continue
            # only outermost: skip when called from a function of this same cause
            if any(any(f"{Path(c[0]).name}:{c[2]}".startswith(n) for n in names) for c in callers):
                continue
            total += ct
        out[cause] = total
    return out


def inproc(args: argparse.Namespace) -> None:
    import torch
    from streamlit.testing.v1 import AppTest

    from resnet_viz.engine.config import DataConfig, TrainConfig
    from resnet_viz.engine.runner import jobqueue
    from resnet_viz.engine.runner.job import TrainingRun

    full, models = _replay_source(Path(args.runs), args.steps, args.depth, args.seed)
    print(
        f"# {platform.machine()} | {os.cpu_count()} cores | Python {platform.python_version()} | torch "
        f"{torch.__version__.split('+')[0]} | seed {args.seed} | ResNet-{args.depth} twins (width 8, digits) replayed "
        f"from step {args.start} by {args.log_every} steps a round | {args.readers} sessions watching | "
        f"{args.rounds} rounds"
    )
    queue = jobqueue.JobQueue(max_jobs=1, warm=False)
    jobqueue._QUEUE = queue  # the page's job_queue(): a registry without workers
    job = TrainingRun(tuple(models), DataConfig(), TrainConfig(steps=args.steps), owner="bench")
    job.state, job.total_steps, job.steps_per_epoch, job.device = "running", args.steps, 28, "CPU, 1 thread"
    job._started = time.perf_counter()
    queue._jobs[job.job_id] = job
    for h in full:
        for u in _updates(h, args.start):
            job.on_update(u)
    tmp = Path(tempfile.mkdtemp())
    timings = tmp / "timings.jsonl"
    profile = str(tmp / "prof") if args.profile else ""
    sessions = [AppTest.from_function(_page, args=(job.job_id, str(timings), profile), default_timeout=60)]
    sessions += [
        AppTest.from_function(_page, args=(job.job_id, str(timings), profile), default_timeout=60)
        for _ in range(args.readers - 1)
    ]
    for at in sessions:  # warm-up: imports, the first build
        at.run()
        assert not at.exception, at.exception
    timings.write_text("")
    for p in tmp.glob("prof.*"):
        p.unlink()
    step = args.start
    first: list[float] = []
    others: list[float] = []
    wall0 = time.perf_counter()
    for _ in range(args.rounds):
        nxt = min(args.steps, step + args.log_every)
        for h in full:
            for u in _updates(h, nxt, start=step):
                job.on_update(u)
        step = nxt
        before = len(timings.read_text().splitlines())
        for at in sessions:
            at.run()
            assert not at.exception, at.exception
        rows = [json.loads(r) for r in timings.read_text().splitlines()[before:]]
        first.append(rows[0]["live"] + rows[0]["gradient"])
        others += [r["live"] + r["gradient"] for r in rows[1:]]
    wall = time.perf_counter() - wall0
    rows = [json.loads(r) for r in timings.read_text().splitlines()]
    live_ms = 1000 * sum(r["live"] for r in rows) / len(rows)
    grad_ms = 1000 * sum(r["gradient"] for r in rows) / len(rows)
    print(f"per session rerun of both fragments: live {live_ms:.1f} ms + gradient {grad_ms:.1f} ms (mean)")
    print(f"  first reader of a job version {1000 * sum(first) / len(first):.1f} ms", end="")
    if others:
        print(f", each other reader {1000 * sum(others) / len(others):.1f} ms", end="")
    print(f"; {wall:.1f} s wall for {args.rounds} rounds x {args.readers} sessions (AppTest's own overhead included)")
    if args.profile:
        files = sorted(tmp.glob("prof.*"))
        stats = pstats.Stats(str(files[0]))
        for f in files[1:]:
            stats.add(str(f))
        n = len(files)
        total = sum(r["live"] + r["gradient"] for r in rows)
        print(f"cProfile split, ms per session rerun of both fragments (profiler overhead included; {n} reruns):")
        print(f"  {'all, as timed':45s} {1000 * total / n:8.1f}")
        for cause, seconds in _split(stats).items():
            print(f"  {cause:45s} {1000 * seconds / n:8.1f}")
        if args.top:
            stats.sort_stats("cumulative").print_stats(args.top)


# ---------------------------------------------------------------------------------------------
# The browser measurement

# Injected before each watcher's page loads: counts the changes of the progress line (one per
# live redraw that reached the browser: its step, speed or time left changed) and notes when the
# first loss point was drawn (ms since navigation).
WATCH_JS = """(() => { window.__redraws = 0; window.__first = null; let last = '';
  const tick = () => { const e = document.querySelector('[data-testid="stProgress"]');
    const t = e ? e.innerText : ''; const p = document.querySelector('.js-plotly-plot');
    if (window.__first === null && p && p._fullData && p._fullData.some(d => d._length > 0))
      window.__first = performance.now();
    if (t && t !== last) { last = t; window.__redraws += 1; } };
  new MutationObserver(tick).observe(document, {subtree: true, childList: true, characterData: true}); })();"""


def start_jobs(chrome, url: str, args: argparse.Namespace) -> list[str]:
    """`args.jobs` ResNet twin jobs, each pressed from a Chromium page of its own that stays open
    (redrawing too); their job ids once each is training."""
    jobs = []
    for j in range(args.jobs):
        owner = chrome.new_page(viewport={"width": 1200, "height": 900})
        owner.set_default_timeout(180_000)
        owner.goto(f"{url}/live?depth={args.depth}&width=8&steps={args.steps}&seed={args.seed + j}")
        owner.get_by_role("button", name="Train").click()
        owner.wait_for_url("**job=*")
        owner.get_by_text("Running · step").first.wait_for()
        jobs.append(owner.url.split("job=")[1].split("&")[0])
    return jobs


def browser(args: argparse.Namespace) -> None:
    import torch
    from bench_live import ARGS, SERVER_PIDS, cpu_seconds, streamlit_server
    from playwright.sync_api import sync_playwright

    print(
        f"# {platform.machine()} | {os.cpu_count()} cores | torch {torch.__version__.split('+')[0]} | seed "
        f"{args.seed} | digits, ResNet-{args.depth} twins width 8, {args.steps} steps | {args.jobs} job(s) training "
        f"(RESNET_VIZ_MAX_JOBS={args.jobs}), {args.watchers} watchers on their ?job= links | {args.seconds:.0f} s "
        f"windows | code: {ROOT}"
    )
    tmp = Path(tempfile.mkdtemp())
    env = {"RESNET_VIZ_MAX_JOBS": str(args.jobs), "PYTHONPATH": str(ROOT)}
    with streamlit_server(tmp / "runs", env=env) as url, sync_playwright() as pw:
        pid = SERVER_PIDS[url]
        chrome = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        try:
            watchers = chrome.new_context(viewport={"width": 1200, "height": 900})
            watchers.add_init_script(WATCH_JS)
            jobs = start_jobs(chrome, url, args)

            def watch(n: int) -> dict[str, float]:
                """`n` watchers: each page's first chart (s after its navigation), then the server's
                CPU and the redraws of each over a window that starts once all have drawn."""
                pages = [watchers.new_page() for _ in range(n)]
                for i, page in enumerate(pages):
                    page.set_default_timeout(180_000)
                    page.goto(f"{url}/live?job={jobs[i % len(jobs)]}", wait_until="commit")
                deadline = time.monotonic() + 180
                firsts = [None] * n
                while None in firsts and time.monotonic() < deadline:
                    firsts = [f if f is not None else p.evaluate("() => window.__first") for f, p in zip(firsts, pages)]
                    time.sleep(0.2)
                for p in pages:
                    p.evaluate("() => { window.__redraws = 0; }")
                cpu0, w0 = cpu_seconds(pid), time.perf_counter()
                time.sleep(args.seconds)
                cpu, wall = cpu_seconds(pid) - cpu0, time.perf_counter() - w0
                counts = [p.evaluate("() => window.__redraws") for p in pages]
                for p in pages:
                    p.close()
                drawn = sorted(f / 1000 for f in firsts if f is not None)
                return {
                    "cpu": cpu / wall,
                    "redraws": sum(counts) / len(counts),
                    "min_redraws": min(counts),
                    "first": drawn[-1] if drawn else float("nan"),
                    "median_first": drawn[len(drawn) // 2] if drawn else float("nan"),
                    "no_chart": sum(f is None for f in firsts),
                }

            alone = watch(1)
            many = watch(args.watchers)
        finally:
            chrome.close()
    for name, r in (("1 watcher", alone), (f"{args.watchers} watchers", many)):
        print(
            f"{name:>12}: server {100 * r['cpu']:.0f}% of a core | redraws per watcher {r['redraws']:.1f} "
            f"(fewest {r['min_redraws']}) | first chart {r['median_first']:.2f} s median, {r['first']:.2f} s slowest"
            + (f" | {r['no_chart']} never drew one" if r["no_chart"] else "")
        )
    print(f"redraws per watcher, {args.watchers} vs 1: {100 * many['redraws'] / max(1, alone['redraws']):.0f}%")


# ---------------------------------------------------------------------------------------------
# Watchers without a browser: Streamlit's own protocol, spoken by this process


class Watcher:
    """One session watching `/live?job=<id>` over Streamlit's websocket as the browser does: a
    first run of the page, then each fragment's rerun every interval the server's `auto_rerun`
    messages name, with the hashes of the cacheable messages it has (so the server may send a
    reference instead). Counts the progress lines it receives (one per live redraw) and the
    time until the first loss chart with points. The server does for it what it does for a
    browser; no browser renders anything, so Chromium's CPU does not crowd the server out."""

    def __init__(self, url: str, job_id: str) -> None:
        self.url, self.job_id = url, job_id
        self.redraws, self.errors, self.sent, self.received = 0, 0, 0, 0
        self.first: float | None = None
        self.hashes: set[str] = set()
        self.page_hash = ""

    async def run(self, done: asyncio.Event) -> None:
        """Watch until `done` is set."""
        import websockets
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        ws_url = self.url.replace("http://", "ws://") + "/_stcore/stream"
        t0 = time.perf_counter()
        async with websockets.connect(
            ws_url, subprotocols=["streamlit"], origin=self.url, max_size=None, ping_interval=None
        ) as ws:

            async def send(fragment_id: str = "") -> None:
                msg = BackMsg()
                cs = msg.rerun_script
                cs.query_string, cs.page_name = f"job={self.job_id}", "live"
                cs.page_script_hash = self.page_hash
                if fragment_id:
                    cs.fragment_id, cs.is_auto_rerun = fragment_id, True
                cs.cached_message_hashes.extend(self.hashes)
                await ws.send(msg.SerializeToString())
                self.sent += 1

            async def every(interval: float, fragment_id: str) -> None:
                while not done.is_set():
                    await asyncio.sleep(interval)
                    await send(fragment_id)

            await send()
            timers: dict[str, asyncio.Task] = {}
            while not done.is_set():
                try:
                    data = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except (TimeoutError, asyncio.TimeoutError):
                    continue
                self.received += 1
                msg = ForwardMsg()
                msg.ParseFromString(data)
                kind = msg.WhichOneof("type")
                if msg.metadata.cacheable and msg.hash:
                    self.hashes.add(msg.hash)
                if kind == "new_session":
                    self.page_hash = msg.new_session.page_script_hash
                elif kind == "auto_rerun":
                    fid = msg.auto_rerun.fragment_id
                    if fid not in timers:
                        timers[fid] = asyncio.create_task(every(msg.auto_rerun.interval, fid))
                elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                    el = msg.delta.new_element
                    which = el.WhichOneof("type")
                    if which == "progress":
                        self.redraws += 1
                    elif which == "exception":
                        self.errors += 1
                    elif self.first is None and _loss_with_data(el, which):
                        self.first = time.perf_counter() - t0
            for task in timers.values():
                task.cancel()


def _loss_with_data(el, which: str) -> bool:
    """A loss chart with points: st.plotly_chart's, or a live chart's (resnet_viz/ui/live_plot.py)."""
    if which == "plotly_chart":
        return el.plotly_chart.id.endswith("-loss") and '"data":[]' not in el.plotly_chart.spec
    if which == "bidi_component" and el.bidi_component.id.endswith("-live-loss"):
        return '\\"data\\":[]' not in el.bidi_component.json
    return False


def start_profile(pid: int, out: str) -> subprocess.Popen:
    """py-spy sampling the server 100 times a second, only the thread holding the GIL (--gil):
    with thirty sessions most threads wait for it, and a sample of a waiting thread is no cost."""
    import shutil

    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    cmd = [spy, "record", "--pid", str(pid), "--rate", "100", "--gil", "--format", "raw", "--output", out]
    return subprocess.Popen([*cmd, "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def clients(args: argparse.Namespace) -> None:
    import torch
    from bench_live import ARGS, SERVER_PIDS, cpu_seconds, streamlit_server, top_functions
    from playwright.sync_api import sync_playwright

    print(
        f"# {platform.machine()} | {os.cpu_count()} cores | torch {torch.__version__.split('+')[0]} | seed "
        f"{args.seed} | digits, ResNet-{args.depth} twins width 8, {args.steps} steps | {args.jobs} job(s) training "
        f"(RESNET_VIZ_MAX_JOBS={args.jobs}), each from its own Chromium page | {args.watchers} watchers on the "
        f"?job= links over Streamlit's websocket | {args.seconds:.0f} s windows | code: {ROOT}"
    )
    tmp = Path(tempfile.mkdtemp())
    env = {"RESNET_VIZ_MAX_JOBS": str(args.jobs), "PYTHONPATH": str(ROOT)}
    log = Path(os.environ.get("BENCH_SERVER_LOG", tmp / "server.log"))
    with streamlit_server(tmp / "runs", log=log, env=env) as url, sync_playwright() as pw:
        pid = SERVER_PIDS[url]
        chrome = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        try:
            jobs = start_jobs(chrome, url, args)

            def watch(n: int, profile: str | None = None) -> dict[str, float]:
                """`n` watchers join at once; the window (server CPU, redraws) starts once every
                one has drawn its first chart, so it measures watching, not joining."""
                watchers = [Watcher(url, jobs[i % len(jobs)]) for i in range(n)]
                out: dict[str, float] = {}

                async def all_of_them() -> None:
                    done = asyncio.Event()
                    tasks = [asyncio.create_task(w.run(done)) for w in watchers]
                    joined = time.perf_counter()
                    while any(w.first is None for w in watchers) and time.perf_counter() - joined < 120:
                        await asyncio.sleep(0.1)
                    spy = start_profile(pid, profile) if profile else None
                    counts0, cpu0, w0 = [w.redraws for w in watchers], cpu_seconds(pid), time.perf_counter()
                    mine0 = time.process_time()
                    await asyncio.sleep(args.seconds)
                    out["cpu"] = (cpu_seconds(pid) - cpu0) / (time.perf_counter() - w0)
                    out["client_cpu"] = (time.process_time() - mine0) / (time.perf_counter() - w0)
                    counts = [w.redraws - c for w, c in zip(watchers, counts0)]
                    if spy is not None:
                        spy.send_signal(2)  # SIGINT: py-spy writes what it sampled and exits
                        spy.wait(60)
                    done.set()
                    await asyncio.gather(*tasks)
                    out["redraws"], out["min_redraws"] = sum(counts) / len(counts), min(counts)

                # In a thread of its own: Playwright's sync API keeps an event loop in this one.
                runner = threading.Thread(target=asyncio.run, args=(all_of_them(),))
                runner.start()
                runner.join()
                drawn = sorted(w.first for w in watchers if w.first is not None)
                return {
                    **out,
                    "first": drawn[-1] if drawn else float("nan"),
                    "median_first": drawn[len(drawn) // 2] if drawn else float("nan"),
                    "no_chart": sum(w.first is None for w in watchers),
                    "errors": sum(w.errors for w in watchers),
                    "sent": sum(w.sent for w in watchers) / n,
                    "received": sum(w.received for w in watchers) / n,
                }

            alone = watch(1)
            many = watch(args.watchers, args.profile)
        finally:
            chrome.close()
    for name, r in (("1 watcher", alone), (f"{args.watchers} watchers", many)):
        print(
            f"{name:>12}: server {100 * r['cpu']:.0f}% of a core | redraws per watcher {r['redraws']:.1f} "
            f"(fewest {r['min_redraws']}) | first chart {r['median_first']:.2f} s median, {r['first']:.2f} s slowest"
            + (f" | {r['no_chart']} never drew one" if r["no_chart"] else "")
            + (f" | {r['errors']} exceptions shown" if r["errors"] else "")
            + f" | this bench process {100 * r['client_cpu']:.0f}% of a core"
            + f" | per watcher {r['sent']:.0f} reruns asked, {r['received']:.0f} messages"
        )
    print(f"redraws per watcher, {args.watchers} vs 1: {100 * many['redraws'] / max(1, alone['redraws']):.0f}%")
    if args.profile:
        print(f"server profile, {args.watchers} watchers (busy samples; on the stack / innermost):")
        for incl, own, name in top_functions(args.profile, 40):
            print(f"  {100 * incl:5.1f}% {100 * own:5.1f}%  {name}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode")
    a = sub.add_parser("inproc", help="time the fragment bodies in this process (the default)")
    a.add_argument("--readers", type=int, default=10, help="sessions watching the job")
    a.add_argument("--rounds", type=int, default=20, help="job versions (one update of every model each)")
    a.add_argument("--steps", type=int, default=600, help="steps of the replayed run")
    a.add_argument("--start", type=int, default=300, help="steps already in the job at the first round")
    a.add_argument("--log-every", type=int, default=10, help="steps added per round")
    a.add_argument("--depth", type=int, default=20)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--runs", default=str(Path(tempfile.gettempdir()) / "bench_watchers_runs"))
    a.add_argument("--profile", action="store_true", help="cProfile the fragment bodies and split by cause")
    a.add_argument("--top", type=int, default=0, help="with --profile: also print the N costliest functions")
    for mode, what in (("browser", "Chromium pages watching"), ("clients", "websocket watchers, no browser")):
        b = sub.add_parser(mode, help=f"a real server, {what}")
        b.add_argument("--watchers", type=int, default=30)
        b.add_argument("--jobs", type=int, default=2)
        b.add_argument("--seconds", type=float, default=40.0)
        b.add_argument("--steps", type=int, default=3000)
        b.add_argument("--depth", type=int, default=20)
        b.add_argument("--seed", type=int, default=0)
        b.add_argument("--profile", metavar="FILE", help="py-spy the server over the window of many watchers")
    argv = sys.argv[1:]
    modes = {"inproc": inproc, "browser": browser, "clients": clients}
    args = ap.parse_args(argv if argv[:1] in ([m] for m in [*modes, "-h", "--help"]) else ["inproc", *argv])
    modes[args.mode](args)


if __name__ == "__main__":
    main()
