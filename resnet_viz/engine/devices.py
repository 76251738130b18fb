"""Pick the training device, choose the torch threads on a CPU, and describe both in one line.

No streamlit here: the CLI, the worker, the pages and the tests use the same functions.

The thread policy is the one place every torch entry point asks how many CPU threads to use:
`resnet-viz train|sweep|probe|lesion|landscape`, the app's training worker (per job), the analyses
and the server's own torch work (theory probes, saliency maps). Small work runs on one thread: two
Tiny work (a scalar chain, one small image) runs on one thread. Other work uses the cores that are
idle right now: two OpenMP threads beside another busy process spin waiting for each other and ran
2-5x slower (bench/bench_threads.py), while on an idle machine two threads trained the digits twins
1.1x and ResNet-56 on 32x32 1.5x faster. The app's training worker keeps one core back for the
server and the browsers that will draw its run (`reserve=1`): they are idle when Train is pressed
and busy a moment later. `RESNET_VIZ_THREADS` overrides it everywhere.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from resnet_viz.engine.config import DEVICES, ConfigError
from resnet_viz.i18n import _, ngettext

__all__ = [
    "SMALL_WORK_MACS",
    "THREADS_ENV",
    "DeviceLabel",
    "describe_device",
    "device_label",
    "idle_cores",
    "mps_available",
    "select_device",
    "thread_count",
    "threads",
    "usable_cores",
]

THREADS_ENV = "RESNET_VIZ_THREADS"  # a whole number: torch threads for every entry point
# Multiply-accumulates of one forward pass of one batch below which one thread is used: a second
# thread's start-up and synchronisation cost more than it computes. For scale: the digits twins at
# batch 64 are 0.04 GMAC (1.16x faster on two quiet threads), a 224x224 ResNet-18 image 1.8 GMAC,
# ResNet-20 at width 16 on 32x32, batch 128, 5 GMAC (1.6-1.9x).
SMALL_WORK_MACS = 1e7
IDLE_FRESH_S = 2.0  # an idle-core reading is reused this long: a page's saliency call needs no new 0.1 s look


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _cpu_times() -> tuple[float, float] | None:
    """(idle, total) jiffies over all cores from /proc/stat; None where there is no /proc."""
    try:
        with open("/proc/stat") as f:
            fields = [float(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return fields[3] + (fields[4] if len(fields) > 4 else 0.0), sum(fields)  # idle + iowait


_idle_seen: tuple[float, float] | None = None  # (monotonic time, idle cores) of the last reading


def idle_cores(window: float = 0.1) -> float:
    """How many cores sat idle over `window` seconds (Linux; a reading under IDLE_FRESH_S old is
    reused); elsewhere, the cores less the 1-minute load average. Never below 0."""
    global _idle_seen
    now = time.monotonic()
    if _idle_seen is not None and now - _idle_seen[0] < IDLE_FRESH_S:
        return _idle_seen[1]
    idle = _measure_idle(window)
    _idle_seen = (time.monotonic(), idle)
    return idle


def _measure_idle(window: float) -> float:
    first = _cpu_times()
    if first is None:
        try:
            return max(0.0, usable_cores() - os.getloadavg()[0])
        except (AttributeError, OSError):
            return float(usable_cores())
    time.sleep(window)
    second = _cpu_times()
    idle, total = second[0] - first[0], second[1] - first[1]  # type: ignore[index]
    return max(0.0, (os.cpu_count() or 1) * idle / total) if total > 0 else float(usable_cores())


def thread_count(work_macs: float | None = None, *, reserve: int = 0) -> int:
    """Torch CPU threads for work of `work_macs` multiply-accumulates per forward pass of one batch
    (None: unknown, treated as tiny), leaving `reserve` cores to others. `RESNET_VIZ_THREADS` wins
    when it is a whole number >= 1."""
    env = os.environ.get(THREADS_ENV, "").strip()
    if env.isdigit() and int(env) >= 1:
        return int(env)
    if work_macs is None or work_macs < SMALL_WORK_MACS:
        return 1
    # A core counts when at least 60% of it sat idle: /proc/stat counts in 10 ms ticks, so a quiet
    # core can read 0.9 idle over the window, and a core another process keeps busy reads ~0.
    return max(1, min(usable_cores() - reserve, math.floor(idle_cores() + 0.4) - reserve))


NICE_ENV = "RESNET_VIZ_WORKER_NICE"
# The app's training workers run this much below the server in CPU priority (os.nice). When the
# CPU is short, a page opening or thirty watchers' redraws come before a training step: on the
# 2-core class server a watcher whose page opened while two workers trained waited 2-3 s for its
# first chart, a Chromium page 10 s (bench/bench_class.py). An idle core is still the worker's.
DEFAULT_WORKER_NICE = 10


def worker_niceness() -> int:
    """The nice increment for a training worker: RESNET_VIZ_WORKER_NICE when it is a whole number
    from 0 (the server's priority) to 19, else DEFAULT_WORKER_NICE."""
    env = os.environ.get(NICE_ENV, "").strip()
    return int(env) if env.isdigit() and int(env) <= 19 else DEFAULT_WORKER_NICE


def lower_priority(increment: int) -> int:
    """This process's CPU priority lowered by `increment` (where the OS allows it); its niceness
    after, or 0 where there is none (Windows)."""
    nice = getattr(os, "nice", None)
    if nice is None:
        return 0
    try:
        return nice(increment)
    except OSError:  # not allowed here: it trains at the server's priority
        return nice(0)


@contextlib.contextmanager
def threads(n: int) -> Iterator[int]:
    """torch.set_num_threads(n) inside the block, the previous count restored after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)


def mps_available() -> bool:
    """Apple-silicon GPU backend; ``torch.backends.mps`` is missing on some builds."""
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _torch_version() -> str:
    # "2.14.1+cu130" -> "2.14.1": the build tag is noise next to the device name.
    return torch.__version__.split("+")[0]


def select_device(pref: str = "auto") -> torch.device:
    """Return the device for ``pref``: "auto" picks CUDA, then MPS, then CPU.

    "cuda" may carry an index ("cuda:1"). Asking for a backend this machine lacks raises
    :class:`ConfigError` rather than silently training somewhere else.
    """
    kind, _colon, index = str(pref).partition(":")
    if kind not in DEVICES or (index and (kind != "cuda" or not index.isdigit())):
        raise ConfigError(
            _("device must be one of {choices} (or cuda:N); got {value}").format(
                choices=", ".join(DEVICES), value=repr(pref)
            )
        )
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            if torch.version.cuda:
                template = _(
                    "device 'cuda' was requested but no CUDA GPU is usable here "
                    "(torch {version}, built with CUDA {cuda}); choose 'auto' or 'cpu'"
                )
            else:
                template = _(
                    "device 'cuda' was requested but no CUDA GPU is usable here "
                    "(torch {version}, a CPU-only build); choose 'auto' or 'cpu'"
                )
            raise ConfigError(template.format(version=_torch_version(), cuda=torch.version.cuda))
        if index and int(index) >= torch.cuda.device_count():
            raise ConfigError(
                _("device {device} was requested but only {n} CUDA GPU(s) exist").format(
                    device=repr(pref), n=torch.cuda.device_count()
                )
            )
        return torch.device(str(pref))
    if kind == "mps":
        if not mps_available():
            raise ConfigError(
                _(
                    "device 'mps' was requested but the Apple-silicon GPU backend is not available here; "
                    "choose 'auto' or 'cpu'"
                )
            )
        return torch.device("mps")
    return torch.device("cpu")


@dataclass(frozen=True)
class DeviceLabel:
    """What names the hardware, kept as facts so it can be said in any language: the training
    worker measures it and the page says it (:meth:`text`)."""

    kind: str  # "cuda", "mps" or "cpu"
    version: str  # torch's version without the build tag
    name: str = ""  # the GPU's name (CUDA)
    precision: str = ""  # "bf16" or "fp32" (CUDA)
    threads: int = 1  # torch threads (CPU)
    node: str = ""  # the cluster node's address when a Ray actor trains the job; "" on this server

    def text(self) -> str:
        """One line in the language of the current context, e.g. "CPU, 2 threads (torch 2.14.1)"."""
        if self.kind == "cuda":  # no words to translate: a name, a backend, a number format
            line = f"{self.name} (CUDA, {self.precision}; torch {self.version})"
        elif self.kind == "mps":
            line = _("Apple GPU (MPS; torch {version})").format(version=self.version)
        else:
            line = ngettext(
                "CPU, {n} thread (torch {version})", "CPU, {n} threads (torch {version})", self.threads
            ).format(n=self.threads, version=self.version)
        return _("{device} on cluster node {node}").format(device=line, node=self.node) if self.node else line


def device_label(device: torch.device | str, threads: int | None = None) -> DeviceLabel:
    """The facts :func:`describe_device` says (picklable: the worker sends them to the server)."""
    device = torch.device(device)
    version = _torch_version()
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        # bf16 is native from Ampere (sm_80) on; older GPUs only emulate it, slowly.
        precision = "bf16" if torch.cuda.get_device_capability(device) >= (8, 0) else "fp32"
        return DeviceLabel("cuda", version, name=name, precision=precision)
    if device.type == "mps":
        return DeviceLabel("mps", version)
    threads = threads or torch.get_num_threads()  # the app's worker process may use fewer
    return DeviceLabel("cpu", version, threads=threads)


def describe_device(device: torch.device | str, threads: int | None = None) -> str:
    """One line naming the hardware, e.g. "NVIDIA H100 80GB HBM3 (CUDA, bf16; torch 2.14.1)"
    or "CPU, 2 threads (torch 2.14.1)", in the language of the current context."""
    return device_label(device, threads).text()
