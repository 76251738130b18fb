"""Theory measurements against closed forms, torch itself and hand-computed values.

Thresholds on seeded measurements were chosen from the numbers measured on seeds 0-9 (CPU,
torch 2.x), with wide margins; the measured ranges are noted beside each.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
import torch.nn.functional as F

from resnet_viz import theory_plots
from resnet_viz.config import DataConfig, ModelConfig
from resnet_viz.data import Dataset, load_dataset
from resnet_viz.experiment import fit_to_data
from resnet_viz.models import build_model
from resnet_viz.plots import PLAIN_SHADES, RESIDUAL_SHADES
from resnet_viz.reading import input_output_ratio
from resnet_viz.theory import (
    InitProfile,
    _scalar_net,
    autocorrelation,
    chain_gradients,
    first_last_ratio,
    init_profile,
    init_profiles,
    profile_sentences,
    shattered,
)

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset(DataConfig())


# -- 1. the toy chain ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("depth", "gain", "slope", "width"),
    [(30, 1.0, 0.25, 1), (20, 2.0, 1.0, 1), (12, -0.5, 1.0, 1), (25, 0.9, 0.5, 3), (100, 0.1, 0.25, 2)],
)
def test_chain_gradients_equal_the_closed_form(depth: int, gain: float, slope: float, width: int) -> None:
    # Linear chain, L = h_depth: dL/dh_i = (g s)^(depth - i) plain, (1 + g s)^(depth - i) residual.
    i = np.arange(depth + 1)
    plain = chain_gradients(depth, gain, slope, residual=False, width=width)
    residual = chain_gradients(depth, gain, slope, residual=True, width=width)
    np.testing.assert_allclose(plain, np.abs(gain * slope) ** (depth - i), rtol=1e-12)
    np.testing.assert_allclose(residual, np.abs(1 + gain * slope) ** (depth - i), rtol=1e-12)
    assert plain[-1] == residual[-1] == 1.0


def test_chain_sigmoid_slope_vanishes_without_underflow() -> None:
    g = chain_gradients(100, 1.0, 0.25, residual=False)
    assert g[0] == pytest.approx(0.25**100, rel=1e-12)  # 6.2e-61: float32 would have returned 0
    assert chain_gradients(100, 1.0, 0.25, residual=True)[0] == pytest.approx(1.25**100, rel=1e-12)


def test_chain_rejects_empty_chain() -> None:
    with pytest.raises(ValueError, match="depth"):
        chain_gradients(0, 1.0, residual=False)


# -- 2. real networks at initialisation ----------------------------------------------------------


def _sigmoid_mlp(init: str, residual: bool = False) -> ModelConfig:
    # The page's MLP: 64 hidden units, sigmoid, no BatchNorm.
    return ModelConfig(arch="mlp", depth=20, width=64, activation="sigmoid", bn=False, init=init, residual=residual)


@pytest.mark.parametrize("init", ["xavier", "default"])
def test_deep_sigmoid_mlp_gradient_vanishes_toward_the_input(digits: Dataset, init: str) -> None:
    # Measured first/last-hidden gradient RMS, seeds 0-4: xavier 2.5e-12..5.4e-12, default 1.7e-16..3.5e-16
    # (sigmoid' <= 1/4 per layer: 0.25^19 ~ 4e-12).
    for seed in SEEDS:
        p = init_profile(_sigmoid_mlp(init), digits, seed=seed)
        assert len(p.grad_rms) == 21  # 20 hidden layers + head
        ratio = p.first_last_ratio()
        assert ratio is not None and ratio < 1e-2, (seed, ratio)


def test_alpha_zero_residual_net_has_exactly_the_plain_profile(digits: Dataset) -> None:
    plain, res0, res1 = init_profiles(
        [ModelConfig(depth=20, residual=False), ModelConfig(depth=20, residual=True, alpha=0.0),
         ModelConfig(depth=20, residual=True, alpha=1.0)],
        digits, seed=3,
    )  # fmt: skip
    assert res0.layer_names == plain.layer_names
    for attr in ("grad_norm", "grad_rms", "grad_rel", "act_std"):
        assert getattr(res0, attr) == getattr(plain, attr), attr  # bit for bit: 0 * x adds exactly 0
    assert res1.grad_norm != plain.grad_norm  # the comparison above can tell the shortcut apart


def test_bn_plain_56_gradient_does_not_vanish_toward_the_input(digits: Dataset) -> None:
    # Measured first/last-conv gradient RMS of plain-56 (w=8, kaiming, BN), seeds 0-2: 9.4e3, 3.1e4, 1.5e4.
    ratio = init_profile(ModelConfig(depth=56, residual=False, bn=True), digits, seed=0).first_last_ratio()
    assert ratio is not None and ratio >= 1


@pytest.mark.parametrize("cfg", [ModelConfig(depth=14, width=4, residual=True), _sigmoid_mlp("xavier", True)])
def test_profile_is_torchs_own_gradient(digits: Dataset, cfg: ModelConfig) -> None:
    p = init_profile(cfg, digits, seed=5, batch=64)
    torch.manual_seed(5)
    model = build_model(fit_to_data(cfg, digits))
    F.cross_entropy(model(digits.x_train[:64]), digits.y_train[:64]).backward()
    layers = model.probe_layers()
    assert p.layer_names == [n for n, _ in layers]
    expected = [m.weight.grad.norm().item() for _, m in layers]
    assert p.grad_norm == pytest.approx(expected, rel=1e-5)
    assert p.grad_rms == pytest.approx([e / m.weight.numel() ** 0.5 for e, (_, m) in zip(expected, layers)], rel=1e-5)
    assert p.grad_rel == pytest.approx([e / m.weight.norm().item() for e, (_, m) in zip(expected, layers)], rel=1e-5)
    assert p.block_names == [n for n, _ in model.probe_blocks()] and len(p.act_std) == len(p.block_names)
    assert (p.seed, p.batch, p.config.in_channels) == (5, 64, 1)


def test_init_profile_leaves_the_callers_random_stream_alone(digits: Dataset) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    init_profile(ModelConfig(depth=8, width=4), digits, seed=0, batch=16)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(
    "row", [[3.0, 1.0, 2.0, 9.0], [1e-6, 5.0, 4e-2, 1.0], [1.0, 2.0], [1.0, 0.0, 0.0, 1.0], [float("nan"), 1.0, 1.0]]
)
def test_first_last_ratio_follows_the_run_readings_convention(row: list[float]) -> None:
    assert first_last_ratio(row) == input_output_ratio(row)


# -- 3. shattered gradients ----------------------------------------------------------------------


def test_autocorrelation_hand_values() -> None:
    # [1, 2, 3, 4]: deviations -1.5, -0.5, 0.5, 1.5, sum of squares 5.
    # r1 = (0.75 - 0.25 + 0.75)/5, r2 = (-0.75 - 0.75)/5, r3 = -2.25/5.
    np.testing.assert_allclose(autocorrelation(np.array([1.0, 2.0, 3.0, 4.0]), 3), [1.0, 0.25, -0.3, -0.45])
    # +1, -1 alternating, n = 6: mean 0, sum of squares 6; n - k products of sign (-1)^k.
    np.testing.assert_allclose(autocorrelation(np.array([1.0, -1.0] * 3), 3), [1.0, -5 / 6, 4 / 6, -3 / 6])
    const = autocorrelation(np.full(5, 2.0), 2)
    assert const[0] == 1.0 and np.isnan(const[1:]).all()  # no variance: undefined, not invented
    with pytest.raises(ValueError, match="max_lag"):
        autocorrelation(np.arange(4.0), 4)


def test_shattered_gradient_is_each_inputs_own_derivative() -> None:
    n, depth, width = 12, 4, 16
    x, g = shattered(depth, residual=False, width=width, n=n, seed=7, bn=True)
    np.testing.assert_allclose(x, np.linspace(-2, 2, n))
    # Oracle: torch's full Jacobian of the n outputs w.r.t. the n inputs. BN's statistics are
    # constants, so output i depends on input i only: the Jacobian is diagonal and it is g.
    xt = torch.tensor(x).reshape(n, 1)
    jac = torch.autograd.functional.jacobian(
        lambda t: _scalar_net(t, depth, residual=False, width=width, seed=7, bn=True).ravel(), xt
    ).reshape(n, n)  # fmt: skip
    np.testing.assert_allclose(jac.diagonal().numpy(), g, rtol=1e-10)
    assert torch.count_nonzero(jac - torch.diag(jac.diagonal())) == 0
    # And without BN against central differences (f is piecewise linear: exact away from kinks).
    x, g = shattered(depth, residual=True, width=width, n=n, seed=7, bn=False)
    eps = 1e-6
    f = [_scalar_net(torch.tensor(x).reshape(n, 1) + s, depth, residual=True, width=width, seed=7, bn=False)
         for s in (eps, -eps)]  # fmt: skip
    np.testing.assert_allclose(((f[0] - f[1]) / (2 * eps)).ravel().numpy(), g, rtol=1e-6, atol=1e-8)


def test_deep_plain_gradient_shatters_and_residual_does_not() -> None:
    # Lag-1 autocorrelation at depth 50, measured over seeds 0-9: plain -0.12..0.06, residual 0.81..0.96.
    for seed in SEEDS:
        plain = autocorrelation(shattered(50, residual=False, seed=seed)[1], 1)[1]
        residual = autocorrelation(shattered(50, residual=True, seed=seed)[1], 1)[1]
        assert plain < 0.3, (seed, plain)
        assert residual > 0.6, (seed, residual)


def test_shallow_plain_gradient_stays_smooth() -> None:
    # Depth, not the missing shortcut alone, shatters: depth 2, seeds 0-9: 0.95..0.99.
    for seed in SEEDS:
        assert autocorrelation(shattered(2, residual=False, seed=seed)[1], 1)[1] > 0.8


# -- 4. readings ---------------------------------------------------------------------------------

MLP = ModelConfig(arch="mlp", depth=20, activation="sigmoid", bn=False, residual=False)
CIFAR = ModelConfig(depth=56, residual=False)


def _profile(name: str, rms: list[float], cfg: ModelConfig | None = None, act: list[float] | None = None,
             seed: int | None = 0) -> InitProfile:  # fmt: skip
    n = len(rms)
    act = act if act is not None else [1.0, 1.0]
    return InitProfile(name=name, layer_names=[f"l{i}" for i in range(n)], grad_norm=rms, grad_rms=rms,
                       grad_rel=rms, block_names=[f"b{i}" for i in range(len(act))], act_std=act, config=cfg,
                       seed=seed)  # fmt: skip


@pytest.mark.parametrize(
    ("rms", "cfg", "expected"),
    [
        ([3.2e-7, 1e-3, 1e-2, 5.0], MLP, ("In mlp-x (sigmoid, no BatchNorm) the first layer's gradient RMS is 3.2e-05 "
                                          "of the last hidden layer's: it vanished toward the input.")),
        ([0.31, 0.5, 1.0, 5.0], MLP, ("In mlp-x (sigmoid, no BatchNorm) the first layer's gradient RMS is 0.31 "
                                     "of the last hidden layer's: it shrank toward the input.")),
        ([4.1, 2.0, 1.0, 9.0], CIFAR, ("In mlp-x (relu, BatchNorm) the first layer's gradient RMS is 4.1x "
                                      "the last conv layer's: it grew toward the input.")),
        ([3400.0, 2.0, 1.0, 9.0], CIFAR, ("In mlp-x (relu, BatchNorm) the first layer's gradient RMS is 3,400x "
                                         "the last conv layer's: it exploded toward the input.")),
        ([0.8, 2.0, 1.0, 9.0], None, ("In mlp-x the first layer's gradient RMS is 0.8x the last layer's before "
                                     "the head: from output to input it kept about the same size (within a factor of 2).")),
        ([0.0, 2.0, 1.0, 9.0], MLP, ("In mlp-x (sigmoid, no BatchNorm) the first layer received no gradient at all "
                                    "(exactly 0): it vanished toward the input.")),
    ],
)  # fmt: skip
def test_ratio_sentence_says_what_the_numbers_show(rms: list[float], cfg: ModelConfig | None, expected: str) -> None:
    assert profile_sentences([_profile("mlp-x", rms, cfg)])[0] == expected


@pytest.mark.parametrize("rms", [[1.0, 2.0], [float("nan"), 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, float("inf"), 1.0]])
def test_no_ratio_sentence_without_usable_numbers(rms: list[float]) -> None:
    assert not [s for s in profile_sentences([_profile("p", rms, MLP)]) if "gradient RMS" in s]


def test_activation_sentence_and_its_absence() -> None:
    assert profile_sentences([_profile("p", [1.0], act=[0.244, 0.5, 1.23])]) == [
        "In p the block outputs' std is 0.244 at the first block and 1.23 at the last."
    ]
    assert profile_sentences([_profile("p", [1.0], act=[0.2, float("nan")])]) == []


def test_twin_sentence_compares_first_layers_of_twins_only() -> None:
    plain = _profile("plain-56", [2e-3, 1.0, 1.0, 1.0], CIFAR, act=[])
    res = _profile("residual-56", [0.5, 1.0, 1.0, 1.0], ModelConfig(depth=56, residual=True), act=[])
    out = profile_sentences([plain, res])
    assert out[-1] == "At the first layer, residual-56's gradient RMS is 250x that of plain-56 (both built from the same seed)."
    other = _profile("residual-56", [0.5, 1.0, 1.0, 1.0], ModelConfig(depth=56, residual=True, bn=False), act=[])
    assert not any(s.startswith("At the first layer") for s in profile_sentences([plain, other]))  # not twins
    same = _profile("residual-56", [2e-3, 1.0, 1.0, 1.0], ModelConfig(depth=56, residual=True, alpha=0.0), act=[],
                    seed=None)  # fmt: skip
    assert profile_sentences([plain, same])[-1] == "At the first layer, residual-56's gradient RMS is equal to that of plain-56."


def test_sentences_from_measured_profiles(digits: Dataset) -> None:
    plain, res = init_profiles([_sigmoid_mlp("xavier"), _sigmoid_mlp("xavier", True)], digits)
    text = profile_sentences([plain, res])
    assert text[0].startswith("In mlp-plain-20 (sigmoid, no BatchNorm) the first layer's gradient RMS is ")
    assert text[0].endswith("it vanished toward the input.")
    assert text[-1].startswith("At the first layer, mlp-residual-20's gradient RMS is ")


# -- 5. figures ----------------------------------------------------------------------------------


def _log_power(axis: go.layout.YAxis) -> bool:
    return axis.type == "log" and axis.exponentformat == "power"


def test_chain_figure_draws_the_arrays_on_a_log_axis() -> None:
    plain, res = chain_gradients(10, 1.0, 0.25, residual=False), chain_gradients(10, 1.0, 0.25, residual=True)
    fig = theory_plots.chain_figure(plain, res)
    (p, r) = fig.data
    assert (p.name, r.name) == ("plain", "residual")
    assert (p.line.color, r.line.color) == (PLAIN_SHADES[0], RESIDUAL_SHADES[0])
    np.testing.assert_allclose(p.y, plain)
    np.testing.assert_allclose(r.y, res)
    np.testing.assert_array_equal(p.x, np.arange(11))
    assert _log_power(fig.layout.yaxis)
    gap = theory_plots.chain_figure(np.array([0.0, 1.0]), np.array([1.0, 1.0]))
    assert math.isnan(gap.data[0].y[0])  # a zero gradient is a gap on a log axis, not a point


@pytest.mark.parametrize("kind", ["rms", "norm", "rel"])
def test_profile_figure_one_line_per_model(kind: str) -> None:
    a = InitProfile("plain-20", ["a", "b", "c"], [1.0, 2.0, 3.0], [0.1, 0.2, 0.3], [5.0, 6.0, 7.0], ["b0"], [1.0])
    b = InitProfile("residual-20", ["a", "b", "c"], [4.0, 5.0, 6.0], [0.4, 0.5, 0.6], [8.0, 9.0, 1.0], ["b0"], [2.0])
    fig = theory_plots.profile_figure([a, b], kind=kind)
    field = {"rms": "grad_rms", "norm": "grad_norm", "rel": "grad_rel"}[kind]
    assert [t.name for t in fig.data] == ["plain-20", "residual-20"]
    for trace, prof in zip(fig.data, (a, b)):
        np.testing.assert_allclose(trace.y, getattr(prof, field))
        np.testing.assert_array_equal(trace.x, [1, 2, 3])
        assert list(trace.text) == ["a", "b", "c"]
    assert [t.line.color for t in fig.data] == [PLAIN_SHADES[0], RESIDUAL_SHADES[0]]
    assert _log_power(fig.layout.yaxis)
    with pytest.raises(ValueError, match="kind"):
        theory_plots.profile_figure([a], kind="max")  # type: ignore[arg-type]
    assert not theory_plots.profile_figure([]).data


def test_act_std_figure_draws_block_stds() -> None:
    a = _profile("plain-20", [1.0, 1.0, 1.0], act=[0.5, 0.25, 0.0])
    fig = theory_plots.act_std_figure([a])
    np.testing.assert_allclose(fig.data[0].y, [0.5, 0.25, np.nan])
    assert list(fig.data[0].text) == ["b0", "b1", "b2"] and fig.data[0].name == "plain-20"
    assert _log_power(fig.layout.yaxis)


def test_shattered_figure_two_panels_from_the_results() -> None:
    x = np.linspace(-2, 2, 50)
    results = {"plain, depth 50": (x, np.sin(7 * x) * 3.0), "residual, depth 50": (x, np.cos(x) + 0.1)}
    fig = theory_plots.shattered_figure(results, max_lag=10)
    left = [t for t in fig.data if t.xaxis == "x"]
    right = [t for t in fig.data if t.xaxis == "x2"]
    assert [t.name for t in left] == list(results) == [t.name for t in right]
    for trace, (xs, g) in zip(left, results.values()):
        np.testing.assert_allclose(trace.x, xs)
        np.testing.assert_allclose(trace.y, g / np.sqrt(np.mean(g**2)))
    for trace, (_, g) in zip(right, results.values()):
        np.testing.assert_array_equal(trace.x, np.arange(11))
        np.testing.assert_allclose(trace.y, autocorrelation(g, 10))
    assert [t.line.color for t in left] == [PLAIN_SHADES[0], RESIDUAL_SHADES[0]]
    raw = theory_plots.shattered_figure(results, max_lag=10, normalise=False)
    np.testing.assert_allclose(raw.data[0].y, results["plain, depth 50"][1])
