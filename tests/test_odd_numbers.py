"""A zero, an inf, a NaN or nothing at all in a measurement becomes words, never an exception.

Issue 12 §1: the vanishing-gradient run (plain-56 without BatchNorm) has a first-layer gradient of
exactly 0.0, and its reading raised ZeroDivisionError. Here hypothesis feeds every sentence
builder, figure and quiz that reads a run's measurements with histories and profiles made of
zeros, infinities, NaNs, tiny and huge numbers, and empty lists.
"""

from __future__ import annotations

import dataclasses
import math
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resnet_viz.degradation.sweep import DepthPoint
from resnet_viz.engine.config import ModelConfig
from resnet_viz.engine.history import History
from resnet_viz.figures import live_curves, live_gradients
from resnet_viz.figures import sweep as sweep_figures
from resnet_viz.saliency.localisation import Track
from resnet_viz.teaching import lessons, quiz
from resnet_viz.text import numbers as wording
from resnet_viz.text.lessons import alpha_outcome, calms_outcome, depth_outcome
from resnet_viz.text.live import flow_sentence, reading
from resnet_viz.text.saliency import localisation_reading
from resnet_viz.text.sweep import sweep_reading
from resnet_viz.text.theory import chain_sentence, profile_sentences, skip_strength_sentence
from resnet_viz.theory.flow import InitProfile

ODD = st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, 1e-300, 5e-324, 1e300, -1.0])
NUMBER = st.one_of(ODD, st.floats(min_value=1e-12, max_value=1e12))
ROW = st.lists(NUMBER, max_size=8)
PRINTED_NON_FINITE = re.compile(r"(?<![A-Za-z])(nan|inf)(?![A-Za-z])")
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def histories(draw: st.DrawFn) -> History:
    name = draw(st.sampled_from(["plain-56", "residual-56", "plain-8", "residual-20"]))
    n = draw(st.integers(0, 6))
    h = History(
        name,
        step=list(range(1, n + 1)),
        loss=draw(st.lists(NUMBER, min_size=n, max_size=n)),
        acc=draw(st.lists(NUMBER, min_size=n, max_size=n)),
    )
    probes = draw(st.integers(0, 3))
    h.probe_step = list(range(1, probes + 1))
    width = draw(st.integers(0, 5))
    rows = st.lists(NUMBER, min_size=width, max_size=width)
    h.layer_names = [f"l{i}" for i in range(width)]
    h.block_names = [f"b{i}" for i in range(width)]
    for attr in ("grad_rms", "grad_norm", "grad_rel", "act_std", "grad_x_rms", "identity_grad", "branch_grad"):
        setattr(h, attr, [draw(rows) for _ in range(probes)])
    h.status = draw(st.sampled_from(["finished", "diverged", "stopped", "running"]))
    if h.status == "diverged":
        h.diverged_at = draw(st.integers(1, 10))
    h.final = draw(st.dictionaries(st.sampled_from(["train_loss", "train_acc", "test_loss", "test_acc"]), NUMBER))
    h.eval = [{"step": 1, "test_loss": draw(NUMBER), "test_acc": draw(NUMBER)}] if draw(st.booleans()) else []
    return h


@st.composite
def profiles(draw: st.DrawFn) -> InitProfile:
    residual = draw(st.booleans())
    width = draw(st.integers(0, 6))
    row = st.lists(NUMBER, min_size=width, max_size=width)
    return InitProfile(
        name="residual-56" if residual else "plain-56",
        layer_names=[f"l{i}" for i in range(width)],
        grad_norm=draw(row),
        grad_rms=draw(row),
        grad_rel=draw(row),
        block_names=[f"b{i}" for i in range(width)],
        act_std=draw(row),
        grad_x_rms=draw(row),
        config=ModelConfig(
            depth=56,
            residual=residual,
            bn=draw(st.booleans()),
            alpha=draw(st.sampled_from([0.0, 0.5, 1.0, 2.0])) if residual else 1.0,
        ),
    )


def _words(items: list[str]) -> None:
    for text in items:
        assert isinstance(text, str) and text
        # a number that is not finite is said in words ("NaN or infinite"), never printed as
        # Python prints it ("nan", "inf", "1.2e+308x" is fine, "infx" is not)
        assert not PRINTED_NON_FINITE.search(text), text


@SETTINGS
@given(st.lists(histories(), min_size=1, max_size=3))
def test_run_readings_and_outcomes_never_raise(hists: list[History]) -> None:
    _words(reading(hists))
    for h in hists:
        flow_sentence(h)
        if h.grad_x_rms:
            quiz.smallest_gradient(h.name, h.grad_x_rms[-1], "k")
            quiz.direction(h.name, h.grad_x_rms[-1], "k")
    lessons.live_calms_outcome(hists)
    lessons.live_no_bn_outcome(hists, bn=False)


@settings(SETTINGS, max_examples=20)  # a plotly figure costs ~0.1 s
@given(st.lists(histories(), min_size=1, max_size=3))
def test_run_figures_never_raise(hists: list[History]) -> None:
    live_curves.loss_figure(hists)
    live_curves.loss_figure(hists, log_y=True)
    live_curves.accuracy_figure(hists)
    live_gradients.grad_heatstrip(hists)
    live_gradients.grad_profile(hists)
    live_gradients.flow_profile(hists)
    live_gradients.flow_ratio_figure(hists)
    live_gradients.act_std_figure(hists)
    for h in hists:
        live_gradients.identity_share_figure(h)


