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

from resnet_viz.engine.config import DataConfig, ModelConfig
from resnet_viz.engine.data import Dataset, load_dataset
from resnet_viz.engine.experiment import fit_to_data
from resnet_viz.engine.models import build_model
from resnet_viz.figures import theory as theory_figures
from resnet_viz.figures.common import PLAIN_SHADES, RESIDUAL_SHADES
from resnet_viz.text.theory import chain_sentence, profile_sentences
from resnet_viz.theory.flow import (
    InitProfile,
    _scalar_net,
    autocorrelation,
    chain_gradients,
    init_profile,
    init_profiles,
    shattered,
)

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset(DataConfig())


# -- 1. the toy chain ----------------------------------------------------------------------------


def test_chain_gradients_equal_torch_on_a_hand_built_chain() -> None:
    # Rebuild the same chain from the same generator draws, differentiate with torch.func.vjp
    # instead of retain_grad, and compare every layer's RMS.
    depth, gain, width, batch, beta = 4, 1.3, 6, 3, 0.5
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(batch, width, generator=gen, dtype=torch.float64)
    ws = [
        torch.randn(width, width, generator=gen, dtype=torch.float64) * (gain / math.sqrt(width)) for _ in range(depth)
    ]
    u = torch.randn(batch, width, generator=gen, dtype=torch.float64)
    for residual in (False, True):
        hs = [x]
        for w in ws:
            z = torch.relu(hs[-1] @ w.T)
            hs.append(hs[-1] + beta * z if residual else z)
        grads = [u]
        for i in reversed(range(depth)):  # by hand: relu' is the mask of the pre-activation
            pre = hs[i] @ ws[i].T
            back = (grads[0] * (pre > 0)) @ ws[i]
            grads.insert(0, grads[0] + beta * back if residual else back)
        rms = np.array([g.pow(2).mean().sqrt().item() for g in grads])
        got = chain_gradients(depth, gain, residual=residual, beta=beta, width=width, batch=batch, seed=7)
        np.testing.assert_allclose(got, rms / rms[-1], rtol=1e-12)


def test_linear_chain_follows_the_variance_argument() -> None:
    # Linear phi, wide layers: plain multiplies the squared RMS by g^2 per layer, residual by
    # (1 + beta^2 g^2): random branches add variance, a scalar chain would multiply (1 + g).
    depth, gain = 10, 0.8
    plain = chain_gradients(depth, gain, residual=False, activation="linear", width=512, batch=64)
    res = chain_gradients(depth, gain, residual=True, activation="linear", width=512, batch=64)
    assert plain[0] == pytest.approx(gain**depth, rel=0.2)
    assert res[0] == pytest.approx((1 + gain**2) ** (depth / 2), rel=0.2)
    assert res[0] < 0.1 * (1 + gain) ** depth


@pytest.mark.parametrize("seed", SEEDS)
def test_default_chain_plain_vanishes_residual_stays_near_one(seed: int) -> None:
    # The page's defaults: L = 30, g = 0.9, ReLU, beta = 1/sqrt(L). Measured: plain 1.1e-6..1.3e-6,
    # residual 1.30..1.35 (seeds 0-2).
    depth = 30
    plain = chain_gradients(depth, 0.9, residual=False, seed=seed)
    res = chain_gradients(depth, 0.9, residual=True, beta=1 / math.sqrt(depth), seed=seed)
    assert plain[0] < 1e-3 and plain[-1] == 1.0
    assert 0.1 < res[0] < 10 and res[-1] == 1.0
    assert chain_gradients(depth, 0.9, residual=True, beta=1.0, seed=seed)[0] > 10  # unscaled: it grows


def test_chain_never_underflows_to_zero() -> None:
    g = chain_gradients(100, 0.1, residual=False)
    assert 0 < g[0] < 1e-100  # float32 would have returned 0 and drawn a gap


