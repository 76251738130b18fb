"""Training throughput and the cost of instrumentation, on the default offline dataset.

    python bench/bench_train.py            # all sections (~3 min on a 2-core CPU)
    python bench/bench_train.py --quick    # fewer steps, for a smoke run

Prints, beside every number, the machine, torch version, thread count and seed (airbench style).
Figures go into the README's "Measured" section; tests never assert timings.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
import torch.nn.functional as F

from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.engine.data import load_dataset
from resnet_viz.engine.devices import describe_device, select_device
from resnet_viz.engine.experiment import build_twins, fit_to_data
from resnet_viz.engine.train import batch_order, train


def header(device: torch.device, seed: int) -> str:
    return (
        f"# {platform.machine()} {platform.processor() or ''} | {describe_device(device)} | "
        f"threads {torch.get_num_threads()} | seed {seed} | python {platform.python_version()}"
    )


def bare_loop(model: torch.nn.Module, data, cfg: TrainConfig, device: torch.device) -> float:
    """The minimum any trainer does: forward, backward, SGD step; no logging, no probes. Seconds."""
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    order = batch_order(data.n_train, cfg.batch_size, cfg.steps, cfg.seed).to(device)
    model.to(device).train()
    t0 = time.perf_counter()
    for idx in order:
        loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def timed_train(cfgs: list[ModelConfig], data, cfg: TrainConfig, device: torch.device) -> tuple[float, list]:
    models = build_twins(cfgs, cfg.seed)
    t0 = time.perf_counter()
    hists = train(list(zip([c.name for c in cfgs], models)), data, cfg, device=device)
    return time.perf_counter() - t0, hists


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    device = select_device(args.device)
    data = load_dataset(DataConfig()).to(device)
    steps = 40 if args.quick else 100
    print(header(device, args.seed))
    print(f"# dataset digits ({data.n_train} train images, 8x8), width 8, BN, batch 64, SGD momentum 0.9, lr 0.1")

    print("\n## Throughput, one model at a time (train(), probes every 10 steps)")
    for depth in (20, 56):
        for residual in (False, True):
            cfg = fit_to_data(ModelConfig(depth=depth, residual=residual), data)
            tcfg = TrainConfig(steps=steps, seed=args.seed, probe_every=10)
            timed_train([cfg], data, TrainConfig(steps=5, seed=args.seed), device)  # warm-up
            secs = min(timed_train([cfg], data, tcfg, device)[0] for _ in range(args.repeats))
            print(f"{cfg.name:>12}: {steps * 64 / secs:8.0f} images/s  ({1000 * secs / steps:.1f} ms/step)")

    print("\n## Instrumentation cost (residual-56; median of repeats, interleaved)")
    cfg = fit_to_data(ModelConfig(depth=56), data)
    rows: dict[str, list[float]] = {"bare loop": [], "train, probes off": [], "train, probes every 10": []}
    for _ in range(args.repeats):
        torch.manual_seed(args.seed)
        model = build_twins([cfg], args.seed)[0]
        rows["bare loop"].append(bare_loop(model, data, TrainConfig(steps=steps, seed=args.seed), device))
        rows["train, probes off"].append(
            timed_train([cfg], data, TrainConfig(steps=steps, seed=args.seed, probe_every=0), device)[0]
        )
        rows["train, probes every 10"].append(
            timed_train([cfg], data, TrainConfig(steps=steps, seed=args.seed, probe_every=10), device)[0]
        )
    base = statistics.median(rows["bare loop"])
    for name, times in rows.items():
        med = statistics.median(times)
        print(f"{name:>24}: {1000 * med / steps:6.1f} ms/step  ({100 * (med / base - 1):+5.1f}% vs bare)")
    # train() also runs end-of-epoch and final test evaluations; the bare loop does not.

    print("\n## Default demo: plain-56 and residual-56 in lockstep, 200 steps (the page's default)")
    cfgs = [fit_to_data(ModelConfig(depth=56, residual=r), data) for r in (False, True)]
    secs, hists = timed_train(cfgs, data, TrainConfig(steps=200 if not args.quick else steps, seed=args.seed), device)
    print(f"wall {secs:.1f} s")
    for h in hists:
        s = h.summary()
        print(
            f"{h.name:>12}: train acc {100 * s['train_acc']:5.1f}%  test acc {100 * s['test_acc']:5.1f}%  "
            f"final train loss {s['train_loss']:.3f}  ({s['seconds']:.1f} s of its own steps)"
        )


if __name__ == "__main__":
    main()
