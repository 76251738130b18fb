"""Depth sweeps: plain/residual twins at several depths and seeds (He et al. 2016, Figs. 1 and 6).

A sweep is a set of cells (depth, kind, seed). Each cell is one run in the run store; a cell that
was already trained with the same configuration is reused, not retrained. The missing cells are
grouped into one job per (seed, training config): every model of a job starts from that seed and
sees the identical batch sequence, so the only difference between two cells of a seed is the
architecture. Training a model alone or beside others gives the same run, which is why a cell can
be reused whichever job produced it.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..engine.config import ConfigError, DataConfig, ModelConfig, TrainConfig, check_cifar_depth
from ..engine.data import Dataset, load_dataset
from ..engine.experiment import ModelResult, run_twins
from ..engine.history import History, Update
from ..engine.models import build_model, count_params
from ..engine.runs import RunInfo, RunStore, RunStoreError, RunStoreWarning
from ..engine.train import total_steps
from ..i18n import _

Kind = Literal["plain", "residual"]
KINDS: tuple[Kind, ...] = ("plain", "residual")
REUSABLE = ("finished", "diverged")  # a diverged run is a result too: retraining diverges again
MAX_SEEDS = 10

# He et al. 2016, Table 6: CIFAR-10 test error (%) of the residual nets, best of 5 runs except
# 110 ("best (mean±std)" = 6.43 (6.61±0.16)), and their parameter counts (option A, w=16).
PAPER_TABLE6: tuple[dict[str, Any], ...] = (
    {"depth": 20, "params": "0.27M", "test_error": 8.75},
    {"depth": 32, "params": "0.46M", "test_error": 7.51},
    {"depth": 44, "params": "0.66M", "test_error": 7.17},
    {"depth": 56, "params": "0.85M", "test_error": 6.97},
    {"depth": 110, "params": "1.7M", "test_error": 6.43},
)
PAPER_WARMUP_DEPTH = 110  # §4.2: ResNet-110 starts at lr 0.01 until training error < 80% (~400 steps)


@dataclass(frozen=True)
class SweepConfig:
    depths: tuple[int, ...] = (20, 56)  # cifar: 6n+2 layers; mlp: hidden layers. Sorted, no repeats
    kinds: tuple[Kind, ...] = KINDS  # which twins to train at each depth
    seeds: tuple[int, ...] = (0,)  # one job per seed: init and batch order
    model: ModelConfig = field(default_factory=ModelConfig)  # template: depth and residual set per cell
    data: DataConfig = field(default_factory=DataConfig)  # the same data for every cell
    train: TrainConfig = field(default_factory=TrainConfig)  # template: seed set per cell (the budget is shared)
    deep_warmup_steps: int = 0  # steps at lr/10 for depths >= PAPER_WARMUP_DEPTH (paper: ~400); 0: none

    def __post_init__(self) -> None:
        # Accept any iterable (CLI lists, widget values) but store sorted tuples: equal sweeps compare equal.
        depths = tuple(sorted({int(d) for d in self.depths}))
        kinds = tuple(k for k in KINDS if k in set(self.kinds))
        unknown = [str(k) for k in self.kinds if k not in KINDS]
        seeds = tuple(sorted({int(s) for s in self.seeds}))
        object.__setattr__(self, "depths", depths)
        object.__setattr__(self, "kinds", kinds)
        object.__setattr__(self, "seeds", seeds)
        if not depths:
            raise ConfigError(_("choose at least one depth"))
        if not kinds or unknown:
            raise ConfigError(
                _("models must be plain and/or residual; got {kinds}").format(kinds=", ".join(unknown) or _("none"))
            )
        if not seeds:
            raise ConfigError(_("choose at least one seed"))
        if len(seeds) > MAX_SEEDS or min(seeds) < 0:
            raise ConfigError(
                _("use 1 to {most} seeds, each 0 or more; got {count}").format(most=MAX_SEEDS, count=len(seeds))
            )
        for d in depths:
            if self.model.arch == "cifar":
                check_cifar_depth(d)
            elif d < 1:
                raise ConfigError(_("MLP depth must be at least 1; got {depth}").format(depth=d))
        if self.deep_warmup_steps < 0:
            raise ConfigError(_("deep_warmup_steps must not be negative"))

    def model_config(self, depth: int, kind: Kind) -> ModelConfig:
        return dataclasses.replace(self.model, depth=depth, residual=kind == "residual")

    def train_config(self, depth: int, seed: int) -> TrainConfig:
        warm = self.deep_warmup_steps if depth >= PAPER_WARMUP_DEPTH and self.deep_warmup_steps else None
        if warm is None:
            return dataclasses.replace(self.train, seed=seed)
        return dataclasses.replace(self.train, seed=seed, warmup_steps=warm)

    def cells(self) -> list[tuple[int, Kind, int]]:
        """(depth, kind, seed) in the order jobs train them: seed, then depth, plain before residual."""
        return [(d, k, s) for s in self.seeds for d in self.depths for k in self.kinds]


@dataclass(frozen=True)
class Job:
    """Models trained together: same seed, same training config, identical batches."""

    seed: int
    models: tuple[ModelConfig, ...]
    data: DataConfig
    train: TrainConfig


@dataclass(frozen=True)
class SweepResult:
    depth: int
    kind: Kind
    seed: int
    result: ModelResult  # config as trained, params, full history, run id
    reused: bool  # found in the run store instead of trained by this call
    reference: bool = False  # from the reference atlas (resnet_viz.teaching.atlas), not the learner's store

    @property
    def history(self) -> History:
        return self.result.history

    @property
    def name(self) -> str:
        return self.result.config.name

    def summary(self) -> dict[str, object]:
        """`resnet-viz train --json`'s fields plus the seed (and whether the run was reused)."""
        return {**self.result.summary(), "seed": self.seed, "reused": self.reused}