def test_chain_sentence_follows_the_numbers() -> None:
    a = chain_sentence(np.array([1e-6, 1.0]), np.array([1.3, 1.0]), beta=1 / math.sqrt(30), depth=30, gain=0.9)
    assert "plain chain keeps 1e-06 of the output's gradient: it vanished toward the input" in a
    assert "β = 1/√L keeps 1.3x: it kept about the same size" in a
    b = chain_sentence(np.array([1.3, 1.0]), np.array([4690.0, 1.0]), beta=1.0, depth=30, gain=0.9)
    assert "plain chain keeps 1.3x" in b and "β = 1 keeps 4,690x: it exploded toward the input" in b
    assert "230,000,000x over 30 layers" in b


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
        [
            ModelConfig(depth=20, residual=False),
            ModelConfig(depth=20, residual=True, alpha=0.0),
            ModelConfig(depth=20, residual=True, alpha=1.0),
        ],
        digits,
        seed=3,
    )
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
    ("row", "expected"),
    [
        ([3.0, 1.0, 2.0, 9.0], 1.5),  # first over the last layer before the head (9, left out)
        ([1e-6, 5.0, 4e-2, 1.0], 2.5e-5),
        ([1.0, 2.0], None),  # a head and one layer: nothing to compare
        ([1.0, 0.0, 0.0, 1.0], None),  # a zero denominator
        ([float("nan"), 1.0, 1.0], None),
    ],
)
def test_first_last_ratio_leaves_the_head_out(row: list[float], expected: float | None) -> None:
    p = InitProfile("p", [], row, row, row, [], [])
    for kind in ("norm", "rms", "rel"):
        assert p.first_last_ratio(kind) == (None if expected is None else pytest.approx(expected))


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
    ).reshape(n, n)
    np.testing.assert_allclose(jac.diagonal().numpy(), g, rtol=1e-10)
    assert torch.count_nonzero(jac - torch.diag(jac.diagonal())) == 0
    # And without BN against central differences (f is piecewise linear: exact away from kinks).
    x, g = shattered(depth, residual=True, width=width, n=n, seed=7, bn=False)
    eps = 1e-6
    f = [
        _scalar_net(torch.tensor(x).reshape(n, 1) + s, depth, residual=True, width=width, seed=7, bn=False)
        for s in (eps, -eps)
    ]
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


def _profile(
    name: str,
    rms: list[float],
    cfg: ModelConfig | None = None,
    act: list[float] | None = None,
    seed: int | None = 0,
    gx: list[float] | None = None,
) -> InitProfile:
    n = len(rms)
    act = act if act is not None else [1.0, 1.0]
    return InitProfile(
        name=name,
        layer_names=[f"l{i}" for i in range(n)],
        grad_norm=rms,
        grad_rms=rms,
        grad_rel=rms,
        block_names=[f"b{i}" for i in range(len(act))],
        act_std=act,
        config=cfg,
        seed=seed,
        grad_x_rms=gx if gx is not None else [],
    )


@pytest.mark.parametrize(
    ("gx", "cfg", "expected"),
    [
        (
            [3.2e-7, 1e-3, 1e-2],
            MLP,
            (
                "In mlp-x (sigmoid, no BatchNorm), the gradient dL/dx at the first block's output "
                "is 31,200x smaller than at the last block: it vanished toward the input."
            ),
        ),
        (
            [0.31, 0.5, 1.0],
            MLP,
            (
                "In mlp-x (sigmoid, no BatchNorm), the gradient dL/dx at the first block's output "
                "is 3.23x smaller than at the last block: it shrank toward the input."
            ),
        ),
        (
            [4.1, 2.0, 1.0],
            CIFAR,
            (
                "In mlp-x (relu, BatchNorm), the gradient dL/dx at the first block's output is "
                "4.1x larger than at the last block: it grew toward the input."
            ),
        ),
        (
            [1380.0, 2.0, 1.0],
            CIFAR,
            (
                "In mlp-x (relu, BatchNorm), the gradient dL/dx at the first block's output is "
                "1,380x larger than at the last block: it exploded toward the input. This is "
                "explosion at initialisation, which Yang et al. (2019) predict for deep BatchNorm "
                "nets without shortcuts; it is no sign of a healthy gradient (train the net to "
                "watch it calm down)."
            ),
        ),
        (
            [0.8, 2.0, 1.0],
            None,
            (
                "In mlp-x, the gradient dL/dx at the first block's output is 0.8x that at the last "
                "block: it kept about the same size from output to input (within a factor of 2)."
            ),
        ),
        (
            [0.0, 2.0, 1.0],
            MLP,
            (
                "In mlp-x (sigmoid, no BatchNorm) the first block received no gradient dL/dx at all "
                "(exactly 0): it vanished completely."
            ),
        ),
    ],
)
def test_flow_sentence_names_the_regime_from_the_numbers(
    gx: list[float], cfg: ModelConfig | None, expected: str
) -> None:
    assert profile_sentences([_profile("mlp-x", [1.0, 1.0, 1.0], cfg, gx=gx)])[0] == expected


