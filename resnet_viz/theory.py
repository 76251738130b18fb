"""Gradient flow in theory and at initialisation: the measurements behind the theory page.

Three views of one fact, each computed, never drawn from a formula:

1. a toy chain of scalar layers, where the gradient is visibly a product of one factor per layer
   (plain) or of (1 + factor) per layer (residual);
2. real networks of the app (`build_model`) at initialisation: one batch forward and backward,
   measured with the same :class:`~resnet_viz.probes.Probe` that training uses at step 1;
3. shattered gradients (Balduzzi et al. 2017): df/dx of a deep ReLU net along a line of inputs,
   noise-like for a plain net, correlated for a residual one.

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

from .config import DataConfig, ModelConfig
from .data import Dataset, load_dataset
from .experiment import build_twins, fit_to_data
from .probes import Probe, probe_weights

# ---------------------------------------------------------------------------------------------
# 1. The toy chain


def chain_gradients(depth: int, gain: float, act_slope: float = 1.0, *, residual: bool, width: int = 1) -> np.ndarray:
    """|dL/dh_i| along a chain of `depth` layers, i = 0 (input) ... depth (output, where it is 1).

    plain:    h_{i+1} = phi(g * h_i)          residual: h_{i+1} = h_i + phi(g * h_i)
    with phi(z) = act_slope * z and L = h_depth.

    phi is linear on purpose: then each layer's Jacobian is the constant g*s (plain) or 1 + g*s
    (residual), so the gradient is exactly |g*s|^(depth-i) or |1+g*s|^(depth-i) and the learner
    sees the product of Jacobians and nothing else. `act_slope` stands for an activation's
    derivative taken as constant: 1/4 is sigmoid's largest, 1 is an active ReLU's.

    The chain is built from torch ops and differentiated by autograd, not evaluated from the
    formula (tests compare the two). `width` runs that many identical copies side by side as one
    (width,) vector through a g*I weight matrix; L sums the copies and the value returned is the
    RMS over them, which equals the one-unit value. float64: 0.25^100 ~ 6e-61 would underflow
    float32 to 0 and draw a gap instead of a point.
    """
    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be at least 1; got depth={depth}, width={width}")
    h = torch.ones(width, dtype=torch.float64, requires_grad=True)  # (width,) the input; its value is
    weight = gain * torch.eye(width, dtype=torch.float64)  # irrelevant: the chain is linear
    hs = [h]
    for _ in range(depth):
        z = act_slope * (weight @ h)  # phi(g * h): (width,)
        h = h + z if residual else z
        h.retain_grad()  # a non-leaf keeps its .grad only when asked
        hs.append(h)
    h.sum().backward()
    grads = torch.stack([t.grad for t in hs])  # (depth + 1, width)
    # RMS over the copies, scaled by the largest first: squaring 1e-161 would fall into float64's
    # subnormal range and lose digits (0.025^100 ~ 6e-161 is a value the sliders can reach).
    peak = grads.abs().amax(dim=1, keepdim=True)  # (depth + 1, 1)
    unit = torch.where(peak > 0, grads / torch.where(peak > 0, peak, 1.0), 0.0)
    return (peak.squeeze(1) * unit.norm(dim=1) / math.sqrt(width)).numpy()


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
    config: ModelConfig | None = None  # as built (fitted to the data); None for a hand-made profile
    seed: int | None = None  # torch.manual_seed before the model was built
    batch: int | None = None  # training images in the one batch

    def first_last_ratio(self, kind: str = "rms") -> float | None:
        """First layer's gradient over the last one before the head; see :func:`first_last_ratio`."""
        return first_last_ratio(_grad_row(self, kind))


def _grad_row(p: InitProfile, kind: str) -> list[float]:
    rows = {"norm": p.grad_norm, "rms": p.grad_rms, "rel": p.grad_rel}
    if kind not in rows:
        raise ValueError(f"kind must be one of {sorted(rows)}; got {kind!r}")
    return rows[kind]


