"""The thread policy against fixed thread counts, on a quiet machine and beside one busy core.

Each case runs in a fresh process with RESNET_VIZ_THREADS=1, =2, or unset (the policy decides:
resnet_viz.engine.devices.thread_count). "Loaded" starts one process that keeps a core busy, as the
Streamlit server and a browser do while a class trains. Prints wall seconds per case.

    python bench/bench_threads.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

CLI = [sys.executable, "-m", "resnet_viz.cli"]
GRADCAM = (
    "import torch, torchvision\n"
    "from resnet_viz.engine.devices import thread_count, threads\n"
    "from resnet_viz.saliency.pretrained import pretrained_macs\n"
    "from resnet_viz.saliency.maps import explain, frozen_copy\n"
    "torch.set_num_threads(thread_count())  # the server's own default, as resnet_viz.ui sets it\n"
    "torch.manual_seed(0)\n"
    "net = frozen_copy(torchvision.models.resnet18())\n"
    "x = torch.randn(1, 3, 224, 224)\n"
    "with threads(thread_count(pretrained_macs('resnet18'))):\n"
    "    for _ in range(40):\n"
    "        explain(net, x, method='gradcam', frozen=True)\n"
)
CASES = {
    # (what it stands for, command)
    "train digits ResNet-20 twins, 100 steps (CLI; the app's default size)": [
        *CLI,
        "train",
        "--depth",
        "20",
        "--width",
        "8",
        "--steps",
        "100",
        "--no-save",
        "--json",
    ],
    "probe shapes ResNet-56 twins, width 16, batch 128 (CLI; the theory page's probe)": [
        *CLI,
        "probe",
        "--dataset",
        "shapes",
        "--depth",
        "56",
        "--width",
        "16",
        "--batch-size",
        "128",
        "--json",
    ],
    "Grad-CAM, 224x224 ResNet-18, 40 maps (the saliency page's pretrained net)": [sys.executable, "-c", GRADCAM],
}


@contextmanager
def busy_core(on: bool) -> Iterator[None]:
    """One process spinning on a core for the duration (a stand-in for a busy server or browser)."""
    if not on:
        yield
        return
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.5)
    try:
        yield
    finally:
        spin.kill()
        spin.wait()


def wall(cmd: list[str], threads: str | None) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("RESNET_VIZ_THREADS", "OMP_NUM_THREADS")}
    if threads is not None:
        env["RESNET_VIZ_THREADS"] = threads
    env["RESNET_VIZ_RUNS"] = tempfile.mkdtemp()
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2, help="runs per cell; the median... of 2 is their mean")
    args = ap.parse_args()
    import torch

    print(
        f"# {platform.machine()} | {os.cpu_count()} cores | torch {torch.__version__.split('+')[0]} | seed 0 | "
        f"wall seconds per case (process start and torch import included), mean of {args.repeats}"
    )
    print(f"{'case':<84} {'load':>6} {'1 thread':>9} {'2 threads':>10} {'policy':>7}")
    for loaded in (False, True):
        with busy_core(loaded):
            for name, cmd in CASES.items():
                cells = []
                for threads in ("1", "2", None):
                    cells.append(sum(wall(cmd, threads) for _ in range(args.repeats)) / args.repeats)
                print(
                    f"{name:<84} {'1 core' if loaded else 'quiet':>6} {cells[0]:9.1f} {cells[1]:10.1f} {cells[2]:7.1f}"
                )


if __name__ == "__main__":
    main()