def test_swapping_the_numbers_swaps_the_regime() -> None:
    lo = profile_sentences([_profile("p", [1.0], CIFAR, gx=[1e-5, 1.0], act=[])])[0]
    hi = profile_sentences([_profile("p", [1.0], CIFAR, gx=[1.0, 1e-5], act=[])])[0]
    assert "vanished" in lo and "exploded" in hi and "100,000x" in lo and "100,000x" in hi


def test_residual_with_bn_explosion_is_not_called_explosion_at_init_of_a_plain_net() -> None:
    res = ModelConfig(depth=56, residual=True)
    text = profile_sentences([_profile("residual-56", [1.0], res, gx=[500.0, 1.0], act=[])])[0]
    assert "exploded" in text and "Yang" not in text


@pytest.mark.parametrize("gx", [[1.0], [float("nan"), 1.0], [1.0, 0.0], [1.0, float("inf")], []])
def test_no_ratio_without_usable_numbers(gx: list[float]) -> None:
    out = profile_sentences([_profile("p", [1.0], MLP, gx=gx)])  # never raises
    assert not [s for s in out if "larger than" in s or "smaller than" in s]


def test_weight_view_says_when_it_hides_vanishing() -> None:
    # The per-weight ratio grew while dL/dx vanished: the second view must say why they disagree.
    out = profile_sentences([_profile("plain-56", [30.0, 1.0, 1.0, 9.0], CIFAR, gx=[5e-6, 1.0], act=[])])
    assert any("hides what dL/dx shows" in s for s in out)
    out = profile_sentences([_profile("plain-56", [1e-4, 1.0, 1.0, 9.0], CIFAR, gx=[5e-6, 1.0], act=[])])
    assert not any("hides" in s for s in out)


def test_weight_view_claims_no_activation_trend_it_did_not_measure() -> None:
    # No activations measured here (act=[]), and the block outputs' std grows in the second case:
    # the sentence must not say the activations shrink toward the output, only what makes up for it.
    for act in ([], [1.0, 4.0]):
        out = profile_sentences([_profile("plain-56", [30.0, 1.0, 1.0, 9.0], CIFAR, gx=[5e-6, 1.0], act=act)])
        hides = next(s for s in out if "hides what dL/dx shows" in s)
        assert "activations shrink toward the output" not in hides and "cancel" not in hides
        assert "summed over the batch and every position of its map" in hides


def test_alpha_sentence_computes_the_shortcut_product() -> None:
    cfg = ModelConfig(depth=56, residual=True, alpha=1.5)
    gx = [100.0] + [1.0] * 26  # 27 blocks: 26 steps from the last block's output to the first's
    out = profile_sentences([_profile("residual-56", [1.0], cfg, gx=gx, act=[])])
    line = next(s for s in out if "skip strength" in s and "per block" in s)
    assert "1.5^26 = 37,900x over 26 blocks" in line and "100x larger than at the last" in line
    low = profile_sentences(
        [_profile("residual-56", [1.0], ModelConfig(depth=56, residual=True, alpha=0.5), gx=gx, act=[])]
    )
    assert any("0.5^26 = 1.5e-08" in s for s in low)