def same_model(stored: ModelConfig, wanted: ModelConfig) -> bool:
    """Equal configs, ignoring the input/output fields that the dataset fills in at training time
    (runs store the model as trained; a sweep's template still has the defaults)."""
    return stored == dataclasses.replace(
        wanted, in_channels=stored.in_channels, image_size=stored.image_size, num_classes=stored.num_classes
    )


def find_run(runs: Iterable[RunInfo], model: ModelConfig, data: DataConfig, train: TrainConfig) -> RunInfo | None:
    """The newest reusable run of exactly this configuration, or None."""
    hits = [
        r for r in runs if r.status in REUSABLE and r.data == data and r.train == train and same_model(r.model, model)
    ]
    return max(hits, key=lambda r: r.created, default=None)


def stored_cells(
    sweep: SweepConfig, store: RunStore, runs: Sequence[RunInfo] | None = None
) -> dict[tuple[int, Kind, int], RunInfo]:
    """The cells of `sweep` already in the store (`runs`: the store's runs when already listed)."""
    runs = store.list() if runs is None else runs
    found = {}
    for depth, kind, seed in sweep.cells():
        info = find_run(runs, sweep.model_config(depth, kind), sweep.data, sweep.train_config(depth, seed))
        if info is not None:
            found[(depth, kind, seed)] = info
    return found


def plan(sweep: SweepConfig, store: RunStore | None = None, *, force: bool = False) -> list[Job]:
    """The jobs that train the cells missing from `store` (all cells with `force` or no store)."""
    done = stored_cells(sweep, store) if store is not None and not force else {}
    groups: dict[tuple[int, TrainConfig], list[ModelConfig]] = {}
    for depth, kind, seed in sweep.cells():
        if (depth, kind, seed) not in done:
            groups.setdefault((seed, sweep.train_config(depth, seed)), []).append(sweep.model_config(depth, kind))
    return [Job(seed, tuple(models), sweep.data, train) for (seed, train), models in groups.items()]


_PARAMS: dict[ModelConfig, int] = {}


def param_count(cfg: ModelConfig) -> int:
    """Parameters of `cfg`, counted once per config (a sweep lists many cells of a few configs)."""
    if cfg not in _PARAMS:
        _PARAMS[cfg] = count_params(build_model(cfg))
    return _PARAMS[cfg]


def collect(
    sweep: SweepConfig, store: RunStore, *, reused: bool = True, runs: Sequence[RunInfo] | None = None
) -> list[SweepResult]:
    """Every cell of `sweep` found in the store, in cell order (missing cells, and cells damaged
    since the store was listed, are left out; `runs`: the store's runs when already listed)."""
    out = []
    for (depth, kind, seed), info in stored_cells(sweep, store, runs).items():
        try:
            hist = store.load_history(info.run_id)
        except RunStoreError as e:  # changed on disk since listed: the next listing names it
            warnings.warn(str(e), RunStoreWarning, stacklevel=2)
            continue
        if hist is None:
            continue
        result = ModelResult(info.model, param_count(info.model), hist, info.run_id)
        out.append(SweepResult(depth, kind, seed, result, reused))
    return out


