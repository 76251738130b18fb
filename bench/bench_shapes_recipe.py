"""Which recipe makes a plain net degrade on shapes while its residual twin learns, on every seed?

    python bench/bench_shapes_recipe.py                         # the shapes defaults, seeds 0-2
    python bench/bench_shapes_recipe.py --depth 32 --lr 0.05 --warmup 30 --shortcut B

Trains the twins (plain and residual, lockstep on identical batches, as the pages do) once per
seed on the generated 32x32 shapes and prints each net's final training accuracy (evaluated on
the whole training set after the last step) and the pair's wall time. A recipe "shows the
lesson" on a seed when the residual net ends at 90% or more and the plain net trained worse by
at least the gap the app's own reading calls "trained worse" (resnet_viz.text.numbers.DEGRADED_POINTS). The figures chose the shapes recipe in resnet_viz.teaching.settings (RECIPES); tests never assert
timings. Wall times count only under no other load: the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.engine.experiment import run_twins
from resnet_viz.text.numbers import DEGRADED_POINTS


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth", type=int, default=None, help="default: the shapes default")
    ap.add_argument("--width", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--warmup", type=int, default=None, help="steps at lr/10 first")
    ap.add_argument("--shortcut", choices=("A", "B"), default=None)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from resnet_viz.teaching.settings import twin_defaults

    base = twin_defaults("shapes")
    depth = args.depth or base.depth
    width = args.width or base.width
    steps = args.steps or base.steps
    lr = args.lr or base.lr
    warmup = base.warmup if args.warmup is None else args.warmup
    shortcut = args.shortcut or base.shortcut
    print(
        f"# {platform.machine()} | torch {torch.__version__} | threads {torch.get_num_threads()} | "
        f"cores {os.cpu_count()} | shapes 32x32 | depth {depth} width {width} steps {steps} lr {lr} "
        f"warmup {warmup} shortcut {shortcut} batch 64 cosine",
        flush=True,
    )
    shown = 0
    seeds = [int(s) for s in args.seeds.split(",")]
    for seed in seeds:
        cfgs = [ModelConfig(depth=depth, width=width, residual=r, shortcut=shortcut) for r in (False, True)]
        train = TrainConfig(steps=steps, lr=lr, warmup_steps=warmup, seed=seed, probe_every=0, log_every=50)
        t0 = time.perf_counter()
        results = run_twins(cfgs, DataConfig(name="shapes", seed=seed), train)
        secs = time.perf_counter() - t0
        plain, res = (100 * r.history.final["train_acc"] for r in results)
        ok = res >= 90 and plain <= res - DEGRADED_POINTS
        shown += ok
        print(
            f"seed {seed}: plain {plain:5.1f}%  residual {res:5.1f}%  gap {res - plain:4.1f} points  pair {secs:5.0f} s  "
            f"(load avg {os.getloadavg()[0]:.1f})  {'shows it' if ok else 'does NOT show it'}",
            flush=True,
        )
    print(f"# lesson shown on {shown} of {len(seeds)} seeds")


if __name__ == "__main__":
    main()
