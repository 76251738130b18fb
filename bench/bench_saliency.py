"""Latency of one saliency map, the number a learner feels after clicking an image.

    python bench/bench_saliency.py              # ~1 min on a 2-core CPU
    python bench/bench_saliency.py --threads 1  # e.g. on a machine shared with other jobs

Targets (Grad-CAM, one image, after warm-up, median of --repeats runs):
  torchvision resnet18 at 224x224: < 0.3 s;  CifarResNet-20 (width 16) at 32x32: < 50 ms.
Each case is split into its parts: the deep copy (frozen_copy), attribute() on an already-frozen
model (frozen=True), and, for scale, a bare forward (no graph) and a forward+backward to the input pixels.
Timing does not depend on the weights, so resnet18 runs with weights=None (no download).
Prints, beside every number, the machine, torch and captum versions, threads and seed
(airbench style), plus the load average: on a shared CPU it moves these numbers the most.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import captum
import torch
from torch import nn

from resnet_viz.config import ModelConfig
from resnet_viz.models import build_model
from resnet_viz.saliency import METHODS, attribute, default_layer, frozen_copy


def header(seed: int) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"# {platform.machine()} {platform.processor() or ''} | {os.cpu_count()} cores | "
        f"torch {torch.__version__} | captum {captum.__version__} | threads {torch.get_num_threads()} | "
        f"seed {seed} | python {platform.python_version()} | load avg {load:.2f}"
    )


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):  # oneDNN picks and caches kernels per shape on the first calls
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def forward_only(frozen: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """The floor every method pays: one forward pass, no graph."""

    def run() -> None:
        with torch.no_grad():
            frozen(x)

    return run


def forward_backward_to_input(frozen: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """A full backward of the top logit to the input pixels (what saliency pays; Grad-CAM stops at its layer)."""

    def run() -> None:
        xr = x.clone().requires_grad_()
        frozen(xr).max(dim=1).values.sum().backward()

    return run


def bench_case(name: str, model: nn.Module, x: torch.Tensor, target_ms: float, repeats: int, tag: str) -> None:
    frozen = frozen_copy(model)
    layer = default_layer(model)[0]
    rows = {
        "attribute (copy per call)": median_ms(lambda: attribute(model, x, "gradcam"), repeats),
        "attribute (frozen=True)": median_ms(lambda: attribute(frozen, x, "gradcam", frozen=True), repeats),
        "  of which frozen_copy": median_ms(lambda: frozen_copy(model), repeats),
        "  for scale: forward only": median_ms(forward_only(frozen, x), repeats),
        "  forward+backward to input": median_ms(forward_backward_to_input(frozen, x), repeats),
    }
    print(f"\n## Grad-CAM, {name}, input {tuple(x.shape)}, layer {layer} (target < {target_ms:g} ms)  [{tag}]")
    for label, ms in rows.items():
        verdict = ""
        if not label.startswith("  "):
            verdict = (
                "meets target"
                if ms < target_ms
                else f"MISSES target by {ms - target_ms:.0f} ms ({ms / target_ms:.1f}x)"
            )
        print(f"{label:>28}: {ms:8.1f} ms  {verdict}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    print(header(args.seed))
    tag = f"torch {torch.__version__}, {torch.get_num_threads()} threads, seed {args.seed}, median of {args.repeats}"

    import torchvision

    resnet18 = torchvision.models.resnet18(weights=None)  # 1000 classes, as the pretrained page uses
    x224 = torch.randn(1, 3, 224, 224)
    bench_case("torchvision resnet18 (weights=None)", resnet18, x224, 300, args.repeats, tag)

    cifar = build_model(ModelConfig(depth=20, width=16, in_channels=3, image_size=32, num_classes=10))
    x32 = torch.randn(1, 3, 32, 32)
    bench_case("CifarResNet-20, width 16", cifar, x32, 50, args.repeats, tag)

    print(f"\n## The other methods, CifarResNet-20 width 16, one 32x32 image, frozen=True  [{tag}]")
    frozen = frozen_copy(cifar)
    for method in METHODS:
        ms = median_ms(lambda m=method: attribute(frozen, x32, m, frozen=True), args.repeats)
        extra = " (n_steps 32, internal_batch_size 16)" if method == "integrated_gradients" else ""
        print(f"{method:>28}: {ms:8.1f} ms{extra}")
    print(header(args.seed).replace("# ", "# end: ", 1))


if __name__ == "__main__":
    main()
