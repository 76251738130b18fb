"""Gradient flow in theory and at initialisation: the measurements behind the theory page.

Three views of one fact, each computed, never drawn from a formula:

1. a toy chain of scalar layers, where the gradient is visibly a product of one factor per layer
   (plain) or of (1 + factor) per layer (residual);
2. real networks of the app (`build_model`) at initialisation: one batch forward and backward,
   measured with the same :class:`~resnet_viz.engine.probes.Probe` that training uses at step 1;
3. shattered gradients (Balduzzi et al. 2017): df/dx of a deep ReLU net along a line of inputs,
   noise-like for a plain net, correlated for a residual one.

The sentences that read these measurements live in resnet_viz.text.theory.

Torch is only used on the CPU here: every measurement is one small forward/backward.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..engine.config import DataConfig, ModelConfig
from ..engine.data import Dataset, load_dataset
from ..engine.experiment import build_twins, fit_to_data
from ..engine.numbers import first_last
from ..engine.probes import Probe, probe_weights

# ---------------------------------------------------------------------------------------------
# 1. A chain of random layers

CHAIN_ACTIVATIONS: tuple[str, ...] = ("relu", "tanh", "linear")


def chain_gradients(
    depth: int,
    gain: float,
    *,
    residual: bool,
    beta: float = 1.0,
    activation: str = "relu",
    width: int = 128,
    batch: int = 16,
    seed: int = 0,
) -> np.ndarray:
    """RMS of dL/dx_i along a chain of `depth` random layers, i = 0 (input) ... depth (output).

    plain:    x_{i+1} = phi(W_i x_i)              residual: x_{i+1} = x_i + beta * phi(W_i x_i)
    W_i ~ N(0, gain^2 / width), (width, width), the same draws for both chains (one seed).

    The loss is L = <x_depth, u> with u ~ N(0, 1) per sample, so the output gradient has RMS ~1;
    the values returned are divided by the output's RMS, so the last entry is exactly 1 and each
    entry reads "how much of the output's gradient reaches layer i". Computed by autograd on the
    actual chain (float64: a vanished plain gradient of 1e-60 must not underflow to a gap).

    Why random matrices and not a scalar: a scalar residual chain multiplies (1 + g) per layer
    and always explodes. A random branch's Jacobian is a random matrix whose contribution is
    mostly orthogonal to the identity's, so per layer it *adds variance* (linear phi: the squared
    RMS grows by 1 + beta^2 g^2 per layer, (1 + g^2)^(L/2) ~ 7,300x at L=30, g=0.9, against the
    scalar chain's 1.9^30 ~ 2.3e8), while the plain chain multiplies. Branch scaling
    beta = 1/sqrt(depth) keeps the product near exp(g^2 / 2) at any depth (the idea behind Fixup
    and zero-init of the last BN's gamma). Measured at L=30, g=0.9, seeds 0-2: plain ReLU
    1.1e-6 to 1.3e-6, residual ReLU beta=1 3,300-4,700x, beta=1/sqrt(L) 1.30-1.35x.
    """
    if depth < 1 or width < 1 or batch < 1:
        raise ValueError(f"depth, width and batch must be at least 1; got {depth}, {width}, {batch}")
    if activation not in CHAIN_ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(CHAIN_ACTIVATIONS)}; got {activation!r}")
    if not (math.isfinite(gain) and math.isfinite(beta)):
        raise ValueError(f"gain and beta must be finite; got gain={gain}, beta={beta}")
    phi = {"relu": torch.relu, "tanh": torch.tanh, "linear": lambda z: z}[activation]
    gen = torch.Generator().manual_seed(seed)
    dt = torch.float64
    x = torch.randn(batch, width, generator=gen, dtype=dt).requires_grad_(True)  # (B, n)
    xs = [x]
    h = x
    for _ in range(depth):
        w = torch.randn(width, width, generator=gen, dtype=dt) * (gain / math.sqrt(width))
        z = phi(h @ w.T)  # (B, n)
        h = h + beta * z if residual else z  # the one line
        h.retain_grad()  # a non-leaf keeps its .grad only when asked
        xs.append(h)
    u = torch.randn(batch, width, generator=gen, dtype=dt)
    (h * u).sum().backward()
    rms = torch.stack([t.grad.pow(2).mean().sqrt() for t in xs])  # (depth + 1,)
    return (rms / rms[-1]).numpy()


# ---------------------------------------------------------------------------------------------
# 2. Real networks at initialisation


@dataclass(frozen=True)
class InitProfile:
    """What one batch forward and backward does to a freshly built model (no optimiser step).

    Lists run in depth order, first (input side) first; the last layer is the classifier head.
    """

    name: str  # the model's chart label, e.g. "plain-56", "mlp-residual-20"
    layer_names: list[str]  # conv/linear layers, as `model.probe_layers()` lists them
    grad_norm: list[float]  # ||dL/dW|| per layer
    grad_rms: list[float]  # ||dL/dW|| / sqrt(numel): comparable across layers of different size
    grad_rel: list[float]  # ||dL/dW|| / ||W||: the relative step SGD would take
    block_names: list[str]  # `model.probe_blocks()`
    act_std: list[float]  # std of each block's output over the batch
    grad_x_rms: list[float] = dataclasses.field(default_factory=list)  # RMS of dL/dx at each block's output
    config: ModelConfig | None = None  # as built (fitted to the data); None for a hand-made profile
    seed: int | None = None  # torch.manual_seed before the model was built
    batch: int | None = None  # training images in the one batch

    def first_last_ratio(self, kind: str = "rms") -> float | None:
        """The first layer's gradient over the last layer's before the classifier head (left out:
        it sees the loss directly, whatever the depth); None when the numbers allow no ratio."""
        return first_last(_grad_row(self, kind), skip_head=True)

    def flow_ratio(self) -> float | None:
        """dL/dx at the first block's output over dL/dx at the last block's: the gradient that
        flows back (eq. 5), None when the numbers do not allow a ratio."""
        return first_last(self.grad_x_rms)


def _grad_row(p: InitProfile, kind: str) -> list[float]:
    rows = {"norm": p.grad_norm, "rms": p.grad_rms, "rel": p.grad_rel}
    if kind not in rows:
        raise ValueError(f"kind must be one of {sorted(rows)}; got {kind!r}")
    return rows[kind]


def _default_data() -> Dataset:
    return load_dataset(DataConfig())  # digits: offline, cached by data.py after the first call


def _measure(model: torch.nn.Module, cfg: ModelConfig, data: Dataset, seed: int, batch: int) -> InitProfile:
    # Train mode, as at training step 1: BN normalises with this batch's statistics.
    model.train()
    n = min(batch, data.n_train)
    x, y = data.x_train[:n].cpu(), data.y_train[:n].cpu()  # (B, C, H, W), (B,): the first images, no shuffle
    layer_names, weights = probe_weights(model)
    with Probe(model) as probe:
        loss = F.cross_entropy(model(x), y)
        loss.backward()
    res = probe.collect(weights)
    return InitProfile(
        name=cfg.name,
        layer_names=layer_names,
        grad_norm=res.grad_norm,
        grad_rms=res.grad_rms,
        grad_rel=res.grad_rel,
        block_names=[b for b, _ in model.probe_blocks()],
        act_std=res.act_std,
        grad_x_rms=res.grad_x_rms,
        config=cfg,
        seed=seed,
        batch=n,
    )


def init_profiles(
    cfgs: Sequence[ModelConfig], data: Dataset | None = None, *, seed: int = 0, batch: int = 128
) -> list[InitProfile]:
    """:func:`init_profile` for several models, all built from the same seed (twins start identical)
    and all measured on the same batch."""
    if batch < 1:
        raise ValueError(f"batch must be at least 1; got {batch}")
    data = data if data is not None else _default_data()
    fitted = [fit_to_data(c, data) for c in cfgs]
    # fork_rng: build_twins reseeds the global generator; the caller's stream (a page, a test)
    # continues afterwards as if nothing had been drawn.
    with torch.random.fork_rng(devices=[]):
        models = build_twins(fitted, seed)
    return [_measure(m, c, data, seed, batch) for m, c in zip(models, fitted)]


def init_profile(cfg: ModelConfig, data: Dataset | None = None, *, seed: int = 0, batch: int = 128) -> InitProfile:
    """Gradient per layer and activation std per block of `cfg` at initialisation.

    The model is built after torch.manual_seed(seed) (as training builds it), then the first
    `batch` training images of `data` (default: the offline digits) go forward once, the
    cross-entropy goes backward once, and the training code's Probe reads the gradients.
    No optimiser step: this is the gradient the first update would use.
    """
    return init_profiles([cfg], data, seed=seed, batch=batch)[0]


# ---------------------------------------------------------------------------------------------
# 3. Shattered gradients (Balduzzi et al. 2017)


def shattered(
    depth: int,
    *,
    residual: bool,
    width: int = 200,
    n: int = 256,
    seed: int = 0,
    bn: bool = True,
    scale_branches: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """(x, df/dx) for a fully connected ReLU net f: R -> R at n inputs evenly spaced in [-2, 2].

    Setup, after Balduzzi et al. 2017 (Fig. 1: 200 rectifiers per layer, 256 inputs in [-2, 2]):

        h_0     = W_in x + b_in                                      (1 -> width)
        plain:    h_{l+1} = W_l relu(BN(h_l)) + b_l                   l = 0 .. depth-1
        residual: h_{l+1} = h_l + beta * (W_l relu(BN(h_l)) + b_l),   beta = 1/sqrt(depth) (or 1)
        f       = w_out . h_depth + b_out                            (width -> 1)

    The two nets differ in that one line and draw the *same* weights from `seed`. A block has
    one weight layer in the pre-activation order (He et al. 2016b), so both nets have depth
    weight layers between embedding and read-out. Weights: He init, N(0, 2/fan_in); biases:
    PyTorch's default U(+-1/sqrt(fan_in)) (with no biases at all and no BN, a ReLU net of a
    scalar is linear on each side of 0 and nothing could shatter). beta: each He-initialised
    branch adds about the variance of h_l, so without it the output would grow like 2^depth;
    with beta^2 = 1/depth it grows at most by (1 + 1/depth)^depth < e. `scale_branches=False`
    sets beta = 1: the residual derivative still stays correlated (the BN before every branch
    keeps the growing h from saturating anything), only its scale grows.

    BN normalises each unit with the mean and std over the n inputs, taken as constants: BN in
    eval mode with these statistics, so f stays a function of each x alone and autograd's
    d(sum f)/dx gives every df/dx_i at once. It is on by default because the effect needs it
    here: without BN a He-initialised plain net of depth 50 kept a lag-1 autocorrelation of
    0.5-0.97 over 5 seeds (with BN: below 0.1), and Balduzzi et al.'s analysis assumes units
    active on about half the inputs, which is what BN's centring gives. float64 throughout.
    """
    if depth < 1 or width < 1 or n < 2:
        raise ValueError(f"need depth >= 1, width >= 1, n >= 2; got depth={depth}, width={width}, n={n}")
    x = torch.linspace(-2.0, 2.0, n, dtype=torch.float64).reshape(n, 1).requires_grad_(True)  # (n, 1)
    f = _scalar_net(x, depth, residual=residual, width=width, seed=seed, bn=bn, scale_branches=scale_branches)
    (grad,) = torch.autograd.grad(f.sum(), x)  # (n, 1): f_i depends on x_i only, so this is df_i/dx_i
    return x.detach().numpy().ravel(), grad.numpy().ravel()


def _scalar_net(
    x: torch.Tensor, depth: int, *, residual: bool, width: int, seed: int, bn: bool, scale_branches: bool = True
) -> torch.Tensor:
    """f(x) of :func:`shattered`'s net for inputs x (n, 1) float64; the weights depend on seed only."""
    gen = torch.Generator().manual_seed(seed)
    dt = x.dtype

    def linear(fan_in: int, fan_out: int) -> tuple[torch.Tensor, torch.Tensor]:
        w = torch.randn(fan_out, fan_in, generator=gen, dtype=dt) * math.sqrt(2.0 / fan_in)
        b = (torch.rand(fan_out, generator=gen, dtype=dt) * 2 - 1) / math.sqrt(fan_in)
        return w, b

    def norm(h: torch.Tensor) -> torch.Tensor:  # (n, width), per unit over the n inputs
        if not bn:
            return h
        mean = h.detach().mean(0)
        std = h.detach().var(0, unbiased=False).add(1e-5).sqrt()  # BatchNorm's eps
        return (h - mean) / std

    w, b = linear(1, width)
    h = x @ w.T + b  # (n, width)
    beta = 1.0 / math.sqrt(depth) if scale_branches else 1.0
    for _ in range(depth):
        w, b = linear(width, width)
        branch = torch.relu(norm(h)) @ w.T + b  # (n, width)
        h = h + beta * branch if residual else branch  # the one line
    w, b = linear(width, 1)
    return h @ w.T + b  # (n, 1)


