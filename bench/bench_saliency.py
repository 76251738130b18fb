"""Latency of one saliency map, the number a learner feels after clicking an image.

    python bench/bench_saliency.py              # ~1 min on a 2-core CPU
    python bench/bench_saliency.py --threads 1  # e.g. on a machine shared with other jobs

Checked against peers (--peers): the same Grad-CAM from pytorch-grad-cam (PyPI `grad-cam`) and
TorchCAM (PyPI `torchcam`; its extractor API as of 0.5.0: `cam(class_idx=, scores=, normalized=)` returns
one (N, h, w) map per hooked layer), timed in turns on the same model, image, layer and class, each map
correlated with ours at the layer's resolution and at the input's. The app never depends on them:
they live in a venv of their own, outside the repository (from the repository root; no GPU needed):

    python3 -m venv /tmp/peers-venv
    /tmp/peers-venv/bin/pip install -e . grad-cam torchcam
    /tmp/peers-venv/bin/python bench/bench_saliency.py --peers [--peers-only] [--threads 1]

Without them installed, --peers prints one line saying so and skips the comparison.

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
import copy
import os
import platform
import statistics
import time
from collections.abc import Callable

import captum
import torch
import torch.nn.functional as F
from captum.attr import LayerGradCam
from torch import nn

from resnet_viz.engine.config import ModelConfig
from resnet_viz.engine.models import build_model
from resnet_viz.saliency.maps import METHODS, _ClassScore, attribute, default_layer, frozen_copy


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


# --- peers: the same Grad-CAM from pytorch-grad-cam and TorchCAM -----------------------------------

PEER_INSTALL = (
    "python3 -m venv /tmp/peers-venv && /tmp/peers-venv/bin/pip install -e . grad-cam torchcam, "
    "then /tmp/peers-venv/bin/python bench/bench_saliency.py --peers"
)


def peer_versions() -> dict[str, str] | None:
    """The peers' versions, or None (after one line saying how to install them) if one is missing."""
    from importlib import metadata

    try:
        import pytorch_grad_cam  # noqa: F401
        import torchcam.methods  # noqa: F401

        return {name: metadata.version(name) for name in ("grad-cam", "torchcam", "opencv-python-headless")}
    except ImportError as e:  # metadata.PackageNotFoundError is one too
        print(f"# --peers skipped ({e}); they are not app dependencies, install them apart: {PEER_INSTALL}")
        return None