def test_activation_sentence_and_its_absence() -> None:
    assert profile_sentences([_profile("p", [1.0], act=[0.244, 0.5, 1.23])]) == [
        "In p the block outputs' std is 0.244 at the first block and 1.23 at the last."
    ]
    assert profile_sentences([_profile("p", [1.0], act=[0.2, float("nan")])]) == []
    boom = profile_sentences([_profile("p", [1.0], act=[0.3, 1.0, 120.0])])[0]
    assert "exploded forward, 400x over the net" in boom


def test_twin_sentence_compares_first_blocks_of_twins_only() -> None:
    plain = _profile("plain-56", [1.0], CIFAR, act=[], gx=[2e-3, 1.0])
    res = _profile("residual-56", [1.0], ModelConfig(depth=56, residual=True), act=[], gx=[0.5, 1.0])
    out = profile_sentences([plain, res])
    assert (
        out[-1]
        == "At the first block, residual-56's gradient dL/dx is 250x larger than plain-56's (both built from the same seed)."
    )
    other = _profile("residual-56", [1.0], ModelConfig(depth=56, residual=True, bn=False), act=[], gx=[0.5, 1.0])
    assert not any(s.startswith("At the first block") for s in profile_sentences([plain, other]))  # not twins
    same = _profile(
        "residual-56", [1.0], ModelConfig(depth=56, residual=True, alpha=0.0), act=[], seed=None, gx=[2e-3, 1.0]
    )
    assert (
        profile_sentences([plain, same])[-1]
        == "At the first block, residual-56's gradient dL/dx is equal to plain-56's."
    )


def test_sentences_from_measured_profiles(digits: Dataset) -> None:
    plain, res = init_profiles([_sigmoid_mlp("xavier"), _sigmoid_mlp("xavier", True)], digits)
    text = profile_sentences([plain, res])
    assert text[0].startswith("In mlp-plain-20 (sigmoid, no BatchNorm), the gradient dL/dx at the first block's output")
    assert text[0].endswith("it vanished toward the input.")
    assert text[-1].startswith("At the first block, mlp-residual-20's gradient dL/dx is ")


@pytest.mark.parametrize(
    ("data", "bn", "residual", "regime"),
    [
        ("digits", True, False, "exploding"),
        ("digits", True, True, "growing"),
        ("digits", False, False, "vanishing"),
        ("shapes", False, False, "shrinking"),
    ],
)
def test_measured_dldx_regimes_at_depth_56(data: str, bn: bool, residual: bool, regime: str) -> None:
    # One batch, depth 56, width 16, seed 0, kaiming (the orientation figures): measured
    # dL/dx first/last block: plain+BN 1,380x (digits) / 1,990x (shapes), residual+BN 6.3x,
    # plain without BN 4.8e-6 on digits, 0.15 on shapes.
    from resnet_viz.text import numbers as wording

    p = init_profile(ModelConfig(depth=56, width=16, residual=residual, bn=bn), load_dataset(DataConfig(name=data)))
    assert wording.regime(p.flow_ratio()) == regime
    verb = {"exploding": "exploded", "growing": "grew", "vanishing": "vanished", "shrinking": "shrank"}[regime]
    assert f"it {verb} toward the input" in " ".join(profile_sentences([p]))


def test_residual_without_bn_explodes_forward(digits: Dataset) -> None:
    p = init_profile(ModelConfig(depth=56, width=16, residual=True, bn=False), digits)
    assert p.act_std[-1] / p.act_std[0] > 100  # measured ~380x
    assert any("exploded forward" in s for s in profile_sentences([p]))


# -- 5. figures ----------------------------------------------------------------------------------


def _log_power(axis: go.layout.YAxis) -> bool:
    return axis.type == "log" and axis.exponentformat == "power"


