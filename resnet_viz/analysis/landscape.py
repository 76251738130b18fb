"""Loss-landscape slices (Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets").

A slice evaluates L(theta + a*d1 + b*d2) on a fixed evaluation set over a grid of (a, b), where
d1, d2 are random Gaussian directions in weight space. Raw Gaussian directions mislead: a net's
loss is invariant to rescaling the filters in front of a BatchNorm, so a step of fixed length means
a lot for a small-norm filter and little for a large one. *Filter normalisation* (Li et al. §4)
rescales each filter of the direction to the norm of the matching filter of the weights, which
makes slices of different nets (plain vs residual) comparable on the same axes.

Nothing here touches the caller's model: every slice works on a private deep copy. What two
slices show, in words: resnet_viz.text.landscape.
"""

from __future__ import annotations

import copy
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..engine.numbers import within_band

# NHWC for the copy and the images: oneDNN's inference convs at 8-32 channels measured faster
# than NCHW on a 2-core CPU (bench/bench_landscape.py), and cuDNN prefers it too; only the
# summation order changes (~1e-7 relative). Not on MPS, where NHWC support has been patchy.
_CHANNELS_LAST_ON: tuple[str, ...] = ("cpu", "cuda")

MIN_GRID, MAX_GRID = 3, 81  # 81^2 = 6561 forward passes is already minutes on a laptop CPU

# Li et al. §4: "we do not perturb" BatchNorm parameters (or biases); a norm layer's 2-D weight,
# should one ever appear, is skipped by type and not only by being 1-D.
_NORM_LAYERS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