def interleaved_ms(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 2) -> dict[str, list[float]]:
    """Each fn's times in ms, run in turns (a, b, c, a, b, c, ...): a change of load on a shared CPU
    then falls on every contestant alike, not on whichever happened to run during it, and round i of
    one can be divided by round i of another."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(1000 * (time.perf_counter() - t0))
    return times


def quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return q1, q2, q3


def pearson(a: object, b: object) -> float:
    a = torch.as_tensor(a).double().flatten()
    b = torch.as_tensor(b).double().flatten()
    a, b = a - a.mean(), b - b.mean()
    den = float(a.norm() * b.norm())
    return float(a @ b) / den if den > 0 else float("nan")


def max_scaled_diff(a: object, b: object) -> float:
    """Largest difference of the two maps once each is divided by its maximum (1.0 = as far apart as can be)."""
    a = torch.as_tensor(a).double()
    b = torch.as_tensor(b).double()
    return float((a / a.max().clamp_min(1e-30) - b / b.max().clamp_min(1e-30)).abs().max())


def upsample(cam: object, size: tuple[int, int]) -> torch.Tensor:
    """(h, w) -> (H, W), bilinear, align_corners=False: what captum's LayerAttribution.interpolate does for ours."""
    cam = torch.as_tensor(cam).float()
    return F.interpolate(cam[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]


def peer_case(name: str, model: nn.Module, x: torch.Tensor, repeats: int, tag: str) -> None:
    from pytorch_grad_cam import GradCAM as GradCamLib
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    from torchcam.methods import GradCAM as TorchCamGradCAM

    model.eval()
    frozen = frozen_copy(model)
    layer_name = default_layer(model)[0]
    size = (x.shape[-2], x.shape[-1])
    with torch.no_grad():
        c = int(frozen(x).argmax(dim=1))  # one class for all: the image's top-1
    t = torch.tensor([c])

    # Each peer hooks its own copy (one's hooks would run in the other's forwards), set up as their
    # READMEs show: eval mode, parameters requiring grad, torchvision's in-place ReLUs as they are.
    # Extractors are built once, as the app keeps one frozen copy per model.
    gc_model = copy.deepcopy(model).eval()
    gc_layer = gc_model.get_submodule(layer_name)
    gc = GradCamLib(model=gc_model, target_layers=[gc_layer])
    gc_targets = [ClassifierOutputTarget(c)]
    tc_model = copy.deepcopy(model).eval()
    tc = TorchCamGradCAM(tc_model, layer_name)

    def ours() -> torch.Tensor:
        return attribute(frozen, x, "gradcam", layer_name, c, frozen=True)[0]  # (H, W)

    def grad_cam_lib() -> object:
        return gc(input_tensor=x, targets=gc_targets)[0]  # (H, W) numpy: ReLU, min-max to [0, 1], cv2.resize

    def torchcam_low(normalized: bool = True) -> torch.Tensor:
        scores = tc_model(x)
        return tc(class_idx=c, scores=scores, normalized=normalized)[0][0]  # (h, w): ReLU (+ min-max)

    def torchcam_lib() -> torch.Tensor:
        return upsample(torchcam_low(), size)  # torchcam stops at (h, w); upsampled as ours, to compare like with like

    # Parts of ours, to find where its time goes.
    layer = frozen.get_submodule(layer_name)

    def captum_only() -> torch.Tensor:
        with torch.enable_grad():
            return LayerGradCam(_ClassScore(frozen, t), layer).attribute(x, relu_attributions=True)  # (1, 1, h, w)

    def hand_rolled() -> torch.Tensor:
        """The same Grad-CAM without captum: hook the layer's output, autograd.grad of the class logit to it."""
        store: dict[str, torch.Tensor] = {}

        def hook(_m: nn.Module, _i: object, out: torch.Tensor) -> torch.Tensor:
            store["a"] = out.detach().requires_grad_()  # frozen weights: no graph below the layer
            return store["a"]

        handle = layer.register_forward_hook(hook)
        try:
            with torch.enable_grad():
                (g,) = torch.autograd.grad(frozen(x)[0, c], store["a"])
        finally:
            handle.remove()
        a = store["a"].detach()
        cam = F.relu((g.mean(dim=(2, 3), keepdim=True) * a).sum(dim=1, keepdim=True))
        return F.interpolate(cam, size=size, mode="bilinear", align_corners=False)[0, 0]

    # --- the maps ---
    ours_map = ours()
    ours_low = captum_only()[0, 0].detach()  # what attribute() computes before upsampling
    gc_map = grad_cam_lib()
    acts = gc.activations_and_grads.activations[0].numpy()  # the tensors the call above used
    grads = gc.activations_and_grads.gradients[0].numpy()
    gc_low = torch.from_numpy(gc.get_cam_image(x, gc_layer, gc_targets, acts, grads)[0]).clamp_min(0)  # its ReLU
    tc_low = torchcam_low(normalized=False)
    hand_map = hand_rolled()

    print(
        f"\n## Grad-CAM vs peers, {name}, input {tuple(x.shape)}, layer {layer_name} ({tuple(ours_low.shape)} map), "
        f"class {c} (top-1)  [{tag}]"
    )
    print(
        f"ours' map before upsampling, bilinearly upsampled, vs attribute(): max |diff| "
        f"{float((upsample(ours_low, size) - ours_map).abs().max()):.1e}; "
        f"share of the {tuple(ours_low.shape)} map > 0: {float((ours_low > 0).double().mean()):.2f}"
    )
    print("Pearson r with ours (ReLU'd maps; r ignores scale, so min-max normalisation does not matter):")
    print(
        f"{'':>30}  {'layer res (h, w)':>17}  {'input res, both bilinear':>25}  {'input res, lib output':>22}  "
        f"{'max scaled diff, (h, w)':>24}"
    )
    print(
        f"{'pytorch-grad-cam GradCAM':>30}  {pearson(ours_low, gc_low):17.6f}  "
        f"{pearson(ours_map, upsample(gc_low, size)):25.6f}  {pearson(ours_map, gc_map):22.6f}  "
        f"{max_scaled_diff(ours_low, gc_low):24.1e}"
    )
    print(
        f"{'torchcam GradCAM':>30}  {pearson(ours_low, tc_low):17.6f}  "
        f"{pearson(ours_map, upsample(tc_low, size)):25.6f}  {'(low-res only)':>22}  "
        f"{max_scaled_diff(ours_low, tc_low):24.1e}"
    )
    print(f"{'hand-rolled (no captum)':>30}  {'':>17}  {pearson(ours_map, hand_map):25.6f}")
    print("  (lib output: grad-cam's own map, min-max then cv2.resize INTER_LINEAR; torchcam returns only (h, w))")

    # --- the times ---
    times = interleaved_ms(
        {
            "ours: attribute(frozen=True)": ours,
            "pytorch-grad-cam": grad_cam_lib,
            "torchcam (+ bilinear up)": torchcam_lib,
            "  captum LayerGradCam alone": captum_only,
            "  hand-rolled, frozen copy": hand_rolled,
            "  bare forward, frozen, no_grad": forward_only(frozen, x),
        },
        repeats,
    )
    ms = {k: statistics.median(v) for k, v in times.items()}
    fastest = min(("pytorch-grad-cam", "torchcam (+ bilinear up)"), key=ms.get)
    # Per round, ours / fastest peer: the spread says how far the shared CPU moves the ratio.
    ours_times = times["ours: attribute(frozen=True)"]
    q1, ratio, q3 = quartiles([a / b for a, b in zip(ours_times, times[fastest], strict=True)])
    print(
        f"Median ms, one image, {torch.get_num_threads()} threads, run in turns, {repeats} rounds after 2 of warm-up "
        f"(load avg {os.getloadavg()[0]:.2f}); [quartiles]:"
    )
    for label, v in ms.items():
        lo, _, hi = quartiles(times[label])
        note = ""
        if label.startswith("ours"):
            verdict = (
                "no slower than the fastest peer"
                if ratio <= 1
                else "on par with the fastest peer (within the round-to-round spread)"
                if q1 <= 1
                else f"SLOWER than the fastest peer by {v - ms[fastest]:.1f} ms"
            )
            note = f"ours/{fastest.split(' ')[0]} per round: median {ratio:.3f} [{q1:.3f}, {q3:.3f}]: {verdict}"
        elif label.startswith("  captum"):
            note = "(no lock, no copy of x, no upsampling)"
        elif label.startswith("  hand"):
            note = "(hook + autograd.grad + bilinear up: ours' approach without captum)"
        elif label.startswith("  bare"):
            note = "(the floor every method pays)"
        print(f"{label:>30}: {v:8.2f} ms [{lo:7.2f}, {hi:7.2f}]  {note}")
    gc.activations_and_grads.release()
    tc.remove_hooks()


def run_peers(seed: int, repeats: int, tag: str) -> None:
    versions = peer_versions()
    if versions is None:
        return
    import torchvision

    from resnet_viz.engine.data.images import IMAGENET_MEAN, IMAGENET_STD, sample_images, to_model_input

    peers = ", ".join(f"{k} {v}" for k, v in versions.items())
    print(
        f"\n# peers: {peers}, torchvision {torchvision.__version__}; models seeded random init (an untrained "
        "net's map is still a fixed function of weights and image); "
        "image: scikit-learn's china.jpg through the app's own preprocessing"
    )
    china = next(iter(sample_images().values()))
    torch.manual_seed(seed)
    resnet18 = torchvision.models.resnet18(weights=None)
    x224 = to_model_input(china, size=224, channels=3, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    peer_case("torchvision resnet18 (seeded init)", resnet18, x224, repeats, tag)
    torch.manual_seed(seed)
    cifar = build_model(ModelConfig(depth=20, width=16, in_channels=3, image_size=32, num_classes=10))
    x32 = to_model_input(china, size=32, channels=3, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    peer_case("CifarResNet-20, width 16 (seeded init)", cifar, x32, 5 * repeats, tag)  # ~10 ms a call: more rounds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    ap.add_argument("--peers", action="store_true", help="also time pytorch-grad-cam and torchcam (see the docstring)")
    ap.add_argument("--peers-only", action="store_true", help="only the peer comparison")
    ap.add_argument("--peer-repeats", type=int, default=20, help="rounds of the peer comparison (5x for CIFAR)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    print(header(args.seed))
    tag = f"torch {torch.__version__}, {torch.get_num_threads()} threads, seed {args.seed}, median of {args.repeats}"
    if not args.peers_only:
        run_own(args, tag)
    if args.peers or args.peers_only:
        run_peers(args.seed, args.peer_repeats, tag.rsplit(", median of", 1)[0])
    print(header(args.seed).replace("# ", "# end: ", 1))


def run_own(args: argparse.Namespace, tag: str) -> None:
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


if __name__ == "__main__":
    main()
