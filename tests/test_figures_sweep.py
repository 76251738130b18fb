"""The depth-sweep figures, built from synthetic results with hand-computed expectations."""

from __future__ import annotations

import numpy as np
import pytest
from test_sweep import fake

from resnet_viz.degradation.sweep import PAPER_TABLE6, depth_points
from resnet_viz.figures import sweep as sweep_figures


def _traces(fig, name):
    return [t for t in fig.data if t.name == name]


def test_error_vs_depth_plots_mean_and_min_max_bars_per_kind() -> None:
    results = [
        fake("plain", 20, 0, 0.99, 0.95),
        fake("plain", 20, 1, 0.97, 0.91),
        fake("plain", 56, 0, 0.5, 0.45),
        fake("residual", 20, 0, 1.0, 0.96),
        fake("residual", 56, 0, 0.99, 0.97),
    ]
    fig = sweep_figures.error_vs_depth(depth_points(results))
    plain_train, plain_test = _traces(fig, "plain")
    assert list(plain_train.x) == [20, 56]
    assert list(plain_train.y) == pytest.approx([2.0, 50.0])  # mean of 1% and 3%; one seed at 56
    assert list(plain_train.error_y.array) == pytest.approx([1.0, 0.0])  # max - mean
    assert list(plain_train.error_y.arrayminus) == pytest.approx([1.0, 0.0])
    assert list(plain_test.y) == pytest.approx([7.0, 55.0])
    assert plain_train.line.dash == "dash" and _traces(fig, "residual")[0].line.dash == "solid"
    seeds = next(t for t in fig.data if t.name == "plain, each seed")  # every seed drawn as a dot
    assert sorted(seeds.y) == pytest.approx([1.0, 3.0, 50.0])
    assert plain_train.xaxis == "x" and plain_test.xaxis == "x2"


def test_error_vs_depth_names_diverged_seeds_and_can_show_the_paper() -> None:
    results = [fake("plain", 20, 0, 0.9), fake("plain", 110, 0, None, status="diverged"), fake("plain", 110, 1, 0.2)]
    fig = sweep_figures.error_vs_depth(depth_points(results), paper=PAPER_TABLE6)
    assert "diverged, not plotted: plain-110 seed 0" in fig.layout.title.text
    paper = next(t for t in fig.data if t.name.startswith("paper"))
    assert list(paper.y) == [8.75, 7.51, 7.17, 6.97, 6.43] and paper.xaxis == "x2"


def test_error_vs_depth_without_finished_runs_says_so() -> None:
    assert "no finished runs" in sweep_figures.error_vs_depth([]).layout.annotations[0].text
    fig = sweep_figures.error_vs_depth(depth_points([fake("plain", 20, 0, None, status="diverged")]))
    assert "every run diverged" in fig.layout.annotations[0].text


def test_depth_curves_average_seeds_dash_plain_and_darken_deeper_nets() -> None:
    a, b = fake("plain", 56, 0, 0.2, steps=4), fake("plain", 56, 1, 0.6, steps=4)
    r20, r56 = fake("residual", 20, 0, 1.0, steps=4), fake("residual", 56, 0, 0.5, steps=4)
    fig = sweep_figures.depth_curves([a, b, r20, r56], smooth=1)
    [p56] = _traces(fig, "plain-56")
    assert list(p56.y) == pytest.approx([60.0] * 4)  # errors 80% and 40%, averaged
    assert list(p56.x) == [1, 2, 3, 4] and p56.line.dash == "dash"
    assert _traces(fig, "residual-20")[0].line.color != _traces(fig, "residual-56")[0].line.color
    assert "averaged over 2 seeds" in fig.layout.title.text


def test_depth_curves_keep_a_diverged_seed_until_it_stopped() -> None:
    short = fake("plain", 56, 1, 0.0, steps=2)  # errors 100% for 2 steps, then gone
    long = fake("plain", 56, 0, 0.5, steps=4)  # 50%
    fig = sweep_figures.depth_curves([long, short], smooth=1)
    assert list(fig.data[0].y) == pytest.approx([75.0, 75.0, 50.0, 50.0])


def test_depth_grad_profiles_show_first_and_last_probe_as_geometric_means() -> None:
    a, b = fake("plain", 20, 0, 0.9, grad0=[1.0, 100.0]), fake("plain", 20, 1, 0.9, grad0=[100.0, 1.0])
    a.history.grad_rms[1] = [2.0, 2.0]
    b.history.grad_rms[1] = [8.0, 8.0]
    fig = sweep_figures.depth_grad_profiles([a, b])
    init, end = fig.data
    assert list(init.y) == pytest.approx([10.0, 10.0]) and init.xaxis == "x"
    assert list(end.y) == pytest.approx([4.0, 4.0]) and end.xaxis == "x2"
    assert fig.layout.yaxis.type == "log"


def test_sweep_figures_are_empty_with_a_message_before_any_step() -> None:
    for fig in (sweep_figures.depth_curves([]), sweep_figures.depth_grad_profiles([])):
        assert fig.layout.annotations[0].text.startswith("no ")


def test_depth_color_runs_light_to_dark() -> None:
    shallow, deep = (sweep_figures.depth_color("plain", d, [20, 56]) for d in (20, 56))
    lum = [np.mean([int(c) for c in col[4:-1].split(",")]) for col in (shallow, deep)]
    assert lum[0] > lum[1]