def test_chain_figure_draws_the_arrays_on_a_log_axis() -> None:
    plain, res = chain_gradients(10, 1.0, residual=False), chain_gradients(10, 1.0, residual=True)
    fig = theory_figures.chain_figure(plain, res)
    (p, r) = fig.data
    assert (p.name, r.name) == ("plain", "residual")
    assert (p.line.color, r.line.color) == (PLAIN_SHADES[0], RESIDUAL_SHADES[0])
    np.testing.assert_allclose(p.y, plain)
    np.testing.assert_allclose(r.y, res)
    np.testing.assert_array_equal(p.x, np.arange(11))
    assert _log_power(fig.layout.yaxis)
    gap = theory_figures.chain_figure(np.array([0.0, 1.0]), np.array([1.0, 1.0]))
    assert math.isnan(gap.data[0].y[0])  # a zero gradient is a gap on a log axis, not a point


@pytest.mark.parametrize("kind", ["rms", "norm", "rel"])
def test_profile_figure_one_line_per_model(kind: str) -> None:
    a = InitProfile("plain-20", ["a", "b", "c"], [1.0, 2.0, 3.0], [0.1, 0.2, 0.3], [5.0, 6.0, 7.0], ["b0"], [1.0])
    b = InitProfile("residual-20", ["a", "b", "c"], [4.0, 5.0, 6.0], [0.4, 0.5, 0.6], [8.0, 9.0, 1.0], ["b0"], [2.0])
    fig = theory_figures.profile_figure([a, b], kind=kind)
    field = {"rms": "grad_rms", "norm": "grad_norm", "rel": "grad_rel"}[kind]
    assert [t.name for t in fig.data] == ["plain-20", "residual-20"]
    for trace, prof in zip(fig.data, (a, b)):
        np.testing.assert_allclose(trace.y, getattr(prof, field))
        np.testing.assert_array_equal(trace.x, [1, 2, 3])
        assert list(trace.text) == ["a", "b", "c"]
    assert [t.line.color for t in fig.data] == [PLAIN_SHADES[0], RESIDUAL_SHADES[0]]
    assert _log_power(fig.layout.yaxis)
    with pytest.raises(ValueError, match="kind"):
        theory_figures.profile_figure([a], kind="max")  # type: ignore[arg-type]
    assert not theory_figures.profile_figure([]).data


def test_act_std_figure_draws_block_stds() -> None:
    a = _profile("plain-20", [1.0, 1.0, 1.0], act=[0.5, 0.25, 0.0])
    fig = theory_figures.act_std_figure([a])
    np.testing.assert_allclose(fig.data[0].y, [0.5, 0.25, np.nan])
    assert list(fig.data[0].text) == ["b0", "b1", "b2"] and fig.data[0].name == "plain-20"
    assert _log_power(fig.layout.yaxis)


def test_shattered_figure_two_panels_from_the_results() -> None:
    x = np.linspace(-2, 2, 50)
    results = {"plain, depth 50": (x, np.sin(7 * x) * 3.0), "residual, depth 50": (x, np.cos(x) + 0.1)}
    fig = theory_figures.shattered_figure(results, max_lag=10)
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
    raw = theory_figures.shattered_figure(results, max_lag=10, normalise=False)
    np.testing.assert_allclose(raw.data[0].y, results["plain, depth 50"][1])


def test_flow_figure_draws_dldx_per_block_on_a_log_axis() -> None:
    p = _profile("plain-56", [1.0], CIFAR, act=[1.0, 1.0, 1.0], gx=[1400.0, 0.0, 1.0])
    fig = theory_figures.flow_figure([p])
    np.testing.assert_allclose(fig.data[0].customdata, [1400.0, 0.0, 1.0])
    assert fig.data[0].y[1] is None or np.isnan(fig.data[0].y[1])  # a zero is a gap on a log axis, not a point
    assert _log_power(fig.layout.yaxis) and fig.layout.xaxis.title.text.startswith("block")
