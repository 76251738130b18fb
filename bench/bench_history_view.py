"""What a live redraw pays to copy a job's histories: copy.deepcopy (before) vs History.view().

The live page takes a snapshot of every model's History about twice a second per fragment; the
copy grows with the run. Prints the seconds per snapshot of two twins at a few run lengths.

    python bench/bench_history_view.py
"""

from __future__ import annotations

import copy
import os
import platform
import time

import torch

from resnet_viz.engine.history import History, Update


def grown(name: str, steps: int, probe_every: int = 10, layers: int = 57, blocks: int = 27) -> History:
    """A History as a depth-56 twin's looks after `steps` steps (probe rows every `probe_every`)."""
    h = History(name)
    h.apply(Update(name, "status", {"status": "running", "layer_names": [f"l{i}" for i in range(layers)]}))
    for s in range(1, steps + 1):
        h.apply(Update(name, "steps", {"step": [s], "loss": [2.3 / s], "acc": [0.1], "lr": [0.1]}))
        if s % probe_every == 0:
            row = {k: [0.5] * layers for k in ("grad_norm", "grad_rms", "grad_rel")}
            row |= {k: [0.5] * blocks for k in ("act_std", "identity_grad", "branch_grad", "grad_x_rms")}
            h.apply(Update(name, "probe", {"step": s, **row}))
    return h


def per_call(fn, repeats: int) -> float:
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def main() -> None:
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}; "
        "two depth-56 twins (57 layers, 27 blocks), a probe every 10 steps; seconds per snapshot of both"
    )
    print(f"{'steps':>6} {'deepcopy':>10} {'view':>10} {'ratio':>7}")
    for steps in (300, 1000, 3000, 10000):
        twins = [grown("plain-56", steps), grown("residual-56", steps)]
        deep = per_call(lambda twins=twins: [copy.deepcopy(h) for h in twins], 5)
        view = per_call(lambda twins=twins: [h.view() for h in twins], 50)
        print(f"{steps:>6} {deep:>10.5f} {view:>10.6f} {deep / view:>6.0f}x")


if __name__ == "__main__":
    main()
