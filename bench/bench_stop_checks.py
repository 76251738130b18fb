"""What Stop's checks cost and how long a Stop can wait between two of them.

train() checks Stop between forward, backward and update, and at every weighted layer in both
directions (resnet_viz.engine.train.stop_points). This prints, on one torch thread:

- the step time of a small net (ResNet-20 on the digits, ~10 ms a step) with no hooks, one check
  per block (the granularity before) and one per weighted layer: what the checks cost it;
- the gaps between consecutive checks in one step of a long one (ResNet-110, width 16, shapes,
  batch 256: seconds a step), per block and per layer: how long a Stop can wait inside it.

    python bench/bench_stop_checks.py [--load]

--load runs one busy process beside it (as a class's server and browsers do).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.engine.config import DataConfig, ModelConfig
from resnet_viz.engine.data import load_dataset
from resnet_viz.engine.experiment import fit_to_data
from resnet_viz.engine.models import build_model
from resnet_viz.engine.train import stop_points


def burn() -> None:  # one busy core, as another user's process would be
    while True:
        pass


@contextlib.contextmanager
def per_block(model: nn.Module, should_stop: Callable[[], bool]) -> Iterator[None]:
    """The granularity before per-layer checks: one check after each block, forward and backward."""

    def on_grad(_g: torch.Tensor) -> None:
        should_stop()

    def after(_m: nn.Module, _i: Any, out: torch.Tensor) -> None:
        should_stop()
        if out.requires_grad:
            out.register_hook(on_grad)

    handles = [b.register_forward_hook(after) for _, b in model.probe_blocks()]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def small_step_ms(granularity: str, repeats: int = 300) -> float:
    torch.manual_seed(0)
    data = load_dataset(DataConfig())
    model = build_model(fit_to_data(ModelConfig(depth=20, width=8), data))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = data.x_train[:64], data.y_train[:64]
    stop = multiprocessing.get_context("spawn").Event()  # the worker's kind of flag
    ctx = {
        "none": contextlib.nullcontext(),
        "per block": per_block(model, stop.is_set),
        "per layer": stop_points(model, stop.is_set),
    }[granularity]

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    with ctx:
        for _ in range(20):
            step()
        t = time.perf_counter()
        for _ in range(repeats):
            step()
    return (time.perf_counter() - t) / repeats * 1e3


def long_step_gaps(granularity: str) -> list[float]:
    torch.manual_seed(0)
    data = load_dataset(DataConfig(name="shapes"))
    model = build_model(fit_to_data(ModelConfig(depth=110, width=16), data))
    x, y = data.x_train[:256], data.y_train[:256]
    times: list[float] = []

    def should_stop() -> bool:
        times.append(time.perf_counter())
        return False

    ctx = per_block(model, should_stop) if granularity == "per block" else stop_points(model, should_stop)
    with ctx:
        t0 = time.perf_counter()
        F.cross_entropy(model(x), y).backward()
        t1 = time.perf_counter()
    marks = [t0, *times, t1]
    return [b - a for a, b in itertools.pairwise(marks)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--load", action="store_true", help="one busy process beside the measurement")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, 1 thread, seed 0, "
        f"background load: {'1 busy core' if args.load else 'none'}"
    )
    load = multiprocessing.Process(target=burn, daemon=True) if args.load else None
    if load is not None:
        load.start()
    try:
        print("ResNet-20, digits, batch 64:")
        # Interleaved rounds, the fastest of each kept: the least disturbed by the load's noise.
        best: dict[str, float] = {}
        for _ in range(5):
            for g in ("none", "per block", "per layer"):
                best[g] = min(best.get(g, float("inf")), small_step_ms(g, repeats=150))
        print("  step (fastest of 5 interleaved rounds): " + " · ".join(f"{g} {t:.2f} ms" for g, t in best.items()))
        print("ResNet-110, width 16, shapes, batch 256:")
        long_step_gaps("per layer")  # warm-up: the first step of a big net allocates (seconds more)
        for g in ("per block", "per layer"):
            gaps = long_step_gaps(g)
            print(
                f"  {g}: {len(gaps) - 1} checks in {sum(gaps):.1f} s (forward + backward); gap between checks: "
                f"median {statistics.median(gaps) * 1e3:.0f} ms, longest {max(gaps) * 1e3:.0f} ms"
            )
    finally:
        if load is not None:
            load.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
