"""Depth sweeps: configuration, planning against the run store (reuse), aggregation, readings."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from resnet_viz.degradation.sweep import (
    DEMO,
    PAPER_SCALE,
    PAPER_TABLE6,
    SweepConfig,
    SweepResult,
    collect,
    depth_points,
    find_run,
    plan,
    run_sweep,
    same_model,
)
from resnet_viz.engine.config import ConfigError, DataConfig, ModelConfig, TrainConfig
from resnet_viz.engine.experiment import ModelResult
from resnet_viz.engine.history import History
from resnet_viz.engine.runs import RunStore
from resnet_viz.text.sweep import demo_reading, sweep_reading

TINY = SweepConfig(depths=(14, 8), seeds=(1, 0), model=ModelConfig(width=4), train=TrainConfig(steps=4, probe_every=2))


def fake(
    kind: str,
    depth: int,
    seed: int,
    train_acc: float | None,
    test_acc: float | None = None,
    status: str = "finished",
    grad0: list[float] | None = None,
    steps: int = 10,
    gx0: list[float] | None = None,
) -> SweepResult:
    h = History(f"{kind}-{depth}", status=status)  # type: ignore[arg-type]
    h.step = list(range(1, steps + 1))
    h.acc = [train_acc if train_acc is not None else 0.1] * steps
    h.loss = [1.0] * steps
    if train_acc is not None:
        h.final = {
            "train_acc": train_acc,
            "test_acc": test_acc if test_acc is not None else train_acc,
            "train_loss": 1.0,
            "test_loss": 1.0,
        }
    if status == "diverged":
        h.diverged_at = steps
    if grad0 is not None:
        h.grad_rms, h.probe_step, h.layer_names = [grad0, grad0], [1, steps], [f"l{i}" for i in range(len(grad0))]
    if gx0 is not None:
        h.grad_x_rms = [gx0, gx0]
    cfg = ModelConfig(depth=depth, residual=kind == "residual")
    return SweepResult(depth, kind, seed, ModelResult(cfg, 1, h, None), reused=False)  # type: ignore[arg-type]


# -- configuration ------------------------------------------------------------------------------


def test_sweep_config_normalises_lists_and_orders_cells() -> None:
    sw = SweepConfig(depths=[56, 20, 20], kinds=["residual", "plain"], seeds=[2, 0])  # type: ignore[arg-type]
    assert (sw.depths, sw.kinds, sw.seeds) == ((20, 56), ("plain", "residual"), (0, 2))
    assert sw == SweepConfig(depths=(20, 56), seeds=(0, 2))
    assert sw.cells()[:3] == [(20, "plain", 0), (20, "residual", 0), (56, "plain", 0)]
    assert len(sw.cells()) == 8


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"depths": ()}, "at least one depth"),
        ({"depths": (57,)}, "6n+2"),
        ({"kinds": ()}, "plain and/or residual"),
        ({"kinds": ("plain", "dense")}, "dense"),
        ({"seeds": ()}, "at least one seed"),
        ({"seeds": tuple(range(11))}, "1 to 10"),
        ({"seeds": (-1,)}, "1 to 10"),
        ({"deep_warmup_steps": -5}, "warmup"),
    ],
)
def test_bad_sweeps_say_what_is_wrong(kwargs, fragment) -> None:
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        SweepConfig(**kwargs)


def test_cells_get_their_depth_kind_seed_and_the_paper_warmup_only_at_110() -> None:
    sw = SweepConfig(depths=(20, 110), seeds=(3,), deep_warmup_steps=400)
    assert sw.model_config(110, "plain") == dataclasses.replace(sw.model, depth=110, residual=False)
    assert sw.train_config(20, 3) == dataclasses.replace(sw.train, seed=3)
    assert sw.train_config(110, 3).warmup_steps == 400
    jobs = plan(sw)  # 110 has another training config, so it trains in its own job
    assert [(j.seed, [m.name for m in j.models], j.train.warmup_steps) for j in jobs] == [
        (3, ["plain-20", "residual-20"], 0),
        (3, ["plain-110", "residual-110"], 400),
    ]


def test_presets_are_valid_and_match_the_paper_setting() -> None:
    assert DEMO.depths == (20, 56) and DEMO.kinds == ("plain", "residual") and DEMO.data.name == "digits"
    assert PAPER_SCALE.model.width == 16 and PAPER_SCALE.train.batch_size == 128 and PAPER_SCALE.data.augment
    assert PAPER_SCALE.depths == (20, 32, 44, 56) and PAPER_SCALE.data.name == "cifar10"
    assert [r["test_error"] for r in PAPER_TABLE6] == [8.75, 7.51, 7.17, 6.97, 6.43]


# -- the run store: reuse, force ------------------------------------------------------------------


def test_same_model_ignores_only_the_fields_the_dataset_fills_in() -> None:
    stored = ModelConfig(depth=20, in_channels=3, image_size=32, num_classes=5)
    assert same_model(stored, ModelConfig(depth=20))
    assert not same_model(stored, ModelConfig(depth=20, width=16))
    assert not same_model(stored, ModelConfig(depth=20, residual=False))


@pytest.mark.slow
def test_a_sweep_trains_missing_cells_once_and_then_reuses_them(tmp_path) -> None:
    store = RunStore(tmp_path)
    jobs = plan(TINY, store)
    assert [(j.seed, len(j.models)) for j in jobs] == [(0, 4), (1, 4)]
    first = run_sweep(TINY, store)
    assert [(r.depth, r.kind, r.seed) for r in first] == TINY.cells()
    assert not any(r.reused for r in first) and len(store.list()) == 8
    assert plan(TINY, store) == []  # everything stored: nothing to train

    again = run_sweep(TINY, store)  # reused: same run ids, same numbers, no new runs
    assert all(r.reused for r in again) and len(store.list()) == 8
    assert [r.result.run_id for r in again] == [r.result.run_id for r in first]
    assert [r.history.final for r in again] == [r.history.final for r in first]
    assert [r.result.params for r in again] == [r.result.params for r in first]

    # one more seed: only its 4 cells train; a different budget is a different configuration
    more = dataclasses.replace(TINY, seeds=(0, 1, 2))
    assert [(j.seed, len(j.models)) for j in plan(more, store)] == [(2, 4)]
    assert len(plan(dataclasses.replace(TINY, train=TrainConfig(steps=5, probe_every=2)), store)) == 2

    forced = run_sweep(TINY, store, force=True)
    assert not any(r.reused for r in forced) and len(store.list()) == 16


@pytest.mark.slow
def test_a_cell_trained_alone_equals_the_same_cell_trained_in_a_sweep(tmp_path) -> None:
    """Why reuse across jobs is sound: a model's run depends on its config and seed, not on its
    job-mates (same init from the seed, same batch order)."""
    alone = run_sweep(dataclasses.replace(TINY, depths=(8,), kinds=("residual",), seeds=(0,)))
    together = run_sweep(dataclasses.replace(TINY, seeds=(0,)))
    match = next(r for r in together if (r.depth, r.kind) == (8, "residual"))
    assert alone[0].history.loss == pytest.approx(match.history.loss, rel=1e-5)


def test_find_run_takes_the_newest_finished_or_diverged_run_of_exactly_that_config(tmp_path) -> None:
    store = RunStore(tmp_path)
    m, d, t = ModelConfig(depth=8, width=4), DataConfig(), TrainConfig(steps=3)
    stored_m = dataclasses.replace(m, in_channels=1, image_size=8, num_classes=10)
    a = store.create(stored_m, d, t)
    store.set_status(a, "finished", step=3)
    b = store.create(stored_m, d, t)
    store.set_status(b, "stopped", step=1)  # a stopped run is not a result
    c = store.create(stored_m, d, dataclasses.replace(t, seed=1))
    store.set_status(c, "diverged", step=2)
    runs = store.list()
    assert find_run(runs, m, d, t).run_id == a
    assert find_run(runs, m, d, dataclasses.replace(t, seed=1)).run_id == c
    assert find_run(runs, m, DataConfig(augment=True), t) is None
    e = store.create(stored_m, d, t)
    store.set_status(e, "finished", step=3)
    assert find_run(store.list(), m, d, t).run_id == e


def test_collect_reads_cells_back_with_their_seed(tmp_path) -> None:
    store = RunStore(tmp_path)
    sw = dataclasses.replace(TINY, depths=(8,), seeds=(0,))
    rid = store.create(
        dataclasses.replace(sw.model_config(8, "plain"), in_channels=1, image_size=8), sw.data, sw.train_config(8, 0)
    )
    h = History(
        "plain-8",
        step=[1, 2],
        loss=[2.0, 1.5],
        acc=[0.1, 0.2],
        status="finished",
        final={"train_acc": 0.25, "test_acc": 0.2, "train_loss": 1.4, "test_loss": 1.5},
    )
    store.save_metrics(rid, h.to_dict())
    store.set_status(rid, "finished", step=2)
    [cell] = collect(sw, store)
    assert (cell.depth, cell.kind, cell.seed, cell.reused, cell.result.run_id) == (8, "plain", 0, True, rid)
    assert cell.summary()["train_acc"] == 0.25 and cell.summary()["seed"] == 0
    # width-4 plain-8 on 1-channel digits, by hand: stem 36+8, stage 1 2*(144+8), stage 2 288+16+576+16,
    # stage 3 1152+32+2304+32, head 16*10+10
    assert cell.result.params == 4_934


# -- aggregation and readings ---------------------------------------------------------------------


def test_depth_points_average_seeds_and_leave_diverged_runs_out() -> None:
    results = [
        fake("plain", 20, 0, 0.99, 0.95),
        fake("plain", 20, 1, 0.97, 0.93),
        fake("plain", 56, 0, 0.30),
        fake("plain", 56, 1, None, status="diverged"),
        fake("residual", 20, 0, 1.0),
    ]
    points = depth_points(results)
    assert [(p.kind, p.depth) for p in points] == [("plain", 20), ("plain", 56), ("residual", 20)]
    p20 = points[0]
    assert p20.train_error == pytest.approx((1.0, 3.0)) and p20.train_mean == pytest.approx(2.0)
    assert p20.test_mean == pytest.approx(6.0) and p20.seeds == (0, 1)
    assert points[1].train_error == pytest.approx((70.0,)) and points[1].diverged == (1,)


def test_sweep_reading_states_the_measured_degradation() -> None:
    results = [
        fake("plain", 20, 0, 0.99, 0.97, grad0=[4.0, 2.0, 1.0, 9.0]),
        fake("plain", 56, 0, 0.25, 0.24, grad0=[8.0, 4.0, 2.0, 9.0]),
        fake("residual", 20, 0, 1.0, 0.98),
        fake("residual", 56, 0, 0.995, 0.98),
    ]
    lines = sweep_reading(depth_points(results), results)
    text = "\n".join(lines)
    assert (
        "Plain nets: training error 1.0% at depth 20 (1 seed) and 75.0% at depth 56 (1 seed); the deeper net trained worse."
        in text
    )
    assert (
        "Residual nets: training error 0.0% at depth 20 (1 seed) and 0.5% at depth 56 (1 seed); within 5 points" in text
    )
    assert "test error (76.0%) is close to its training error (75.0%)" in text and "not overfitting" in text
    assert "residual-56, reached 0.5% training error" in text
    # first layer 8 vs last conv 2 (the head is excluded): 4x larger toward the input, named as a
    # per-weight figure (these runs measured no dL/dx) and never called healthy
    assert (
        "plain-56's gradient per weight at the first layer was 4x larger than at its last conv layer (1 seed): "
        "it grew toward the input."
    ) in text and "did not vanish" not in text


def test_sweep_reading_names_explosion_at_init_from_dldx() -> None:
    results = [
        fake("plain", 20, 0, 0.99, grad0=[1.0, 1.0, 1.0, 1.0]),
        fake("plain", 56, 0, 0.25, grad0=[1.0, 1.0, 1.0, 1.0], gx0=[1400.0, 3.0, 1.0]),
    ]
    text = "\n".join(sweep_reading(depth_points(results), results))
    assert "plain-56's dL/dx at the first block was 1,400x larger than at the last block (1 seed): it exploded" in text
    assert "Yang et al. (2019)" in text and "candidate explanations of degradation, not evidence" in text
    # Issue 26: "it calms within the first steps" was said whatever the last probe showed; Yang et al.
    # derive the explosion for fully connected nets, and the sentence now says so.
    assert "fully connected" in text and "calms within the first steps" not in text
    assert "At the last probe (step 10) the ratio was 1,400 (1 seed): it had not calmed down." in text
    results[1].history.grad_x_rms[-1] = [3.0, 3.0, 1.0]
    text = "\n".join(sweep_reading(depth_points(results), results))
    assert "At the last probe (step 10) the ratio was 3 (1 seed): it calmed down." in text
    swapped = [results[0], fake("plain", 56, 0, 0.25, grad0=[1.0] * 4, gx0=[1.0, 3.0, 1400.0])]
    text = "\n".join(sweep_reading(depth_points(swapped), swapped))
    assert "1,400x smaller than at the last block (1 seed): it vanished" in text and "Yang" not in text


def test_sweep_reading_does_not_claim_degradation_the_run_did_not_show() -> None:
    results = [fake("plain", 20, 0, 0.99), fake("plain", 56, 0, 0.98, grad0=[1.0, 2.0, 4.0, 1.0])]
    text = "\n".join(sweep_reading(depth_points(results), results))
    # Issue 26: "depth did not hurt" was said of a deeper net up to 4.9 points worse
    assert "within 5 points of each other: no difference this sweep can tell from noise" in text
    assert "depth did not hurt" not in text and "trained worse" not in text and "overfitting" not in text
    assert "4x smaller" in text and "shrank toward the input" in text


def test_demo_reading_uses_the_runs_numbers() -> None:
    results = [
        fake("plain", 20, 0, 0.993),
        fake("plain", 56, 0, 0.171),
        fake("residual", 20, 0, 0.998),
        fake("residual", 56, 0, 0.991),
    ]
    assert demo_reading(results) == (
        "plain-56 reached 17% training accuracy, plain-20 99%: deeper was worse without shortcuts. "
        "residual-56 reached 99% (residual-20 100%): with shortcuts the deeper net trained 0.7 points worse, "
        "less than the 82 points the plain nets lost."
    )
    better = [*results[:2], fake("residual", 20, 0, 0.98), fake("residual", 56, 0, 1.0)]
    assert demo_reading(better).endswith("with shortcuts, the deeper net trained better, by 2.0 points.")
    same = [*results[:3], fake("residual", 56, 0, 0.997)]
    assert demo_reading(same).endswith("with shortcuts, the deeper net trained as well.")
    worse = [
        fake("plain", 20, 0, 0.99),
        fake("plain", 56, 0, 0.98),
        fake("residual", 20, 0, 0.99),
        fake("residual", 56, 0, 0.90),
    ]
    text = demo_reading(worse)
    assert "depth made little difference" in text and "also trained worse" in text
    assert demo_reading(results[:3]) is None  # not all four finished yet
    assert not math.isnan(depth_points(results)[0].train_mean)
