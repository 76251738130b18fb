"""Loss-landscape slices against oracles: the filter-normalisation rule checked filter by filter,
``train.evaluate`` on the unperturbed model, and ``evaluate`` on a copy perturbed by hand.
Tiny CifarResNet (depth 8, width 4) on digits, 3x3 and 5x5 grids: seconds on a 2-core CPU."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.analysis.landscape import (
    Slice,
    SliceCancelled,
    directions,
    loss_slice,
    random_direction,
    sharper,
    sharpness,
    within_band,
)
from resnet_viz.engine.config import DataConfig, ModelConfig
from resnet_viz.engine.data import load_dataset
from resnet_viz.engine.experiment import build_twins, fit_to_data
from resnet_viz.engine.models import build_model
from resnet_viz.engine.train import evaluate
from resnet_viz.text.landscape import landscape_sentences

TINY = ModelConfig(depth=8, width=4)


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig())


@pytest.fixture(scope="module")
def trained(digits) -> nn.Module:
    """A few SGD steps in train mode, so weights are off their init and the BN running statistics
    are not (0, 1): a slice that ran in train mode, or forgot to restore a weight, would show."""
    torch.manual_seed(0)
    model = build_model(fit_to_data(TINY, digits)).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for i in range(20):
        xb, yb = digits.x_train[i * 64 : (i + 1) * 64], digits.y_train[i * 64 : (i + 1) * 64]
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def weight_names(model: nn.Module) -> list[str]:
    return [f"{n}.weight" for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def perturbed_copy(model: nn.Module, dirs: list[dict[str, torch.Tensor]], steps: tuple[float, ...]) -> nn.Module:
    """The oracle: theta + sum_k steps[k] * d_k built from the state dict, loaded into a fresh copy."""
    state = model.state_dict()
    new = {}
    for k, v in state.items():
        if v.is_floating_point():
            v = v.clone()
            for d, s in zip(dirs, steps):
                v = v + s * d[k]
        new[k] = v
    other = copy.deepcopy(model)
    other.load_state_dict(new)
    return other


# --- directions -------------------------------------------------------------------------------


def test_filter_normalisation_and_zeros(trained):
    d = random_direction(trained, seed=0)
    state = trained.state_dict()
    assert d.keys() == state.keys()
    convs_and_linears = weight_names(trained)
    assert len(convs_and_linears) == 8  # depth 8: 7 convs + the head
    for k in convs_and_linears:
        w, dk = state[k], d[k]
        assert dk.shape == w.shape and dk.dtype == w.dtype
        w_norms = w.reshape(w.shape[0], -1).norm(dim=1)  # one per filter / output unit
        d_norms = dk.reshape(w.shape[0], -1).norm(dim=1)
        torch.testing.assert_close(d_norms, w_norms, rtol=1e-5, atol=1e-6)
        assert not torch.allclose(dk, w)  # a random direction, not the weights themselves
    zeroed = [k for k in state if k not in convs_and_linears]
    assert any(".running_var" in k for k in zeroed) and any("head.bias" == k for k in zeroed)
    for k in zeroed:  # biases, BN gamma/beta, running stats, num_batches_tracked
        assert d[k].dtype == state[k].dtype
        assert torch.count_nonzero(d[k]) == 0, k


def test_direction_is_deterministic_per_seed(trained):
    a, b, c = (random_direction(trained, seed=s) for s in (3, 3, 4))
    for k in weight_names(trained):
        assert torch.equal(a[k], b[k])
        assert not torch.allclose(a[k], c[k])
    d1, d2 = directions(trained, seed=3)
    assert all(torch.equal(d1[k], a[k]) and torch.equal(d2[k], c[k]) for k in a)


def test_direction_depends_on_weights_only_through_filter_norms(trained):
    """Scaling one filter by 3 scales that filter of the direction by 3 and changes nothing else."""
    k = "blocks.0.F.0.weight"
    other = copy.deepcopy(trained)
    with torch.no_grad():
        other.get_parameter(k)[1].mul_(3.0)
    a, b = random_direction(trained, seed=0), random_direction(other, seed=0)
    torch.testing.assert_close(b[k][1], 3.0 * a[k][1], rtol=1e-6, atol=1e-7)
    assert torch.equal(b[k][0], a[k][0]) and torch.equal(b[k][2:], a[k][2:])
    assert all(torch.equal(a[n], b[n]) for n in a if n != k)


def test_twins_get_identical_draws(digits):
    # Shortcut A: no extra parameters, bit-identical weights from the same seed -> same direction.
    plain, res = build_twins(
        [fit_to_data(TINY, digits), fit_to_data(ModelConfig(depth=8, width=4, residual=True), digits)], 0
    )
    dp, dr = random_direction(plain, seed=7), random_direction(res, seed=7)
    assert dp.keys() == dr.keys()
    assert all(torch.equal(dp[k], dr[k]) for k in dp)
    # Shortcut B adds projection weights (and so draws the generator more often while building):
    # wherever the weights are still equal, the direction must be too, i.e. draws are per name.
    cfg_b = fit_to_data(ModelConfig(depth=8, width=4, residual=True, shortcut="B"), digits)
    res_b = build_twins([cfg_b], 0)[0]
    res_b.load_state_dict(plain.state_dict(), strict=False)  # the layers the two share get plain's weights
    db = random_direction(res_b, seed=7)
    extra = set(db) - set(dp)
    assert extra and all("shortcut" in k for k in extra)
    assert any(torch.count_nonzero(db[k]) for k in extra)  # the projections are perturbed too
    assert all(torch.equal(dp[k], db[k]) for k in dp)


# --- slices -----------------------------------------------------------------------------------


def test_centre_equals_evaluate_and_model_untouched(trained, digits):
    x, y = digits.x_test, digits.y_test
    model = copy.deepcopy(trained).train()  # the training flag must survive, as must every weight
    before = copy.deepcopy(model.state_dict())
    want_loss, want_acc = evaluate(model, x, y)
    s2 = loss_slice(model, x, y, grid=3, span=0.5, dims=2, seed=1, batch=100)
    assert s2.loss.shape == s2.acc.shape == (3, 3) and s2.betas == (-0.5, 0.0, 0.5) == s2.alphas
    assert s2.n_eval == len(x) and s2.seed == 1 and s2.dims == 2
    assert s2.loss[1, 1] == pytest.approx(want_loss, abs=1e-5)
    assert s2.acc[1, 1] == pytest.approx(want_acc, abs=1e-5)
    assert s2.center == (s2.loss[1, 1], s2.acc[1, 1])
    assert model.training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)

    s1 = loss_slice(model, x, y, grid=3, span=0.5, dims=1, seed=1)
    assert s1.betas is None and s1.loss.shape == s1.acc.shape == (3,) and s1.dims == 1
    # d1 is the same direction in 1-D and 2-D, so the line is the plane's middle row (b = 0).
    np.testing.assert_allclose(s1.loss, s2.loss[1], atol=1e-5)
    np.testing.assert_allclose(s1.acc, s2.acc[1], atol=1e-6)
    assert s1.loss[0] != pytest.approx(s1.loss[1], abs=1e-3)  # the perturbation really moved the loss


def test_off_centre_point_equals_hand_perturbed_copy(trained, digits):
    x, y = digits.x_test[:200], digits.y_test[:200]
    s = loss_slice(trained, x, y, grid=5, span=1.0, dims=2, seed=5)
    assert s.alphas == (-1.0, -0.5, 0.0, 0.5, 1.0)
    dirs = directions(trained, seed=5)
    # a != b and an asymmetric point, so swapped axes or a transposed array would fail.
    for a, b in ((0.5, -1.0), (-1.0, 0.5), (1.0, 0.0)):
        want_loss, want_acc = evaluate(perturbed_copy(trained, dirs, (a, b)), x, y)
        row, col = s.betas.index(b), s.alphas.index(a)
        assert s.loss[row, col] == pytest.approx(want_loss, abs=1e-5), (a, b)
        assert s.acc[row, col] == pytest.approx(want_acc, abs=1e-6), (a, b)
    assert s.loss[2, 2] < s.loss.max()  # the trained point is not the worst


def test_progress_and_cancel(trained, digits):
    x, y = digits.x_test[:32], digits.y_test[:32]
    calls: list[tuple[int, int]] = []
    loss_slice(trained, x, y, grid=3, on_progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 9) for i in range(1, 10)]

    calls.clear()
    polls = iter(range(100))
    with pytest.raises(SliceCancelled) as info:
        loss_slice(
            trained,
            x,
            y,
            grid=5,
            dims=1,
            on_progress=lambda d, t: calls.append((d, t)),
            should_stop=lambda: next(polls) >= 2,
        )
    assert (info.value.done, info.value.total) == (2, 5) and calls == [(1, 5), (2, 5)]


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"grid": 4}, "odd"),
        ({"grid": 1}, "odd"),
        ({"grid": 83}, "81"),
        ({"grid": 5.0}, "grid"),
        ({"span": 0.0}, "span"),
        ({"span": -1.0}, "span"),
        ({"span": math.nan}, "span"),
        ({"dims": 3}, "dims"),
    ],
)
def test_bad_arguments(trained, digits, kwargs, words):
    with pytest.raises(ValueError, match=words):
        loss_slice(trained, digits.x_test[:8], digits.y_test[:8], **kwargs)


def test_slice_round_trips_through_json():
    s = Slice(
        alphas=(-1.0, 0.0, 1.0),
        betas=(-1.0, 0.0, 1.0),
        loss=np.arange(9.0).reshape(3, 3),
        acc=np.full((3, 3), 0.5),
        seed=2,
        n_eval=10,
    )
    for original in (
        s,
        Slice(
            alphas=(-2.0, 0.0, 2.0),
            betas=None,
            loss=np.array([1.0, math.nan, math.inf]),
            acc=np.array([0.1, 0.2, 0.3]),
            seed=0,
            n_eval=3,
        ),
    ):
        text = json.dumps(original.to_dict(), allow_nan=False)  # strict JSON: no NaN/Infinity tokens
        back = Slice.from_dict(json.loads(text))
        assert (back.alphas, back.betas, back.seed, back.n_eval) == (
            original.alphas,
            original.betas,
            original.seed,
            original.n_eval,
        )
        finite = np.isfinite(original.loss)
        np.testing.assert_array_equal(back.loss[finite], original.loss[finite])
        assert np.isnan(back.loss[~finite]).all()  # non-finite points come back as NaN
        np.testing.assert_array_equal(back.acc, original.acc)
    with pytest.raises(ValueError, match="shape"):
        Slice(alphas=(0.0,), betas=None, loss=np.zeros(2), acc=np.zeros(2), seed=0, n_eval=1)
    with pytest.raises(ValueError):
        s.loss[0, 0] = 1.0  # read-only: a frozen Slice cannot be edited through its arrays


# --- reading two slices -----------------------------------------------------------------------


def _bowl(scale: float, *, grid: int = 5, span: float = 1.0, center: float = 0.5, dims: int = 2) -> Slice:
    """loss = center + scale * (a^2 + b^2): every number below is known by hand."""
    a = np.linspace(-span, span, grid)
    loss = center + scale * (np.add.outer(a**2, a**2) if dims == 2 else a**2)
    return Slice(tuple(a), tuple(a) if dims == 2 else None, loss, np.zeros_like(loss), 0, 10)


def test_sharpness_of_a_bowl_by_hand():
    s = sharpness(_bowl(2.0))
    # Grid -1, -0.5, 0, 0.5, 1; distance 0.5 = half the span: the 8 points with max(|a|, |b|) = 0.5,
    # four with a^2 + b^2 = 0.25 and four with 0.5: mean 0.375, times the scale.
    assert (s.radius, s.points, s.nonfinite, s.center) == (0.5, 8, 0, 0.5)
    assert s.rise == pytest.approx(0.75)
    assert s.h == 0.5 and s.curvature == pytest.approx(4.0)  # d^2/da^2 of 2 a^2, exact for a quadratic
    line = sharpness(_bowl(3.0, dims=1))
    assert (line.radius, line.points, line.rise, line.curvature) == (0.5, 2, pytest.approx(0.75), pytest.approx(6.0))
    assert sharpness(_bowl(1.0, grid=3)).radius == 1.0  # the only nonzero step


def test_landscape_sentences_and_their_swap():
    plain, residual = _bowl(13_400.0), _bowl(1.0)
    lines = landscape_sentences(plain, residual, ("plain-56", "residual-56"), depth=56)
    assert lines == [
        (
            "The rise is read on the test split at distance 0.5 from the trained weights, at the 8 grid points with "
            "max(|a|, |b|) = 0.5 (filter-normalised directions, Li et al. 2018 §4). There the loss rises by 5,020 for "
            "plain-56 (from 0.5). There the loss rises by 0.375 for residual-56 (from 0.5)."
        ),
        (
            "plain-56's surface is the sharper one at this distance: its loss rises 13,400x as much. That agrees with "
            "Li et al. (2018, Fig. 1), whose ResNet-56 without skip connections had the sharper surface. One larger "
            "rise shows sharpness, not chaos: whether a surface is chaotic (non-convex) shows in the whole picture, "
            "not in the rise at one distance. Li et al. found that this depends on depth: without skip connections "
            "the surface turned chaotic at 56 and 110 layers, while at 20 layers the two differed little; these nets "
            "have 56 layers."
        ),
        (
            "Curvature at the trained weights (second difference over one grid step, 0.5, mean over the directions): "
            "plain-56 26,800, residual-56 2; plain-56's is 13,400x the other's. These slices are of the test loss, "
            "while Li et al. (2018) plotted the training loss: training lowers the training loss, so the trained "
            "weights need not sit at a minimum of the test loss, which may fall or curve downward along some "
            "directions."
        ),
    ]
    swapped = landscape_sentences(residual, plain, ("plain-56", "residual-56"))
    assert sharper(sharpness(residual), sharpness(plain)) == "residual"
    assert swapped[1].startswith("residual-56's surface is the sharper one at this distance: its loss rises 13,400x")
    assert "the opposite of Li et al. (2018, Fig. 1)" in swapped[1]
    assert "residual-56's is 13,400x the other's. These slices are of the test loss" in swapped[2]


def test_about_the_same_within_2x_and_no_rise():
    assert sharper(sharpness(_bowl(1.0)), sharpness(_bowl(1.9))) == "same"
    assert landscape_sentences(_bowl(1.0), _bowl(1.9))[1] == (
        "The two surfaces are about equally sharp at this distance: the rises are within 2x of each other (1.9x)."
    )
    assert sharper(sharpness(_bowl(1.0)), sharpness(_bowl(2.1))) == "residual"
    down = landscape_sentences(_bowl(-1.0), _bowl(-2.0))
    assert sharper(sharpness(_bowl(-1.0)), sharpness(_bowl(-2.0))) is None
    assert "There the loss falls by 0.375 for plain (from 0.5). There the loss falls by 0.75 for residual" in down[0]
    assert down[1].startswith("Neither loss rises at this distance")
    assert "A negative value means the loss curves downward there" in down[2]
    assert sharper(sharpness(_bowl(-1.0)), sharpness(_bowl(1.0))) == "residual"
    assert "while the other's does not rise" in landscape_sentences(_bowl(-1.0), _bowl(1.0))[1]


def _with(s: Slice, idx: tuple[int, int], value: float) -> Slice:
    loss = s.loss.copy()
    loss[idx] = value
    return Slice(s.alphas, s.betas, loss, s.acc, s.seed, s.n_eval)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_points_become_words(value):
    diverged = _with(_bowl(1.0), (1, 3), value)  # a point at distance 0.5
    s = sharpness(diverged)
    assert s.nonfinite == 1 and s.rise == math.inf
    assert sharper(s, sharpness(_bowl(1.0))) == "plain"
    lines = landscape_sentences(diverged, _bowl(1.0))
    assert (
        lines[0] == "plain's loss is not finite at 1 of the 8 points at distance 0.5: the perturbed net diverged there."
    )
    assert "rises by 0.375 for residual" in lines[1] and "for plain (from" not in lines[1]
    assert lines[2].startswith("plain's surface is the sharper one at this distance: its loss rises without bound.")
    centre = _with(_bowl(1.0), (2, 2), value)
    assert math.isnan(sharpness(centre).rise) and sharper(sharpness(centre), sharpness(_bowl(1.0))) is None
    words = landscape_sentences(centre, diverged)
    assert words[0] == "plain's loss at the trained weights is not finite, so no rise can be measured."
    assert all("nan" not in w and "inf" not in w for w in words)
    assert "plain not finite" in words[-1]
    assert sharper(sharpness(diverged), sharpness(diverged)) is None  # both unbounded: no ranking


def test_different_grids_are_not_compared():
    line = landscape_sentences(_bowl(1.0, dims=1), _bowl(3.0, dims=1))[0]
    assert line.startswith(
        "The rise is read on the test split at distance 0.5 from the trained weights, at the 2 points a = ±0.5"
    )
    assert "rises by 0.25 for plain (from 0.5). There the loss rises by 0.75 for residual" in line
    assert landscape_sentences(_bowl(1.0, grid=5), _bowl(1.0, grid=7)) == [
        "The two slices were computed on different grids; compute both with the same settings to compare them."
    ]


def test_within_band_is_the_one_test_of_about_the_same_size():
    assert within_band(1.0, 2.0) and within_band(2.0, 1.0) and not within_band(1.0, 2.01)
    assert within_band(0.0, 0.0) and within_band(3.0, 3.0)  # equal: the same size, zero included
    assert not within_band(0.0, 1e-300) and not within_band(-1.0, -1.5)  # zero or negative beside another
    for odd in (math.nan, math.inf, None):
        assert not within_band(odd, 1.0) and not within_band(1.0, odd) and not within_band(odd, odd)


# --- what the sentences may claim (issue 26) ---------------------------------------------------


def test_one_larger_rise_is_sharpness_not_chaos_and_depth_comes_with_the_measured_depth():
    plain, residual = _bowl(4.0), _bowl(1.0)
    line = landscape_sentences(plain, residual)[1]
    # One larger rise is sharpness: the sentence may name chaos only to say the rise does not show it.
    assert "turn sharp and chaotic" not in line and "more chaotic" not in line
    assert "One larger rise shows sharpness, not chaos" in line
    assert "Li et al. (2018, Fig. 1), whose ResNet-56 without skip connections had the sharper surface" in line
    assert "depth" not in line  # no depth measured, no depth dependence said
    deep, shallow = (landscape_sentences(plain, residual, depth=d)[1] for d in (56, 20))
    assert "these nets have 56 layers" in deep and "these nets have 20 layers" in shallow
    assert "at 56 and 110 layers" in deep and "at 20 layers the two differed little" in deep
    against = landscape_sentences(residual, plain, depth=32)[1]
    assert "the opposite of Li et al. (2018, Fig. 1)" in against and "these nets have 32 layers" in against
    assert "chaotic" not in landscape_sentences(residual, plain)[1]


def test_negative_curvature_curves_down_and_the_split_is_named():
    down = landscape_sentences(_bowl(-1.0), _bowl(-2.0))
    assert "sit on a" not in down[2] and "slope or saddle" not in down[2]  # on a straight slope it is ~0
    assert "on a straight slope it is about 0" in down[2]
    assert "the loss curves downward there" in down[2] and "a ridge or a saddle of this slice" in down[2]
    # The page slices the test split; Li et al. plotted the training loss: both said, and why it matters.
    assert down[0].startswith("The rise is read on the test split at distance 0.5")
    assert "Li et al. (2018) plotted the training loss" in down[2]
    assert "need not sit at a minimum of the test loss" in down[2]
    train = landscape_sentences(_bowl(-1.0), _bowl(-2.0), split="train")
    assert train[0].startswith("The rise is read on the training split at distance 0.5")
    assert "test loss" not in train[2] and "as Li et al. (2018) plotted it" in train[2]
    line = landscape_sentences(_bowl(1.0, dims=1), _bowl(3.0, dims=1), split="train")[0]
    assert line.startswith("The rise is read on the training split at distance 0.5 from the trained weights, at the 2")
