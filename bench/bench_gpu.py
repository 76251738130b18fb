"""The CUDA path, checked, and GPU throughput at the paper's CIFAR scale (needs a CUDA GPU).

    python bench/bench_gpu.py            # ~2 min on one H100/H200
    python bench/bench_gpu.py --steps 50

1. CUDA path: the trainer's convolutions see bf16 inputs in channels_last layout (on a GPU with
   native bf16), losses and probes are finite, and the first step's loss and per-layer gradient
   RMS match a CPU float32 run of the same init and batch within bf16 tolerance.
2. Throughput at the paper-scale preset's sizes: 3x32x32 images, width 16, batch 128, crop + flip
   on the device, probes on. Random tensors of CIFAR-10's sizes stand in for it (CIFAR-10 cannot
   be downloaded on an offline machine); time per step does not depend on the pixels. Prints what one CIFAR-10 epoch (391 steps) and the preset's
   schedule would take.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import platform
import time

import torch

from resnet_viz.degradation.sweep import PAPER_SCALE, plan
from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.engine.data import Dataset, load_dataset
from resnet_viz.engine.devices import describe_device
from resnet_viz.engine.experiment import build_twins, fit_to_data
from resnet_viz.engine.train import train

CIFAR_STEPS_PER_EPOCH = math.ceil(50_000 / 128)


def check_cuda_path(data, device: torch.device) -> None:
    print("\n## CUDA path")
    cfgs = [fit_to_data(ModelConfig(depth=20, width=16, residual=r), data) for r in (False, True)]
    models = build_twins(cfgs, seed=0)
    seen: list[tuple[torch.dtype, bool]] = []

    def record(_m, inputs, out) -> None:  # the first conv on every forward: autocast casts inside
        # the conv, so its output shows the compute dtype; the input shows the memory layout
        seen.append((out.dtype, inputs[0].is_contiguous(memory_format=torch.channels_last)))

    handle = next(m for m in models[1].modules() if isinstance(m, torch.nn.Conv2d)).register_forward_hook(record)
    hists = train(
        [(c.name, m) for c, m in zip(cfgs, models)],
        data,
        TrainConfig(steps=30, probe_every=10),
        device=device,
        augment=True,
    )
    handle.remove()
    bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
    dtypes = {d for d, _ in seen}
    print(
        f"conv output dtypes {sorted(map(str, dtypes))} (native bf16: {bf16}); channels_last on every "
        f"forward: {all(c for _, c in seen)}"
    )
    assert (dtypes == {torch.bfloat16}) == bf16 and all(c for _, c in seen), "autocast/channels_last not in effect"
    for h in hists:
        finite = all(math.isfinite(v) for v in h.loss) and all(math.isfinite(v) for row in h.grad_rms for v in row)
        print(
            f"{h.name}: status {h.status}, loss {h.loss[0]:.3f} -> {h.loss[-1]:.3f}, "
            f"{len(h.probe_step)} probes, finite: {finite}, identity split rows: {len(h.identity_grad)}"
        )
        assert h.status == "finished" and finite

    # Same init, same first batch: CUDA (bf16) vs CPU (fp32) loss and gradient RMS per layer.
    one = TrainConfig(steps=1, probe_every=1)
    out = {}
    for dev in (torch.device("cpu"), device):
        [model] = build_twins([cfgs[1]], seed=0)
        [h] = train([("r", model)], data, one, device=dev)
        out[dev.type] = (h.loss[0], h.grad_rms[0])
    (l_cpu, g_cpu), (l_gpu, g_gpu) = out["cpu"], out["cuda"]
    worst = max(abs(a - b) / max(abs(a), 1e-12) for a, b in zip(g_cpu, g_gpu))
    print(
        f"first step, CPU fp32 vs CUDA: loss {l_cpu:.4f} vs {l_gpu:.4f}; worst per-layer gradient RMS "
        f"difference {100 * worst:.1f}%"
    )


def cifar_shaped(seed: int = 0) -> Dataset:
    """Random tensors of CIFAR-10's sizes (50,000 + 10,000 images, 3x32x32, 10 classes): what the
    trainer's cost depends on, without the download."""
    g = torch.Generator().manual_seed(seed)
    return Dataset(
        "cifar10-shaped noise",
        torch.randn(50_000, 3, 32, 32, generator=g),
        torch.randint(0, 10, (50_000,), generator=g),
        torch.randn(10_000, 3, 32, 32, generator=g),
        torch.randint(0, 10, (10_000,), generator=g),
        tuple(map(str, range(10))),
        (0.0,) * 3,
        (1.0,) * 3,
    )


def _timed(named, data, cfg: TrainConfig, device: torch.device) -> float:
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    train(named, data, cfg, device=device, augment=True)
    torch.cuda.synchronize()
    return time.perf_counter() - t0


def throughput(device: torch.device, steps: int) -> None:
    print(
        f"\n## Throughput at paper scale (CIFAR-10-sized random data, width 16, batch 128, augment, probes "
        f"every {PAPER_SCALE.train.probe_every}); per step = (time of {2 * steps} steps - time of {steps}) / {steps}, "
        "which leaves out the final full-set evaluation"
    )
    data = cifar_shaped().to(device)
    base = dataclasses.replace(PAPER_SCALE.train, epochs=None, steps=steps)
    rows = [
        ("residual-56 alone", [ModelConfig(depth=56, width=16)]),
        ("residual-110 alone", [ModelConfig(depth=110, width=16)]),
    ]
    [job] = plan(PAPER_SCALE)
    rows.append((f"paper-scale sweep job: {len(job.models)} models in lockstep", list(job.models)))
    for label, cfgs in rows:
        cfgs = [fit_to_data(c, data) for c in cfgs]  # type: ignore[arg-type]
        models = build_twins(cfgs, seed=0)
        named = [(c.name, m) for c, m in zip(cfgs, models)]
        train(named, data, dataclasses.replace(base, steps=10), device=device, augment=True)  # warm-up
        short = _timed(named, data, base, device)
        long = _timed(named, data, dataclasses.replace(base, steps=2 * steps), device)
        per_step = (long - short) / steps
        evaluation = short - steps * per_step
        print(
            f"{label}: {1000 * per_step:.1f} ms/step, {len(cfgs) * 128 / per_step:,.0f} images/s through all "
            f"models; one CIFAR-10 epoch {per_step * CIFAR_STEPS_PER_EPOCH:.0f} s; final evaluation of 60k "
            f"images ~{max(evaluation, 0.0):.1f} s"
        )
        if label.startswith("paper-scale"):
            epochs = PAPER_SCALE.train.epochs or 0
            print(
                f"  the preset's {epochs:g} epochs: ~{per_step * CIFAR_STEPS_PER_EPOCH * epochs / 60:.1f} min per seed"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here: this benchmark checks the CUDA path")
    device = torch.device("cuda")
    torch.manual_seed(0)
    print(
        f"# {platform.machine()} | {describe_device(device)} | torch {torch.__version__} | "
        f"python {platform.python_version()} | seed 0"
    )
    check_cuda_path(load_dataset(DataConfig(name="shapes")), device)
    throughput(device, args.steps)


if __name__ == "__main__":
    main()
