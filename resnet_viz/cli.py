"""`resnet-viz train ...`: the app's training path from a terminal.

Every flag maps onto a field of ModelConfig / DataConfig / TrainConfig; the configs validate
themselves, so a bad value surfaces here as one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn

from . import __version__


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


# Loss-landscape span (filter-normalised steps either way; Li et al. 2018 plot ±1). Far beyond it
# every point but the centre is a random net's loss; the bound also keeps the result's name
# ("r{span:g}") a valid run-store id, which "1e+30" is not.
MAX_SPAN = 100.0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse prints usage + error; we print one line
        raise CliError(f"{message} (see `{self.prog} --help`)")


def _bool_flag(p: argparse.ArgumentParser, name: str, default: bool, help: str) -> None:
    p.add_argument(f"--{name}", action=argparse.BooleanOptionalAction, default=default, help=help)


def _models(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    bad = [k for k in kinds if k not in ("plain", "residual")]
    if not kinds or bad:
        raise argparse.ArgumentTypeError(f"models must be a comma list of plain,residual; got {text!r}")
    return list(dict.fromkeys(kinds))


def _add_model_flags(p: argparse.ArgumentParser, *, depths: bool = False) -> None:
    """The model group shared by train, sweep and probe."""
    from .config import ACTIVATIONS, INITS, SHORTCUTS, ModelConfig

    m = ModelConfig()
    g = p.add_argument_group("model")
    g.add_argument("--arch", choices=("cifar", "mlp"), default=m.arch, help="6n+2 conv net or an MLP")
    if depths:
        g.add_argument("--depths", type=_ints, default=[20, 56], help="comma list, e.g. 20,32,56 (cifar: 6n+2)")
    else:
        g.add_argument(
            "--depth",
            type=int,
            default=m.depth,
            help="cifar: 6n+2 layers (8, 14, 20, 32, 44, 56, 110); mlp: hidden layers",
        )
    g.add_argument("--width", type=int, default=m.width, help="channels of stage 1 (paper: 16) or MLP units")
    g.add_argument("--models", type=_models, default=["plain", "residual"], help="plain,residual (default both)")
    g.add_argument("--alpha", type=float, default=m.alpha, help="skip strength of residual models: y = F(x) + alpha*x")
    g.add_argument("--shortcut", choices=SHORTCUTS, default=m.shortcut, help="A: zero-pad identity; B: 1x1 projection")
    _bool_flag(g, "preact", m.preact, "pre-activation blocks (He et al. 2016b)")
    _bool_flag(g, "bn", m.bn, "BatchNorm")
    g.add_argument("--activation", choices=ACTIVATIONS, default=m.activation)
    g.add_argument("--init", choices=INITS, default=m.init)
    _bool_flag(g, "zero-init-last-bn", m.zero_init_last_bn, "start each block's last BN at 0")


def _add_run_flags(p: argparse.ArgumentParser, *, sweep: bool) -> None:
    """The flags of `train`; `sweep` takes lists of depths and seeds instead of one of each."""
    from .config import DEVICES, OPTIMIZERS, SCHEDULES, DataConfig, TrainConfig

    d, t = DataConfig(), TrainConfig()
    _add_model_flags(p, depths=sweep)
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default=d.name, help="digits, shapes, cifar10, mnist, fashion_mnist, folder")
    g.add_argument("--data-root", default=None, help="download cache, or the ImageFolder path for --dataset folder")
    g.add_argument("--image-size", type=int, default=None, help="resize images to this many pixels square")
    g.add_argument("--limit", type=int, default=None, help="use at most this many training images")
    _bool_flag(g, "augment", d.augment, "random crop + flip on the device")
    g = p.add_argument_group("training")
    g.add_argument("--steps", type=int, default=t.steps)
    g.add_argument("--epochs", type=float, default=None, help="train for this many epochs instead of --steps")
    g.add_argument("--batch-size", type=int, default=t.batch_size)
    g.add_argument("--optimizer", choices=OPTIMIZERS, default=t.optimizer)
    g.add_argument("--lr", type=float, default=t.lr)
    g.add_argument("--momentum", type=float, default=t.momentum)
    g.add_argument("--weight-decay", type=float, default=t.weight_decay)
    g.add_argument("--schedule", choices=SCHEDULES, default=t.schedule)
    g.add_argument("--warmup-steps", type=int, default=t.warmup_steps)
    if sweep:
        g.add_argument("--seeds", type=_seeds, default=[0], help="comma list: one job per seed (init and batch order)")
        g.add_argument(
            "--warmup-110",
            type=int,
            default=0,
            metavar="STEPS",
            help="steps at lr/10 for depths >= 110 only (the paper's ResNet-110 warm-up: ~400)",
        )
        _bool_flag(g, "force", False, "retrain cells already in the run store")
    else:
        g.add_argument("--seed", type=_seed, default=t.seed)
    g.add_argument("--probe-every", type=int, default=t.probe_every, help="steps between gradient probes (0: off)")
    g.add_argument("--device", choices=DEVICES, default=t.device)
    g = p.add_argument_group("output")
    g.add_argument("--runs-dir", default=None, help="run store folder (default $RESNET_VIZ_RUNS or ./runs)")
    _bool_flag(g, "save", True, "write the runs to the run store")
    g.add_argument("--json", action="store_true", help="print one JSON document instead of the table")


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a comma list of whole numbers, e.g. 20,56; got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def _seed(text: str) -> int:
    """A seed every generator accepts (config.check_seed): an overflow inside torch or numpy
    would otherwise surface as "Overflow when unpacking long long"."""
    from .config import ConfigError, check_seed

    try:
        value = int(text)
        check_seed("seed", value)
    except ValueError as exc:  # ConfigError is a ValueError too
        raise argparse.ArgumentTypeError(
            str(exc) if isinstance(exc, ConfigError) else f"invalid int value: {text!r}"
        ) from None
    return value


def _seeds(text: str) -> list[int]:
    values = _ints(text)
    for v in values:
        _seed(str(v))
    return values


def _span(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_SPAN):
        raise argparse.ArgumentTypeError(
            f"span must be a number above 0 and at most {MAX_SPAN:g} (filter-normalised steps either way; Li et al. "
            f"2018 plot 1); got {text}"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="resnet-viz", description="Train plain and residual twins; store the runs.")
    parser.add_argument("--version", action="version", version=f"resnet-viz {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="train plain/residual twins on identical batches and store the runs")
    _add_run_flags(p, sweep=False)
    p = sub.add_parser(
        "sweep",
        help="train plain/residual twins at several depths and seeds; stored runs are reused",
        description="Training and test error vs depth (He et al. 2016, Fig. 1 and 6). A (model, depth, seed) "
        "already in the run store with the same settings is reused, not retrained (--force retrains).",
    )
    _add_run_flags(p, sweep=True)
    p = sub.add_parser(
        "probe",
        help="gradient norms and activation std per layer at initialisation, on one batch",
        description="No training: build each model from the seed, run one batch of the dataset forward and "
        "backward, and report every weighted layer, first (input) to last.",
    )
    _add_model_flags(p)
    g = p.add_argument_group("data and output")
    g.add_argument("--dataset", default="digits", help="digits, shapes, cifar10, mnist, fashion_mnist, folder")
    g.add_argument("--data-root", default=None, help="download cache, or the ImageFolder path for --dataset folder")
    g.add_argument("--batch-size", type=int, default=128, help="images in the one batch")
    g.add_argument("--seed", type=_seed, default=0, help="init of every model (twins share it)")
    g.add_argument("--json", action="store_true", help="print one JSON document instead of the table")

    p = sub.add_parser(
        "lesion",
        help="delete each block of a stored run at test time (Veit et al. 2016)",
        description="Test accuracy with each block deleted in turn, and with k random blocks deleted; "
        "saved in the run's folder (the app reuses it).",
    )
    _add_analysis_flags(p)
    p.add_argument("--draws", type=int, default=10, help="random draws per number of deleted blocks")
    p = sub.add_parser(
        "landscape",
        help="loss around a stored run's weights (Li et al. 2018)",
        description="L(theta + a d1 + b d2) along filter-normalised random directions, on a fixed "
        "evaluation set; saved in the run's folder (the app reuses it).",
    )
    _add_analysis_flags(p)
    p.add_argument("--grid", type=int, default=11, help="points per axis, odd, 3-81 (11: 121 evaluations in 2-D)")
    p.add_argument("--span", type=_span, default=1.0, help=f"a and b run from -span to +span (at most {MAX_SPAN:g})")
    p.add_argument("--dims", type=int, choices=(1, 2), default=2)
    p.add_argument("--split", choices=("test", "train"), default="test", help="the evaluation set")
    return parser


def _add_analysis_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, metavar="RUN_ID", help="a run id from the run store")
    p.add_argument("--runs-dir", default=None, help="run store folder (default $RESNET_VIZ_RUNS or ./runs)")
    p.add_argument("--seed", type=_seed, default=0, help="random draws / directions")
    _bool_flag(p, "force", False, "recompute even if a saved result exists")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def configs_from_args(args: argparse.Namespace) -> tuple[list[Any], Any, Any]:
    from .config import DataConfig, ModelConfig, TrainConfig

    # A sweep's template takes its first depth and seed 0: SweepConfig sets both per cell, and the
    # data stay the same for every seed (only init and batch order change between seeds).
    depth = args.depth if "depth" in args else args.depths[0]
    seed = args.seed if "seed" in args else 0
    model_cfgs = [
        ModelConfig(
            arch=args.arch,
            depth=depth,
            width=args.width,
            residual=(kind == "residual"),
            alpha=args.alpha,
            shortcut=args.shortcut,
            preact=args.preact,
            bn=args.bn,
            activation=args.activation,
            init=args.init,
            zero_init_last_bn=args.zero_init_last_bn,
        )
        for kind in args.models
    ]
    data_cfg = DataConfig(
        name=args.dataset,
        root=args.data_root,
        image_size=args.image_size,
        augment=args.augment,
        seed=seed,
        limit=args.limit,
    )
    train_cfg = TrainConfig(
        steps=args.steps,
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        lr=args.lr,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        schedule=args.schedule,
        warmup_steps=args.warmup_steps,
        seed=seed,
        probe_every=args.probe_every,
        device=args.device,
    )
    return model_cfgs, data_cfg, train_cfg


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most ~10 times a second."""

    # Whether a bar was drawn without its closing newline: an error printed then starts on a line
    # of its own instead of being glued to "[####----] 3/30 ...".
    unfinished: bool = False

    def __init__(self, total: int, names: Sequence[str], stream: Any = None) -> None:
        self.total, self.names, self.stream = total, list(names), stream or sys.stderr
        self.step: dict[str, int] = {}
        self.loss: dict[str, float] = {}
        self.t0, self.last_draw = time.perf_counter(), 0.0

    def __call__(self, update: Any) -> None:
        if update.kind == "steps" and update.data["step"]:
            self.step[update.model] = update.data["step"][-1]
            self.loss[update.model] = update.data["loss"][-1]
        now = time.perf_counter()
        if now - self.last_draw > 0.1:
            self.last_draw = now
            self.draw()

    def draw(self, end: str = "") -> None:
        done = max(self.step.values(), default=0)
        frac = done / self.total if self.total else 1.0
        bar = "#" * int(24 * frac) + "-" * (24 - int(24 * frac))
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / frac - elapsed if frac > 0 else float("nan")
        losses = "  ".join(f"{n} {self.loss[n]:.3f}" for n in self.names if n in self.loss)
        eta_s = f"eta {eta:4.0f}s" if math.isfinite(eta) else "eta    ?"
        self.stream.write(f"\r[{bar}] {done}/{self.total} {elapsed:5.1f}s {eta_s}  loss {losses}" + end)
        self.stream.flush()
        ProgressBar.unfinished = not end.endswith("\n")


