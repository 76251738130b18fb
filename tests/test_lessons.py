"""Exercises of the gradient-flow, live and degradation pages: each outcome is computed from the
measurement handed in, graded by key, and swaps when the numbers swap."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resnet_viz.degradation.sweep import DepthPoint, SweepResult
from resnet_viz.engine.config import ModelConfig
from resnet_viz.engine.experiment import ModelResult
from resnet_viz.engine.history import History
from resnet_viz.teaching import lessons
from resnet_viz.teaching.exercises import Exercise, Outcome, grade
from resnet_viz.theory.flow import InitProfile


def _profile(cfg: ModelConfig, gx: list[float]) -> InitProfile:
    return InitProfile(
        name=cfg.name,
        layer_names=[],
        grad_norm=[],
        grad_rms=[],
        grad_rel=[],
        block_names=[],
        act_std=[],
        grad_x_rms=gx,
        config=cfg,
    )


def test_exercise_grading_is_by_key_and_needs_both_sides() -> None:
    ex = lessons.THEORY_BETA
    assert grade(ex, None, Outcome("yes", "")) is None and grade(ex, "yes", None) is None
    assert grade(ex, "yes", Outcome("yes", "")) is True and grade(ex, "no", Outcome("yes", "")) is False
    with pytest.raises(ValueError):
        grade(ex, "yes, within 10x", Outcome("yes", ""))  # a label is not a key
    with pytest.raises(ValueError):
        Exercise("k", "t", "q", (("a", "x"), ("a", "y")))


def test_bn_off_outcome_waits_for_the_measurement_and_follows_it() -> None:
    on = _profile(ModelConfig(depth=20, residual=False, bn=True), [1000.0, 1.0])
    assert lessons.theory_bn_off_outcome([on]) is None  # BN still on: nothing to grade yet
    off = ModelConfig(depth=20, residual=False, bn=False)
    assert lessons.theory_bn_off_outcome([_profile(off, [1e-5, 1.0])]).answer == "shrinks"
    assert lessons.theory_bn_off_outcome([_profile(off, [1.0, 1e-5])]).answer == "grows"  # swapped


def test_alpha_outcome_compares_with_alpha_one() -> None:
    cfg = ModelConfig(depth=20, residual=True, alpha=1.5)
    base = [_profile(ModelConfig(depth=20, residual=True), [4.0, 1.0])]
    assert lessons.theory_alpha_outcome([_profile(cfg, [400.0, 1.0])], base).answer == "larger"
    assert lessons.theory_alpha_outcome([_profile(cfg, [0.04, 1.0])], base).answer == "smaller"
    assert lessons.theory_alpha_outcome([_profile(cfg, [5.0, 1.0])], base).answer == "same"
    assert lessons.theory_alpha_outcome([_profile(ModelConfig(depth=20, residual=True), [5.0, 1.0])], base) is None
    assert lessons.theory_alpha_outcome([_profile(cfg, [0.0, 1.0])], base) is None  # no ratio: no grade


def test_beta_outcome() -> None:
    assert lessons.theory_beta_outcome(np.array([4690.0, 1.0]), 1.0).answer == "no"
    assert lessons.theory_beta_outcome(np.array([1.3, 1.0]), 1.0).answer == "yes"
    assert lessons.theory_beta_outcome(np.array([1.3, 1.0]), 1 / math.sqrt(30)) is None


def _hist(name: str, status: str = "finished", gx=None, acc=None) -> History:
    h = History(name, status=status)
    if gx is not None:
        h.probe_step, h.grad_x_rms = [1, 200], gx
    if acc is not None:
        h.final = {"train_acc": acc}
    return h


def test_live_calms_outcome() -> None:
    calm = _hist("plain-56", gx=[[1000.0, 1.0], [10.0, 1.0]])
    assert lessons.live_calms_outcome([calm]).answer == "lower"
    assert "went from 1,000 at step 1 to 10 at step 200" in lessons.live_calms_outcome([calm]).why
    rise = _hist("plain-56", gx=[[10.0, 1.0], [1000.0, 1.0]])
    assert lessons.live_calms_outcome([rise]).answer == "higher"
    assert lessons.live_calms_outcome([_hist("plain-56", "running", gx=calm.grad_x_rms)]) is None
    assert lessons.live_calms_outcome([_hist("plain-20", gx=calm.grad_x_rms)]) is None  # the task asks for depth 56


def test_live_no_bn_outcome() -> None:
    hs = [_hist("plain-56", acc=0.2), _hist("residual-56", acc=0.9)]
    assert lessons.live_no_bn_outcome(hs, bn=True) is None
    assert lessons.live_no_bn_outcome(hs, bn=False).answer == "residual"
    swapped = [_hist("plain-56", acc=0.9), _hist("residual-56", acc=0.2)]
    assert lessons.live_no_bn_outcome(swapped, bn=False).answer == "plain"


def _point(kind: str, depth: int, err: float) -> DepthPoint:
    return DepthPoint(kind=kind, depth=depth, seeds=(0,), train_error=(err,), test_error=(err,), diverged=())


def test_sweep_outcomes() -> None:
    worse = [_point("plain", 20, 2.0), _point("plain", 56, 40.0)]
    assert lessons.sweep_deeper_outcome(worse).answer == "higher"
    assert lessons.sweep_deeper_outcome([_point("plain", 20, 40.0), _point("plain", 56, 2.0)]).answer == "lower"
    assert lessons.sweep_deeper_outcome(worse[:1]) is None
    caught_up = [_point("plain", 20, 2.0), _point("plain", 56, 4.0)]
    assert lessons.sweep_longer_outcome({100: worse}) is None
    assert lessons.sweep_longer_outcome({100: worse, 300: caught_up}) is None  # not 5x longer
    assert lessons.sweep_longer_outcome({100: worse, 500: caught_up}).answer == "yes"
    assert lessons.sweep_longer_outcome({100: caught_up, 500: worse}).answer == "no"


def test_difficulty_items_cite_the_sweeps_own_numbers() -> None:
    h = History("plain-56", probe_step=[1, 200], grad_x_rms=[[1380.0, 1.0], [3.0, 1.0]])
    res = SweepResult(56, "plain", 0, ModelResult(ModelConfig(depth=56, residual=False), 1, h, None), reused=False)  # type: ignore[arg-type]
    items = lessons.difficulty_items([res], (0.02, 0.9))
    assert len(items) == 4
    assert "plain-56's dL/dx first/last block ratio was 1,380 at step 1 and 3 at step 200" in items[0].text
    assert "0.02 for the plain net, 0.90 for the residual one" in items[1].text
    assert "Run a sweep" in lessons.difficulty_items([], None)[0].text
    assert all(i.page.startswith("pages/") for i in items)


def test_difficulty_items_say_no_more_than_their_papers() -> None:
    """Issue 26: "it calms within the first steps" was said without a measurement; Li et al.'s
    chaos was claimed for any depth and a larger rise; Veit et al.'s ensemble was stated as shown."""
    explosion, _shattered, surface, ensemble = (i.text for i in lessons.difficulty_items([], None))
    assert "calms within the first steps" not in explosion and "fully connected" in explosion
    assert "56 and 110 layers" in surface and "at 20 layers shortcuts made little difference" in surface
    assert "not by itself a chaotic one" in surface and "more chaotic loss landscape" not in surface
    assert "consistent with that reading, not proof of it" in ensemble and "shows it" not in ensemble