@SETTINGS
@given(st.lists(profiles(), min_size=1, max_size=2))
def test_profile_sentences_never_raise(profs: list[InitProfile]) -> None:
    _words(profile_sentences(profs))


def _twins(plain_first: float, residual_first: float) -> list[InitProfile]:
    cfg = ModelConfig(depth=56, width=8, in_channels=1, image_size=8)
    rows = {"layer_names": ["l0", "l1"], "block_names": ["b0", "b1"]}

    def one(name: str, residual: bool, first: float) -> InitProfile:
        cfg_k = dataclasses.replace(cfg, residual=residual)
        return InitProfile(
            name,
            **rows,
            grad_norm=[1.0, 1.0],
            grad_rms=[1.0, 1.0],
            grad_rel=[1.0, 1.0],
            act_std=[1.0, 1.0],
            grad_x_rms=[first, 1.0],
            config=cfg_k,
        )

    return [one("plain-56", False, plain_first), one("residual-56", True, residual_first)]


def test_a_twin_ratio_out_of_floating_range_is_left_out_not_raised() -> None:
    # 1e-300 / 1e300 underflows to 0 (it raised ZeroDivisionError in larger_smaller), and
    # 1e300 / 1e-300 overflows to inf: no factor can be shown, so the twin sentence is left out.
    for plain, residual in ((1e300, 1e-300), (1e-300, 1e300)):
        assert not [t for t in profile_sentences(_twins(plain, residual)) if "At the first block" in t]
    said = [t for t in profile_sentences(_twins(0.5, 2.0)) if "At the first block" in t]
    assert said == ["At the first block, residual-56's gradient dL/dx is 4x larger than plain-56's."]
    assert wording.larger_smaller(0.0) == ("smaller", "an undefined factor")
    assert wording.larger_smaller(math.inf) == ("larger", "an undefined factor")
    assert wording.larger_smaller(0.25) == ("smaller", "4x")


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["plain", "residual"]), st.sampled_from([8, 20, 56]), ROW, ROW), max_size=6))
def test_sweep_reading_and_figure_never_raise(cells: list) -> None:
    points = [DepthPoint(kind, depth, tuple(tr), tuple(te), tuple(range(len(tr))), ()) for kind, depth, tr, te in cells]
    _words(sweep_reading(points))
    sweep_figures.error_vs_depth(points)
    lessons.sweep_deeper_outcome(points)


@given(NUMBER, NUMBER)
def test_ratio_and_regime_are_total(a: float, b: float) -> None:
    r = wording.ratio(a, b)
    assert r is None or math.isfinite(r) or math.isinf(r)
    assert wording.regime(r, first=a) in wording.REGIMES


@SETTINGS
@given(st.lists(st.tuples(st.booleans(), st.lists(NUMBER, min_size=1, max_size=3), NUMBER, NUMBER), max_size=3), NUMBER)
def test_localisation_reading_never_raises(cells: list, chance: float) -> None:
    tracks = [
        Track(f"{'residual' if r else 'plain'}-8", r, tuple(range(len(e))), tuple(e), (peak,) * len(e), acc)
        for r, e, peak, acc in cells
    ]
    _words(localisation_reading(tracks, chance, 100, 5))


@SETTINGS
@given(NUMBER, NUMBER, NUMBER, st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, -1.0]), st.integers(1, 60))
def test_chain_skip_strength_and_outcome_sentences_never_raise(
    p: float, r: float, x: float, alpha: float, blocks: int
) -> None:
    _words([chain_sentence([p], [r], beta=1.0, depth=blocks, gain=0.9)])
    _words([skip_strength_sentence(alpha, blocks, x), skip_strength_sentence(alpha, blocks, x, name="r", step=1)])
    _words([alpha_outcome("r", 1.5, p, r, x), calms_outcome("p", p, 1, r, 2), depth_outcome(20, p, 56, r)])


def test_the_dead_plain_net_is_said_in_words() -> None:
    """The reproduction: plain-56 without BN, first-layer gradient exactly 0."""
    h = History(
        "plain-56",
        step=[1, 2],
        loss=[2.3, 2.3],
        acc=[0.1, 0.1],
        probe_step=[1],
        grad_rms=[[0.0, 1e-6, 1e-3]],
        grad_x_rms=[[0.0, 1e-7, 1e-4]],
        status="finished",
    )
    text = " ".join(reading([h]))
    assert "no gradient at all" in text


def test_a_huge_json_integer_is_a_number_to_words_and_refused_by_the_store_checks() -> None:
    from resnet_viz.engine import checks

    assert wording.is_number(10**400)  # math.isfinite(10**400) raises OverflowError
    assert not checks.plain_number(10**400) and not checks.plain_number(True)
    for bad, fragment in ((10**400, "where a number belongs"), (math.nan, "outside [0, 1]"), ("x", "a number")):
        try:
            checks.number("acc", bad, hi=1.0)
        except ValueError as e:
            assert fragment in str(e) and str(e).startswith("acc holds")
        else:
            raise AssertionError(bad)
    assert checks.number("acc", None, null=True) is None