def format_table(rows: Sequence[dict[str, Any]], *, seed: bool = False) -> str:
    cols = (
        [("name", "model")]
        + ([("seed", "seed"), ("reused", "reused")] if seed else [])
        + [
            ("params", "params"),
            ("status", "status"),
            ("steps", "steps"),
            ("train_loss", "train loss"),
            ("train_acc", "train acc"),
            ("test_acc", "test acc"),
            ("seconds", "seconds"),
            ("run_id", "run"),
        ]
    )

    def fmt(key: str, v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if key.endswith("_acc"):
            return "-" if isinstance(v, float) and math.isnan(v) else f"{100 * v:.1f}%"
        if isinstance(v, float):
            if not math.isfinite(v):
                return "-"
            if key == "seconds":
                return f"{v:.1f}"
            return f"{v:.3g}" if abs(v) >= 1e6 else f"{v:.3f}"  # a diverging loss: 1.77e+29, not 30 digits
        return str(v)

    cells = [[title for _, title in cols]] + [[fmt(k, r.get(k)) for k, _ in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)


def _json_safe(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _diverged_line(row: dict[str, Any], who: str) -> str:
    """What the History says about a diverged model: the step its loss became NaN/inf, or, when
    only the final measurement was not finite, that."""
    at = row.get("diverged_at")
    if at is None:
        return f"{who} diverged: its final training loss is not finite (NaN/inf)"
    return f"{who} diverged (loss became NaN/inf) at step {at}"


def _check_steps(train_cfg: Any, n_train: int) -> None:
    """An epoch budget becomes a step count only once the dataset's size is known."""
    from .config import check_total_steps
    from .train import total_steps

    if train_cfg.epochs is not None:
        check_total_steps(total_steps(train_cfg, n_train), what=f"{train_cfg.epochs:g} epochs")


def cmd_train(args: argparse.Namespace) -> int:
    from .data import load_dataset
    from .experiment import run_twins
    from .runs import RunStore
    from .train import total_steps

    model_cfgs, data_cfg, train_cfg = configs_from_args(args)
    data = load_dataset(data_cfg)
    _check_steps(train_cfg, data.n_train)
    store = RunStore(args.runs_dir) if args.save else None
    names = [c.name for c in model_cfgs]
    bar = None if args.json else ProgressBar(total_steps(train_cfg, data.n_train), names)
    try:
        results = run_twins(model_cfgs, data_cfg, train_cfg, store=store, dataset=data, on_update=bar)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    rows = [r.summary() for r in results]
    if args.json:
        print(json.dumps([{k: _json_safe(v) for k, v in row.items()} for row in rows], indent=2))
    else:
        bar.draw(end="\n")  # type: ignore[union-attr]
        print(format_table(rows))
        for row in rows:
            if row["status"] == "diverged":
                print(_diverged_line(row, row["name"]))
        if store is not None:
            print(f"runs written to {store.root}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from .runs import RunStore
    from .sweep import SweepConfig, plan, run_sweep

    model_cfgs, data_cfg, train_cfg = configs_from_args(args)
    if train_cfg.epochs is not None:
        from .data import load_dataset

        _check_steps(train_cfg, load_dataset(data_cfg).n_train)
    sweep = SweepConfig(
        depths=tuple(args.depths),
        kinds=tuple(args.models),
        seeds=tuple(args.seeds),
        model=model_cfgs[0],
        data=data_cfg,
        train=train_cfg,
        deep_warmup_steps=args.warmup_110,
    )
    store = RunStore(args.runs_dir) if args.save else None
    jobs = plan(sweep, store, force=args.force)
    n_cells = len(sweep.cells())
    n_new = sum(len(j.models) for j in jobs)
    if not args.json:
        print(
            f"{n_cells} runs: {n_cells - n_new} found in the run store, {n_new} to train in {len(jobs)} job(s)",
            file=sys.stderr,
        )
    state: dict[str, Any] = {}

    def on_job(i: int, n: int, job: Any) -> None:
        if args.json:
            return
        if "bar" in state:
            state["bar"].draw(end="\n")
        from .data import load_dataset
        from .train import total_steps

        names = [c.name for c in job.models]
        print(f"job {i + 1}/{n}: seed {job.seed}: {', '.join(names)}", file=sys.stderr)
        state["bar"] = ProgressBar(total_steps(job.train, load_dataset(job.data).n_train), names)

    try:
        results = run_sweep(
            sweep, store, force=args.force, on_job=on_job, on_update=None if args.json else lambda u: state["bar"](u)
        )
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    if "bar" in state:
        state["bar"].draw(end="\n")
    rows = [r.summary() for r in results]
    if args.json:
        print(json.dumps([{k: _json_safe(v) for k, v in row.items()} for row in rows], indent=2))
        return 0
    print(format_table(rows, seed=True))
    for row in rows:
        if row["status"] == "diverged":
            print(_diverged_line(row, f"{row['name']} seed {row['seed']}"))
    from .reading import sweep_reading
    from .sweep import depth_points

    for line in sweep_reading(depth_points(results), results):
        print(f"- {line}")
    if store is not None:
        print(f"runs in {store.root}")
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    from .config import DataConfig, ModelConfig
    from .data import load_dataset
    from .reading import profile_sentences
    from .theory import init_profiles

    cfgs = [
        ModelConfig(
            arch=args.arch,
            depth=args.depth,
            width=args.width,
            residual=(kind == "residual"),
            alpha=args.alpha,
            shortcut=args.shortcut,
            preact=args.preact,
            bn=args.bn,
            activation=args.activation,
            init=args.init,
            zero_init_last_bn=args.zero_init_last_bn,
        )
        for kind in args.models
    ]
    if args.batch_size < 1:
        raise CliError(f"--batch-size must be positive; got {args.batch_size}")
    data = load_dataset(DataConfig(name=args.dataset, root=args.data_root))
    # One call for all models: built from one seed (twins start identical), measured on one batch.
    profiles = init_profiles(cfgs, data, seed=args.seed, batch=args.batch_size)
    rows = [
        {"model": c.kind, "name": p.name, "depth": c.depth, "layers": layer_rows(p)} for c, p in zip(cfgs, profiles)
    ]
    if args.json:
        print(
            json.dumps(
                [
                    {**r, "layers": [{k: _json_safe(v) for k, v in layer.items()} for layer in r["layers"]]}
                    for r in rows
                ],
                indent=2,
            )
        )
        return 0
    for row in rows:
        print(
            f"{row['name']} at initialisation (seed {args.seed}, one batch of {args.batch_size} {args.dataset} images)"
        )
        print(f"  {'layer':<24} {'grad L2':>10} {'grad RMS':>10} {'dL/dx RMS':>10} {'act std':>9}")
        for layer in row["layers"]:
            std = "-" if layer["act_std"] is None else f"{layer['act_std']:.3g}"
            gx = "-" if layer["grad_x_rms"] is None else f"{layer['grad_x_rms']:.3g}"
            print(f"  {layer['name']:<24} {layer['grad_norm']:>10.3g} {layer['grad_rms']:>10.3g} {gx:>10} {std:>9}")
    for line in profile_sentences(profiles):
        print(f"- {line}")
    return 0


def cmd_lesion(args: argparse.Namespace) -> int:
    from .analysis import run_lesion
    from .runs import RunStore

    if args.draws < 1:
        raise CliError(f"--draws must be positive; got {args.draws}")
    result = run_lesion(RunStore(args.runs_dir), args.run, draws=args.draws, seed=args.seed, force=args.force)
    doc = result.to_dict()
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"{args.run}: test accuracy {100 * doc['baseline_acc']:.1f}% with every block")
    for b in doc["blocks"]:
        mark = "  (changes resolution)" if b["downsampling"] else ""
        print(f"  without {b['name']:<12} {100 * b['acc']:5.1f}%{mark}")
    for r in doc["random"]:
        print(f"  {r['k']:>2} random blocks deleted: {100 * r['mean_acc']:5.1f}% +- {100 * r['std_acc']:.1f}")
    return 0


def cmd_landscape(args: argparse.Namespace) -> int:
    from .analysis import run_landscape
    from .runs import RunStore

    bar = None if args.json else ProgressBar(args.grid**args.dims, ["grid points"])

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.step["grid points"] = done
            bar.draw()

    try:
        result = run_landscape(
            RunStore(args.runs_dir),
            args.run,
            grid=args.grid,
            span=args.span,
            dims=args.dims,
            seed=args.seed,
            split=args.split,
            force=args.force,
            on_progress=progress,
        )
    except ValueError as exc:  # grid/span out of range: the library's sentence
        raise CliError(str(exc)) from None
    doc = result.to_dict()
    if args.json:
        print(json.dumps(doc, default=_json_safe))
        return 0
    if bar is not None:
        bar.draw(end="\n")
    import numpy as np

    loss = np.asarray(result.loss, dtype=float)
    centre = loss[tuple(s // 2 for s in loss.shape)]
    print(
        f"{args.run}: loss {centre:.4f} at the trained weights; min {np.nanmin(loss):.4f}, max {np.nanmax(loss):.4f} "
        f"over the {'x'.join(map(str, loss.shape))} grid (span {args.span:g}, {args.split} split)"
    )
    return 0


def layer_rows(p: Any) -> list[dict[str, Any]]:
    """One entry per weighted layer, first first. act_std and grad_x_rms (RMS of dL/dx at the
    block's output) are per block, so each layer carries its block's value; stem and head layers
    have none."""

    def block_of(layer: str) -> int | None:
        hits = [i for i, b in enumerate(p.block_names) if layer.startswith(b + ".")]
        return hits[-1] if hits else None

    rows = []
    for i, name in enumerate(p.layer_names):
        b = block_of(name)
        rows.append(
            {
                "name": name,
                "grad_norm": p.grad_norm[i],
                "grad_rms": p.grad_rms[i],
                "act_std": p.act_std[b] if b is not None else None,
                "grad_x_rms": p.grad_x_rms[b] if b is not None and b < len(p.grad_x_rms) else None,
            }
        )
    return rows


def _error(text: str) -> None:
    if ProgressBar.unfinished:  # the bar's line has no newline yet
        sys.stderr.write("\n")
        ProgressBar.unfinished = False
    print(f"resnet-viz: error: {text}", file=sys.stderr)


def _out_of_memory(exc: BaseException) -> bool:
    """The allocator's failures: MemoryError, torch's CPU "can't allocate memory" RuntimeError, CUDA OOM."""
    return (
        isinstance(exc, MemoryError)
        or type(exc).__name__ == "OutOfMemoryError"
        or (isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc))
    )


def main(argv: Sequence[str] | None = None) -> int:
    from .config import ConfigError

    ProgressBar.unfinished = False
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command == "train":
            return cmd_train(args)
        if args.command == "sweep":
            return cmd_sweep(args)
        if args.command == "probe":
            return cmd_probe(args)
        if args.command == "lesion":
            return cmd_lesion(args)
        if args.command == "landscape":
            return cmd_landscape(args)
        raise CliError(f"unknown command {args.command!r}")
    except (CliError, ConfigError) as exc:
        _error(str(exc))
        return 2
    except Exception as exc:  # noqa: BLE001 (data unavailable, run store trouble, or a bug: still one line)
        from .data import DatasetUnavailable
        from .runs import RunStoreError

        if _out_of_memory(exc):
            _error(
                "not enough memory for these settings; lower --batch-size, --width, --depth or --image-size "
                f"(or set --limit) ({type(exc).__name__})"
            )
            return 2
        if isinstance(exc, DatasetUnavailable):
            _error(exc.with_paths)  # the terminal's user owns this machine: name its folders
        elif isinstance(exc, RunStoreError):
            _error(str(exc))
        else:
            _error(f"{type(exc).__name__}: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