def run_sweep(
    sweep: SweepConfig,
    store: RunStore | None = None,
    *,
    force: bool = False,
    on_job: Callable[[int, int, Job, int], None] | None = None,
    on_update: Callable[[Update], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    dataset: Dataset | None = None,
) -> list[SweepResult]:
    """Train the missing cells job by job and return every cell, reused ones included.

    `on_job(i, n, job, steps)` is called before job i of n starts, with its number of steps. A
    stop ends the sweep after the current job's step; cells finished so far are returned. Every
    job trains on `sweep.data`: it is loaded once (or `dataset`, already loaded by the caller).
    """
    jobs = plan(sweep, store, force=force)
    if jobs and dataset is None:
        dataset = load_dataset(sweep.data)
    fresh: dict[tuple[int, str, int], ModelResult] = {}
    for i, job in enumerate(jobs):
        if should_stop is not None and should_stop():
            break
        if on_job is not None:
            on_job(i, len(jobs), job, total_steps(job.train, dataset.n_train))  # type: ignore[union-attr]
        results = run_twins(
            job.models, job.data, job.train, store=store, dataset=dataset, on_update=on_update, should_stop=should_stop
        )
        for r in results:
            fresh[(r.config.depth, r.config.kind, job.seed)] = r
    out: dict[tuple[int, str, int], SweepResult] = {}
    if store is not None and not force:
        out = {(c.depth, c.kind, c.seed): c for c in collect(sweep, store)}
    for (depth, kind, seed), r in fresh.items():
        out[(depth, kind, seed)] = SweepResult(depth, kind, seed, r, reused=False)  # type: ignore[arg-type]
    order = {cell: i for i, cell in enumerate(sweep.cells())}
    return sorted(out.values(), key=lambda c: order.get((c.depth, c.kind, c.seed), len(order)))


# -- reading the results -----------------------------------------------------------------------


@dataclass(frozen=True)
class DepthPoint:
    """One (kind, depth) across seeds: errors in %, diverged seeds left out of the numbers."""

    kind: Kind
    depth: int
    train_error: tuple[float, ...]  # 100 * (1 - final training accuracy), one per finished seed
    test_error: tuple[float, ...]
    seeds: tuple[int, ...]  # the seeds behind the numbers above
    diverged: tuple[int, ...]  # seeds whose loss became NaN/inf

    @staticmethod
    def _mean(v: Sequence[float]) -> float:
        return sum(v) / len(v) if v else float("nan")

    @property
    def train_mean(self) -> float:
        return self._mean(self.train_error)

    @property
    def test_mean(self) -> float:
        return self._mean(self.test_error)


def depth_points(results: Sequence[SweepResult]) -> list[DepthPoint]:
    """Aggregate results per (kind, depth), sorted by kind then depth."""
    groups: dict[tuple[Kind, int], list[SweepResult]] = {}
    for r in results:
        groups.setdefault((r.kind, r.depth), []).append(r)
    points = []
    for (kind, depth), rs in sorted(groups.items(), key=lambda kv: (KINDS.index(kv[0][0]), kv[0][1])):
        ok = [r for r in sorted(rs, key=lambda r: r.seed) if r.history.final.get("train_acc") is not None]
        points.append(
            DepthPoint(
                kind,
                depth,
                tuple(100 * (1 - r.history.final["train_acc"]) for r in ok),
                tuple(100 * (1 - r.history.final["test_acc"]) for r in ok),
                tuple(r.seed for r in ok),
                tuple(sorted(r.seed for r in rs if r.history.status == "diverged")),
            )
        )
    return points


def scored(points: Iterable[DepthPoint], kind: Kind) -> list[DepthPoint]:
    """The points of one kind that have a finite mean training error, shallowest first: what a
    comparison across depths can use (a damaged store can leave a NaN behind)."""
    ok = (p for p in points if p.kind == kind and p.train_error and math.isfinite(p.train_mean))
    return sorted(ok, key=lambda p: p.depth)


# -- presets ------------------------------------------------------------------------------------

# The home page's one-click demo: degradation on a laptop CPU in well under a minute. Chosen and
# checked with bench/bench_demo.py, which runs it for seeds 0-4 and reports the time and gaps.
DEMO = SweepConfig(
    depths=(20, 56),
    model=ModelConfig(width=4),
    data=DataConfig(name="digits"),
    train=TrainConfig(steps=160, batch_size=64, lr=0.1, probe_every=10),
)

# The paper's CIFAR-10 setting (§4.2: width 16, batch 128, SGD 0.1 with momentum 0.9, weight
# decay 1e-4, crop + flip, warm-up at 0.01 for ResNet-110) on a compressed cosine schedule: 6
# epochs instead of 164, ~6 min per seed for the 8 models on one H200 (bench/bench_gpu.py: 62 s
# per CIFAR-10 epoch), long enough for Fig. 6's ordering to form, not for the paper's errors.
PAPER_SCALE = SweepConfig(
    depths=(20, 32, 44, 56),
    model=ModelConfig(width=16),
    data=DataConfig(name="cifar10", augment=True),
    train=TrainConfig(epochs=6, batch_size=128, lr=0.1, momentum=0.9, weight_decay=1e-4, probe_every=100),
    deep_warmup_steps=400,
)