def autocorrelation(g: np.ndarray, max_lag: int) -> np.ndarray:
    """Normalised autocorrelation of a sequence at lags 0..max_lag, (max_lag + 1,), lag 0 = 1.

    r(k) = sum_t (g_t - m)(g_{t+k} - m) / sum_t (g_t - m)^2, m the mean: the usual sample ACF,
    whose sums over n - k terms shrink toward 0 at long lags. White noise gives r(1) ~ 0, brown
    noise (a random walk) r(1) ~ 1. A constant sequence has no variance to normalise by: its
    lags 1.. are NaN (undefined, and drawn as a gap) rather than a made-up number.
    """
    v = np.asarray(g, dtype=float).ravel()
    if not 0 <= max_lag < v.size:
        raise ValueError(f"max_lag must lie in [0, {v.size - 1}] for {v.size} values; got {max_lag}")
    d = v - v.mean()
    denom = float(d @ d)
    out = np.full(max_lag + 1, np.nan)
    out[0] = 1.0
    if denom > 0 and math.isfinite(denom):
        for k in range(1, max_lag + 1):
            out[k] = float(d[: v.size - k] @ d[k:]) / denom
    return out


__all__ = [
    "InitProfile",
    "autocorrelation",
    "chain_gradients",
    "init_profile",
    "init_profiles",
    "shattered",
]