def first_last_ratio(row: Sequence[float]) -> float | None:
    """row[0] / row[-2]: the first layer over the last layer before the classifier head.

    The head is left out because it sees the loss directly, whatever the depth; this is the
    convention of `reading.input_output_ratio` (a test keeps the two equal; it is not imported
    from there so this module does not depend on the run-reading code). None when the numbers
    do not allow a ratio (too few layers, non-finite values, a zero denominator).
    """
    vals = list(row)
    if len(vals) < 3:
        return None
    first, last = vals[0], vals[-2]
    if first is None or last is None or not (math.isfinite(first) and math.isfinite(last)) or last == 0:
        return None
    return float(first) / float(last)


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
        name=cfg.name, layer_names=layer_names, grad_norm=res.grad_norm, grad_rms=res.grad_rms,
        grad_rel=res.grad_rel, block_names=[b for b, _ in model.probe_blocks()], act_std=res.act_std,
        config=cfg, seed=seed, batch=n,
    )  # fmt: skip


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
) -> tuple[np.ndarray, np.ndarray]:
    """(x, df/dx) for a fully connected ReLU net f: R -> R at n inputs evenly spaced in [-2, 2].

    Setup, after Balduzzi et al. 2017 (Fig. 1: 200 rectifiers per layer, 256 inputs in [-2, 2]):

        h_0     = W_in x + b_in                                      (1 -> width)
        plain:    h_{l+1} = W_l relu(BN(h_l)) + b_l                   l = 0 .. depth-1
        residual: h_{l+1} = h_l + beta * (W_l relu(BN(h_l)) + b_l),   beta = 1/sqrt(depth)
        f       = w_out . h_depth + b_out                            (width -> 1)

    The two nets differ in that one line and draw the *same* weights from `seed`. A block has
    one weight layer in the pre-activation order (He et al. 2016b), so both nets have depth
    weight layers between embedding and read-out. Weights: He init, N(0, 2/fan_in); biases:
    PyTorch's default U(+-1/sqrt(fan_in)) (with no biases at all and no BN, a ReLU net of a
    scalar is linear on each side of 0 and nothing could shatter). beta: each He-initialised
    branch adds about the variance of h_l, so without it the output would grow like 2^depth;
    with beta^2 = 1/depth it grows at most by (1 + 1/depth)^depth < e.

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
    f = _scalar_net(x, depth, residual=residual, width=width, seed=seed, bn=bn)  # (n, 1)
    (grad,) = torch.autograd.grad(f.sum(), x)  # (n, 1): f_i depends on x_i only, so this is df_i/dx_i
    return x.detach().numpy().ravel(), grad.numpy().ravel()


def _scalar_net(x: torch.Tensor, depth: int, *, residual: bool, width: int, seed: int, bn: bool) -> torch.Tensor:
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
    beta = 1.0 / math.sqrt(depth)
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


# ---------------------------------------------------------------------------------------------
# 4. Readings

VANISHED = 1e-2  # first/last below this (100x smaller): "vanished"; above 1/VANISHED: "exploded"
SAME_BAND = 2.0  # within this factor either way the two ends count as "about the same size"


def _times(factor: float) -> str:
    """1.04x, 37x, 13,400x, 2.3e+13x: readable at any size."""
    if factor < 10:
        return f"{factor:.3g}x"
    if factor < 1e6:
        return f"{float(f'{factor:.3g}'):,.0f}x"
    return f"{factor:.2g}x"


def _fraction(r: float) -> str:
    return f"{r:.2g}"  # 0.31, 3.2e-05


def _describe(cfg: ModelConfig | None) -> str:
    if cfg is None:
        return ""
    parts = [cfg.activation, "BatchNorm" if cfg.bn else "no BatchNorm"]
    if cfg.residual and cfg.alpha != 1.0:
        parts.append(f"skip strength alpha = {cfg.alpha:g}")
    return f" ({', '.join(parts)})"


def _last_layer_words(cfg: ModelConfig | None) -> str:
    if cfg is None:
        return "the last layer's before the head"
    return "the last hidden layer's" if cfg.arch == "mlp" else "the last conv layer's"


def _ratio_sentence(p: InitProfile) -> str | None:
    r = p.first_last_ratio("rms")
    if r is None:
        return None
    head = f"In {p.name}{_describe(p.config)} the first layer's gradient RMS"
    last = _last_layer_words(p.config)
    if r == 0:
        return f"In {p.name}{_describe(p.config)} the first layer received no gradient at all (exactly 0): it vanished toward the input."
    if r < 0:  # RMS values are never negative; a hand-made profile could be
        return None
    if r < VANISHED:
        return f"{head} is {_fraction(r)} of {last}: it vanished toward the input."
    if r < 1 / SAME_BAND:
        return f"{head} is {_fraction(r)} of {last}: it shrank toward the input."
    if r <= SAME_BAND:
        return (f"{head} is {r:.2g}x {last}: from output to input it kept about the same size "
                f"(within a factor of {SAME_BAND:g}).")  # fmt: skip
    if r <= 1 / VANISHED:
        return f"{head} is {_times(r)} {last}: it grew toward the input."
    return f"{head} is {_times(r)} {last}: it exploded toward the input."


def _act_sentence(p: InitProfile) -> str | None:
    vals = [v for v in p.act_std if v is not None and math.isfinite(v)]
    if len(p.act_std) < 2 or len(vals) != len(p.act_std):
        return None
    first, last = p.act_std[0], p.act_std[-1]
    return f"In {p.name} the block outputs' std is {first:.3g} at the first block and {last:.3g} at the last."


def _twin_sentences(profiles: Sequence[InitProfile]) -> list[str]:
    """Plain vs residual twins (configs equal but for the shortcut): whose first layer gets more."""
    out = []
    for p in profiles:
        if p.config is None or p.config.residual:
            continue
        for r in profiles:
            c = r.config
            if c is None or not c.residual or dataclasses.replace(c, residual=False, alpha=p.config.alpha) != p.config:
                continue
            a, b = r.grad_rms[0] if r.grad_rms else None, p.grad_rms[0] if p.grad_rms else None
            if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)) or a <= 0 or b <= 0:
                continue
            same = " (both built from the same seed)" if p.seed is not None and p.seed == r.seed else ""
            if a == b:  # e.g. alpha = 0: the residual twin computes exactly what the plain one does
                text = f"equal to that of {p.name}"
            elif a > b:
                text = f"{_times(a / b)} that of {p.name}"
            else:
                text = f"{_fraction(a / b)} of {p.name}'s"
            out.append(f"At the first layer, {r.name}'s gradient RMS is {text}{same}.")
    return out


def profile_sentences(profiles: Sequence[InitProfile]) -> list[str]:
    """Sentences on what the measured profiles show, every number taken from them.

    Per model: how the gradient RMS of the first layer compares with that of the last layer
    before the head (thresholds: VANISHED, SAME_BAND), and the block outputs' std at both ends;
    then plain vs residual twins at the first layer. A sentence whose numbers are missing or not
    finite is left out, not guessed.
    """
    out: list[str] = []
    for p in profiles:
        for s in (_ratio_sentence(p), _act_sentence(p)):
            if s is not None:
                out.append(s)
    out.extend(_twin_sentences(profiles))
    return out


__all__ = [
    "InitProfile",
    "autocorrelation",
    "chain_gradients",
    "first_last_ratio",
    "init_profile",
    "init_profiles",
    "profile_sentences",
    "shattered",
]
