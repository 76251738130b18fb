"""The command line's flags: every flag maps onto a field of ModelConfig / DataConfig / TrainConfig."""

from __future__ import annotations

import argparse
import math
from typing import Any, NoReturn

from resnet_viz import __version__


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


class TrainingFailed(RuntimeError):
    """A job that ended failed (its sentence says why: a lost cluster, a dead process): exit 1, one line."""


# Loss-landscape span (filter-normalised steps either way; Li et al. 2018 plot ±1). Far beyond it
# every point but the centre is a random net's loss; the bound also keeps the result's name
# ("r{span:g}") a valid run-store id, which "1e+30" is not.
MAX_SPAN = 100.0
# resnet_viz.teaching.atlas.DATASETS, said again so that `--help` stays free of torch (a test compares them)
ATLAS_DATASETS = ("digits", "shapes")


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
    from resnet_viz.engine.config import ACTIVATIONS, INITS, SHORTCUTS, ModelConfig

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
    from resnet_viz.engine.config import DEVICES, OPTIMIZERS, SCHEDULES, DataConfig, TrainConfig

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
    g.add_argument(
        "--ray",
        metavar="ADDRESS",
        default=None,
        help="train on the Ray cluster at ADDRESS (auto, host:6379, ray://host:10001, or local); needs .[cluster]",
    )


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
    from resnet_viz.engine.config import ConfigError, check_seed

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
    p = sub.add_parser(
        "atlas",
        help="compute the reference atlas the pages show on an empty run store",
        description="Trains, with the app's own sweep code, the degradation explorer's default settings on digits "
        "(depths 8-110) and shapes (depths 8-56), plain and residual, seeds 0-2, and Home's one-click demo at seeds 0-4 (weights dropped), and the saliency "
        "page's shapes pair (plain-32 and residual-32, with its weight snapshots in float16 and the analysis page's "
        "default lesion study, loss slice and near-identity measurement), and Train & compare's default twins "
        "(plain-56 and residual-56 on digits, metrics only), into the read-only run stores shipped "
        "with the package (resnet_viz/teaching/atlas), and writes its manifest: the command, the code version, "
        "torch, device and threads, seeds, date and a hash of the settings, so a stale atlas is detected. "
        "Resumable: runs already there are kept (--force rebuilds all). About 30 minutes on a 2-core CPU.",
    )
    p.add_argument("--datasets", nargs="+", choices=ATLAS_DATASETS, default=list(ATLAS_DATASETS), help="which sweeps")
    p.add_argument("--out", default=None, help="the atlas folder (default $RESNET_VIZ_ATLAS, else the package's own)")
    _bool_flag(p, "pair", True, "also train the reference pair of the saliency and analysis pages")
    _bool_flag(p, "demo", True, "also train Home's one-click demo at its five seeds")
    _bool_flag(p, "live", True, "also train Train & compare's default twins (plain-56, residual-56 on digits)")
    _bool_flag(p, "force", False, "delete the atlas and rebuild every run")
    p.add_argument("--check", action="store_true", help="only say whether the atlas matches the code (exit 1 if not)")
    return parser


def _add_analysis_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, metavar="RUN_ID", help="a run id from the run store")
    p.add_argument("--runs-dir", default=None, help="run store folder (default $RESNET_VIZ_RUNS or ./runs)")
    p.add_argument("--seed", type=_seed, default=0, help="random draws / directions")
    _bool_flag(p, "force", False, "recompute even if a saved result exists")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def model_configs(args: argparse.Namespace, depth: int) -> list[Any]:
    """One ModelConfig per --models kind at `depth`, from the model flags train, sweep and probe share."""
    from resnet_viz.engine.config import ModelConfig

    return [
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


def configs_from_args(args: argparse.Namespace) -> tuple[list[Any], Any, Any]:
    from resnet_viz.engine.config import DataConfig, TrainConfig

    # A sweep's template takes its first depth and seed 0: SweepConfig sets both per cell, and the
    # data stay the same for every seed (only init and batch order change between seeds).
    depth = args.depth if "depth" in args else args.depths[0]
    seed = args.seed if "seed" in args else 0
    model_cfgs = model_configs(args, depth)
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
