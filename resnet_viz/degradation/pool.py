"""A class's runs pooled into one degradation figure: every finished run in a run store, grouped
by the recipe it was trained with, so thirty students who each trained one depth make He et al.'s
Figure 6 together (final training error against depth, plain vs residual, spread per depth).

Runs pool only when everything but the depth, the shortcut and the seed is equal: the data, the
training budget and recipe, the width and the block. A residual run pools only with the skip at
full strength (alpha = 1), the residual net the paper compares.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from ..engine.config import DataConfig, ModelConfig, TrainConfig, to_dict
from ..engine.experiment import ModelResult
from ..engine.runs import RunInfo, RunStore, RunStoreError
from .sweep import REUSABLE, SweepResult, param_count

# The fields a pooled run may differ in: what the class varies (depth, shortcut on/off) and what
# each student may pick (seed); the dataset fills in the input fields when it trains.
_FREE_MODEL = ("depth", "residual", "alpha", "in_channels", "image_size", "num_classes")


@dataclass(frozen=True)
class Pool:
    """The runs of one recipe, across depths, kinds and seeds."""

    key: str  # the recipe, as JSON (equal recipes, equal keys)
    model: ModelConfig  # the first run's model: what the recipe fixes (width, block, BN, ...)
    data: DataConfig
    train: TrainConfig  # the first run's training (the seed is the one thing that may differ)
    results: tuple[SweepResult, ...]  # one per run, shallowest first, plain before residual

    @property
    def depths(self) -> tuple[int, ...]:
        return tuple(sorted({r.depth for r in self.results}))

    def count(self, kind: str | None = None) -> int:
        return sum(1 for r in self.results if kind is None or r.kind == kind)


def recipe_key(info: RunInfo) -> str | None:
    """The recipe `info` was trained with, or None for a run that does not pool (an MLP, or a
    residual net with a skip weaker or stronger than the identity)."""
    m = info.model
    if m.arch != "cifar" or (m.residual and m.alpha != 1.0):
        return None
    model = {k: v for k, v in to_dict(m).items() if k not in _FREE_MODEL}
    train = {k: v for k, v in to_dict(info.train).items() if k != "seed"}
    return json.dumps({"model": model, "data": to_dict(info.data), "train": train}, sort_keys=True)


def pools(store: RunStore, runs: Sequence[RunInfo] | None = None) -> list[Pool]:
    """Every recipe with at least one finished (or diverged) run, the most runs first. Runs whose
    metrics cannot be read (damaged since listed) are left out; the store's listing names them."""
    infos = store.scan()[0] if runs is None else runs
    grouped: dict[str, list[RunInfo]] = {}
    for info in infos:
        key = recipe_key(info) if info.status in REUSABLE else None
        if key is not None:
            grouped.setdefault(key, []).append(info)
    out = []
    for key, group in grouped.items():
        results = []
        # One recipe at one depth, kind and seed trains the same run (same init, same batches):
        # two students who pressed it made one measurement, so the newest counts once.
        distinct = {(i.model.depth, i.model.residual, i.train.seed): i for i in reversed(group)}
        for info in distinct.values():
            try:
                hist = store.load_history(info.run_id)
            except RunStoreError:
                continue
            if hist is None:
                continue
            result = ModelResult(info.model, param_count(info.model), hist, info.run_id)
            results.append(SweepResult(info.model.depth, info.model.kind, info.train.seed, result, reused=True))  # type: ignore[arg-type]
        if results:
            results.sort(key=lambda r: (r.depth, r.kind != "plain", r.seed))
            first = group[0]
            out.append(Pool(key, first.model, first.data, first.train, tuple(results)))
    return sorted(out, key=lambda p: (-len(p.results), p.key))