class SliceCancelled(RuntimeError):
    """``should_stop()`` returned True; ``done`` of ``total`` grid points had been evaluated."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"loss slice cancelled after {done} of {total} grid points")
        self.done, self.total = done, total


def _entry_seed(seed: int, name: str) -> int:
    # One generator per state entry, seeded by (seed, name): an entry's draw depends only on the
    # seed, its name and its shape, never on which other entries the model has or their order.
    # So a residual net with option-B projections (extra parameters) still draws the same as its
    # plain twin for every layer the two share.
    return (seed * 0x9E3779B1 + zlib.crc32(name.encode())) % (2**63)


def _perturbed_names(model: nn.Module) -> set[str]:
    """State-dict names of the weights a direction moves: parameters of >= 2 dims (conv and linear
    weights) outside norm layers. Biases, BN weight/bias and every buffer stay put (Li et al. §4)."""
    names: set[str] = set()
    for mod_name, mod in model.named_modules():
        if isinstance(mod, _NORM_LAYERS):
            continue
        for p_name, p in mod.named_parameters(recurse=False):
            if p.dim() >= 2:
                names.add(f"{mod_name}.{p_name}" if mod_name else p_name)
    return names


def random_direction(model: nn.Module, *, seed: int) -> dict[str, torch.Tensor]:
    """A filter-normalised Gaussian direction over ``model.state_dict()`` (same keys, shapes,
    dtypes and devices).

    For every conv/linear weight W (out, ...), the raw draw D ~ N(0, 1) is rescaled filter by filter:
    d_i = D_i * ||W_i|| / ||D_i|| for each output unit i. All other entries (biases, BatchNorm
    weight/bias, running statistics, counters) are exactly zero.

    Deterministic in ``seed``. The raw draw D depends only on (seed, entry name, shape), drawn on
    the CPU, so it is the same on every device and for any two models that share names and shapes:
    plain and residual twins get the same D, and their directions differ only where their weights'
    filter norms differ. A filter whose weights are all zero (Fixup's last convs and head) gets a
    zero direction: it is not perturbed.
    """
    moved = _perturbed_names(model)
    out: dict[str, torch.Tensor] = {}
    for name, w in model.state_dict().items():
        if name not in moved:
            out[name] = torch.zeros_like(w)
            continue
        gen = torch.Generator().manual_seed(_entry_seed(seed, name))
        raw = torch.randn(w.shape, generator=gen, dtype=torch.float32)  # (out, in, kh, kw) or (out, in)
        w32 = w.detach().float().cpu().reshape(w.shape[0], -1)  # (out, fan_in)
        flat = raw.reshape(w.shape[0], -1)
        scale = w32.norm(dim=1, keepdim=True) / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)  # (out, 1)
        out[name] = (flat * scale).reshape(w.shape).to(device=w.device, dtype=w.dtype)
    return out


def directions(model: nn.Module, *, seed: int, n: int = 2) -> list[dict[str, torch.Tensor]]:
    """``n`` directions with seeds seed, seed+1, ... (so the 1-D slice's axis is the 2-D slice's a-axis)."""
    return [random_direction(model, seed=seed + k) for k in range(n)]


def _grid_values(grid: int, span: float) -> tuple[float, ...]:
    vals = np.linspace(-span, span, grid)
    vals[grid // 2] = 0.0  # exactly the trained weights, not 1e-17 away from them
    return tuple(float(v) for v in vals)


def _finite_or_none(arr: np.ndarray) -> Any:
    # Strict JSON has no NaN/inf; a diverged grid point becomes null and comes back as NaN.
    if arr.ndim == 0:
        v = float(arr)
        return v if math.isfinite(v) else None
    return [_finite_or_none(a) for a in arr]


@dataclass(frozen=True, eq=False)
class Slice:
    """One evaluated slice. eq=False: the fields hold arrays (compare with ``np.array_equal``)."""

    alphas: tuple[float, ...]  # step along d1, the x-axis; 0 is the middle entry
    betas: tuple[float, ...] | None  # step along d2, the y-axis; None for a 1-D slice
    loss: np.ndarray  # mean cross-entropy: (len(alphas),) or (len(betas), len(alphas)), rows = betas
    acc: np.ndarray  # accuracy in [0, 1], same shape as loss
    seed: int  # direction seed (d1 from seed, d2 from seed + 1)
    n_eval: int  # images in the evaluation set

    def __post_init__(self) -> None:
        shape = (len(self.alphas),) if self.betas is None else (len(self.betas), len(self.alphas))
        for field_name in ("loss", "acc"):
            arr = np.array(getattr(self, field_name), dtype=np.float64)  # a copy: the caller's array stays theirs
            if arr.shape != shape:
                raise ValueError(f"Slice.{field_name} has shape {arr.shape}; alphas/betas need {shape}")
            arr.flags.writeable = False  # frozen all the way down
            object.__setattr__(self, field_name, arr)
        object.__setattr__(self, "alphas", tuple(float(a) for a in self.alphas))
        if self.betas is not None:
            object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))

    @property
    def dims(self) -> int:
        return 1 if self.betas is None else 2

    @property
    def center(self) -> tuple[float, float]:
        """(loss, acc) at the unperturbed weights."""
        idx = (len(self.alphas) // 2,) if self.betas is None else (len(self.betas) // 2, len(self.alphas) // 2)
        return float(self.loss[idx]), float(self.acc[idx])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (strict: non-finite losses become None), for a run folder's landscape.json."""
        return {
            "alphas": list(self.alphas),
            "betas": None if self.betas is None else list(self.betas),
            "loss": _finite_or_none(self.loss),
            "acc": _finite_or_none(self.acc),
            "seed": int(self.seed),
            "n_eval": int(self.n_eval),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Slice:
        def arr(v: Any) -> np.ndarray:
            return np.array(v, dtype=np.float64)  # None -> nan

        betas = data.get("betas")
        return cls(
            alphas=tuple(data["alphas"]),
            betas=None if betas is None else tuple(betas),
            loss=arr(data["loss"]),
            acc=arr(data["acc"]),
            seed=int(data["seed"]),
            n_eval=int(data["n_eval"]),
        )


def _check(grid: int, span: float, dims: int) -> None:
    if isinstance(grid, bool) or not isinstance(grid, int) or not MIN_GRID <= grid <= MAX_GRID or grid % 2 == 0:
        raise ValueError(
            f"grid must be an odd whole number from {MIN_GRID} to {MAX_GRID} (odd, so the trained "
            f"weights sit on the middle point); got {grid!r}"
        )
    if isinstance(span, bool) or not isinstance(span, (int, float)) or not (math.isfinite(span) and span > 0):
        raise ValueError(f"span must be a positive finite number (steps go from -span to +span); got {span!r}")
    if dims not in (1, 2) or isinstance(dims, bool):
        raise ValueError(f"dims must be 1 (a line through the weights) or 2 (a plane); got {dims!r}")


def _private_copy(model: nn.Module) -> nn.Module:
    """Deep copy in eval mode (BN uses running statistics, which no forward updates), without
    parameter grads, and without the hooks a training probe may have left on the original."""
    work = copy.deepcopy(model).eval()
    for p in work.parameters():
        p.requires_grad_(False)
        p.grad = None
    for m in work.modules():
        for hooks in (m._forward_hooks, m._forward_pre_hooks, m._backward_hooks):
            hooks.clear()
    return work


def loss_slice(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    grid: int = 11,
    span: float = 1.0,
    dims: int = 2,
    seed: int = 0,
    batch: int = 1000,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Slice:
    """Mean cross-entropy and accuracy of ``model`` on (x, y) at theta + a*d1 (+ b*d2), for a and b
    in linspace(-span, span, grid), with d1, d2 from :func:`directions` (seeds seed, seed+1).

    x (N, C, H, W), y (N,): a fixed evaluation set, moved to the model's device. 2-D results are
    (grid, grid) with rows = betas, columns = alphas (the layout of a heatmap's z). Runs in full
    precision on every device: autocast's rounding would show up as noise between neighbouring
    points. ``on_progress(done, total)`` follows each grid point; ``should_stop()`` is polled
    before each one and a True raises :class:`SliceCancelled`.

    The caller's model is not modified (not its weights, BN statistics or training flag); if another
    thread is training it meanwhile, the private copy may mix two adjacent steps' weights.
    """
    # One function on purpose: the grid walk writes theta + a*d1 + b*d2 into tensors it set up just
    # above (the copy's own parameters, theta kept aside, the directions in their memory layout).
    _check(grid, span, dims)
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"x and y must hold the same, non-zero number of images; got {x.shape[0]} and {y.shape[0]}")
    if batch < 1:
        raise ValueError(f"batch must be at least 1; got {batch}")

    work = _private_copy(model)
    dirs = directions(work, seed=seed, n=dims)
    first = next(work.parameters(), None)
    device = first.device if first is not None else x.device
    x, y = x.to(device), y.to(device)
    if x.dim() == 4 and device.type in _CHANNELS_LAST_ON:
        work = work.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    alphas = _grid_values(grid, span)
    betas = _grid_values(grid, span) if dims == 2 else None
    points = [(a, 0.0) for a in alphas] if betas is None else [(a, b) for b in betas for a in alphas]
    total = len(points)
    loss = np.empty(total)
    acc = np.empty(total)

    with torch.inference_mode():
        state = work.state_dict(keep_vars=True)  # name -> the live Parameter/buffer of the copy
        moved = sorted(_perturbed_names(work))
        targets = [state[k] for k in moved]
        bases = [t.detach().clone() for t in targets]  # theta, kept aside
        # Directions in the copy's memory layout, so the per-point update is a plain elementwise pass.
        d1 = [torch.empty_like(t).copy_(dirs[0][k]) for t, k in zip(targets, moved)]
        d2 = [torch.empty_like(t).copy_(dirs[1][k]) for t, k in zip(targets, moved)] if dims == 2 else None
        n = x.shape[0]
        for i, (a, b) in enumerate(points):
            if should_stop is not None and should_stop():
                raise SliceCancelled(i, total)
            # theta + a*d1 + b*d2 written into the copy's own tensors: no model rebuilt per point.
            torch._foreach_copy_(targets, bases)
            if a != 0.0:
                torch._foreach_add_(targets, d1, alpha=a)
            if d2 is not None and b != 0.0:
                torch._foreach_add_(targets, d2, alpha=b)
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device)
            for s in range(0, n, batch):
                xb, yb = x[s : s + batch], y[s : s + batch]  # (B, C, H, W), (B,)
                logits = work(xb).float()  # (B, classes)
                loss_sum += F.cross_entropy(logits, yb, reduction="sum")
                correct += (logits.argmax(1) == yb).sum()
            loss[i], acc[i] = torch.stack([loss_sum / n, correct / n]).tolist()  # one device->host copy
            if on_progress is not None:
                on_progress(i + 1, total)

    shape = (grid,) if betas is None else (grid, grid)
    return Slice(alphas=alphas, betas=betas, loss=loss.reshape(shape), acc=acc.reshape(shape), seed=seed, n_eval=n)


# --------------------------------------------------------------------------------------------
# Reading two slices: which surface is sharper, by how much, from the slices' own numbers

RISE_AT = 0.5  # the rise is read at the nonzero grid step nearest to this fraction of the span


@dataclass(frozen=True)
class Sharpness:
    radius: float  # r: the rise is read over the grid points with max(|a|, |b|) = r
    center: float  # loss at the trained weights
    rise: float  # mean loss at distance r minus the centre loss; inf if one is not finite, nan if the centre is not
    curvature: float  # (L(h) - 2 L(0) + L(-h)) / h^2 at the centre, h one grid step, mean over the directions
    h: float  # that grid step
    points: int  # grid points at distance r
    nonfinite: int  # of those, points whose loss is not finite (a diverged point is stored as null, read as NaN)


def sharpness(s: Slice, at: float = RISE_AT) -> Sharpness:
    """The loss rise at a fixed distance and the curvature at the centre of one slice."""
    a = np.abs(np.asarray(s.alphas))
    nonzero = a[a > 0]
    r = float(nonzero[np.argmin(np.abs(nonzero - at * a.max()))])
    mid = len(s.alphas) // 2
    h = float(s.alphas[mid + 1] - s.alphas[mid])
    loss = s.loss
    if s.betas is None:
        ring, lines = np.isclose(a, r), [loss[[mid - 1, mid, mid + 1]]]
    else:
        b = np.abs(np.asarray(s.betas))
        ring = np.isclose(np.maximum(a[None, :], b[:, None]), r)  # (betas, alphas): the square at distance r
        mb = len(s.betas) // 2
        lines = [loss[mb, [mid - 1, mid, mid + 1]], loss[[mb - 1, mb, mb + 1], mid]]  # along a, along b
    on = loss[ring]
    bad = int((~np.isfinite(on)).sum())
    center = s.center[0]
    rise = math.nan if not math.isfinite(center) else math.inf if bad else float(on.mean()) - center
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf is nan: "not finite" in words below
        curvature = float(np.mean([(v[0] - 2 * v[1] + v[2]) / h**2 for v in lines]))
    return Sharpness(r, center, rise, curvature, h, int(ring.sum()), bad)


def sharper(plain: Sharpness, residual: Sharpness) -> str | None:
    """Which net's loss rises more at the same distance: "plain", "residual", or "same" within
    SAME_BAND (2x); None when they cannot be ranked (a centre not finite, both not finite, no rise
    on either side, or different distances)."""
    rp, rr = plain.rise, residual.rise
    if math.isnan(rp) or math.isnan(rr) or plain.radius != residual.radius or math.isinf(rp) and math.isinf(rr):
        return None
    if math.isinf(rp) or math.isinf(rr):
        return "plain" if math.isinf(rp) else "residual"
    if rp <= 0 and rr <= 0:
        return None
    if rp <= 0 or rr <= 0:
        return "plain" if rr <= 0 else "residual"
    return "same" if within_band(rp, rr) else ("plain" if rp > rr else "residual")


__all__ = [
    "MAX_GRID",
    "MIN_GRID",
    "Sharpness",
    "Slice",
    "SliceCancelled",
    "directions",
    "loss_slice",
    "random_direction",
    "sharper",
    "sharpness",
]
