"""Cost of a loss-landscape slice (Li et al. 2018) on the default offline dataset.

    python bench/bench_landscape.py            # 11x11 and 21-point slices of residual-20, test and train sets
    python bench/bench_landscape.py --quick    # 5x5 only, for a smoke run
    python bench/bench_landscape.py --threads 1  # steadier on a shared machine: two OpenMP threads
                                                 # competing with another process can run 5-10x slower

Timing does not depend on training (every grid point is one full forward pass over the
evaluation set), so the model is untrained. Prints, beside every number, the machine, torch
version, thread count and seed (airbench style); tests never assert timings.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from resnet_viz.analysis import landscape
from resnet_viz.analysis.landscape import loss_slice
from resnet_viz.engine.config import DataConfig, ModelConfig
from resnet_viz.engine.data import load_dataset
from resnet_viz.engine.devices import describe_device, select_device
from resnet_viz.engine.experiment import build_twins, fit_to_data


def header(device: torch.device, seed: int) -> str:
    return (
        f"# {platform.machine()} {platform.processor() or ''} | {describe_device(device)} | "
        f"torch {torch.__version__} | threads {torch.get_num_threads()} | seed {seed} | "
        f"python {platform.python_version()} | load average {os.getloadavg()[0]:.2f} at start"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=2, help="best of this many runs per row")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = select_device(args.device)
    data = load_dataset(DataConfig()).to(device)
    print(header(device, args.seed))
    cfg = fit_to_data(ModelConfig(depth=20), data)
    model = build_twins([cfg], args.seed)[0].to(device).eval()
    print(f"# {cfg.name}, width {cfg.width}, BN, digits 8x8; direction seed {args.seed}; one forward per grid point")

    loss_slice(model, data.x_test, data.y_test, grid=3, dims=1)  # warm-up (allocator, kernels)
    shapes = [(5, 2)] if args.quick else [(11, 2), (21, 1)]
    for split, x, y in (("test", data.x_test, data.y_test), ("train", data.x_train, data.y_train)):
        for grid, dims in shapes:
            secs = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                s = loss_slice(model, x, y, grid=grid, dims=dims, seed=args.seed)  # default batch 1000
                secs.append(time.perf_counter() - t0)
            best = min(secs)
            points = grid**dims
            label = f"{grid}x{grid}" if dims == 2 else f"{grid} points"
            print(
                f"{split:>5} ({len(x):4d} images), {label:>9}: {best:6.2f} s  ({1000 * best / points:5.1f} ms/point;"
                f" loss at centre {s.center[0]:.3f}, range {s.loss.min():.2f}..{s.loss.max():.2f})"
            )

    if args.quick:
        return
    print("\n## Memory layout of the private copy: channels_last (the default on CPU/CUDA) vs NCHW")
    print("# 11-point line, median of 3 interleaved runs")
    default = landscape._CHANNELS_LAST_ON
    for split, x, y in (("test", data.x_test, data.y_test), ("train", data.x_train, data.y_train)):
        times: dict[str, list[float]] = {"channels_last": [], "NCHW": []}
        for _ in range(3):
            for layout, devices in (("channels_last", default), ("NCHW", ())):
                landscape._CHANNELS_LAST_ON = devices
                t0 = time.perf_counter()
                loss_slice(model, x, y, grid=11, dims=1, seed=args.seed)
                times[layout].append(time.perf_counter() - t0)
        landscape._CHANNELS_LAST_ON = default
        cl, nchw = (1000 * statistics.median(times[k]) / 11 for k in ("channels_last", "NCHW"))
        print(f"{split:>5} ({len(x):4d} images): channels_last {cl:5.1f} ms/point, NCHW {nchw:5.1f} ms/point")


if __name__ == "__main__":
    main()
