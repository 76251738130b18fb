"""The anatomy page's lessons: three common mistakes of widely read ResNet tutorials, each
demonstrated on real models (a bottleneck without `expansion`, a fixed AvgPool2d(7), the
shortcut's 1 written into dL/dW), and the page's exercises, graded from its own measurements.
Split from resnet_viz.anatomy.nets, which builds and measures the networks these use; what each
demonstration shows is said in resnet_viz.text.anatomy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from ..engine.models import Block
from .nets import FIXED_POOL, NetSpec, PoolVerdict, anatomy, build

# -- the three common mistakes -----------------------------------------------------------------


@dataclass(frozen=True)
class ExpansionDemo:
    bottleneck: int  # torchvision Bottleneck.expansion
    basic: int  # torchvision BasicBlock.expansion
    head_in: dict[str, int]  # e.g. {"ResNet-34": 512, "ResNet-50": 2048}: the fc layer's input features
    missing_error: str  # what torchvision's ResNet raises for a block class without `expansion`


class _NoExpansion(nn.Module):
    """A bottleneck written the way some tutorials do: forward is right, the class attribute is missing."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__()


def expansion_demo() -> ExpansionDemo:
    heads = {f"ResNet-{d}": build(NetSpec("imagenet", d)).fc.in_features for d in (34, 50)}
    try:
        with torch.device("meta"):
            ResNet(_NoExpansion, [3, 4, 6, 3])  # type: ignore[arg-type]
        error = "no error"
    except AttributeError as exc:
        error = f"AttributeError: {exc}"
    return ExpansionDemo(Bottleneck.expansion, BasicBlock.expansion, heads, error)


@dataclass(frozen=True)
class PoolCheck:
    net: str  # spec name
    input_size: int  # pixels per side
    final_map: tuple[int, int, int]  # (C, H, W) of the last stage, measured
    fixed_out: tuple[int, ...] | None  # AvgPool2d(7) output (C, h, w); None when it raised
    error: str | None  # the RuntimeError of the fixed pool, or of the head fed its flattened output
    adaptive_out: tuple[int, ...]  # AdaptiveAvgPool2d(1) output: always (C, 1, 1)

    @property
    def verdict(self) -> PoolVerdict:
        if self.fixed_out is None:
            return "error"
        if self.fixed_out[1:] != (1, 1):
            return "wrong_shape"
        return "ok" if self.final_map[1:] == (FIXED_POOL, FIXED_POOL) else "partial"


def pool_check(spec: NetSpec, input_size: int) -> PoolCheck:
    """Measure the last stage's map at `input_size`, then run both poolings on a map of that shape."""
    anat = anatomy(spec, input_size)
    c, h, w = anat.rows[-3].out_shape  # the last stage, just before the pool
    feats = torch.zeros(1, c, h, w)
    adaptive = tuple(nn.AdaptiveAvgPool2d(1)(feats).shape[1:])
    try:
        out = nn.AvgPool2d(FIXED_POOL)(feats)
    except RuntimeError as exc:
        return PoolCheck(spec.name, input_size, (c, h, w), None, str(exc), adaptive)
    error = None
    if out[0].numel() != c:  # more than one number per channel: the head cannot take it
        try:
            nn.Linear(c, anat.row("head").out_shape[0])(torch.flatten(out, 1))
        except RuntimeError as exc:
            error = str(exc)
    return PoolCheck(spec.name, input_size, (c, h, w), tuple(out.shape[1:]), error, adaptive)


@dataclass(frozen=True)
class BackwardCheck:
    channels: int  # of the pre-activation block tested
    weight_gap: float  # max |dL/dW(residual) - dL/dW(plain)| over every weight of F
    identity_gap: float  # max |(dL/dx(residual) - dL/dx(plain)) - dL/dy|: the "1" of eq. 5
    upstream_rms: float  # RMS of dL/dy, the gradient arriving at the block's output


def backward_check(channels: int = 16, size: int = 8, seed: int = 0) -> BackwardCheck:
    """Residual vs plain pre-activation block, same weights, input and dL/dy, in float64 autograd.
    Pre-activation, because nothing follows its addition: y = x + F(x) exactly (He et al. 2016b)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():  # block init draws from the global generator; leave the caller's alone
        torch.manual_seed(seed)
        res = Block(channels, channels, 1, residual=True, preact=True).double()
        plain = Block(channels, channels, 1, residual=False, preact=True).double()
    plain.load_state_dict(res.state_dict())  # identical F: the identity owns no weights
    x = torch.randn(4, channels, size, size, dtype=torch.float64, generator=gen)
    g = torch.randn(4, channels, size, size, dtype=torch.float64, generator=gen)  # dL/dy: L = sum(g * y)
    grads = []
    for block in (res, plain):
        xi = x.clone().requires_grad_(True)
        params = list(block.F.parameters())
        grads.append(torch.autograd.grad((block(xi) * g).sum(), [xi, *params]))
    (gx_res, *gw_res), (gx_plain, *gw_plain) = grads
    weight_gap = max(float((a - b).abs().max()) for a, b in zip(gw_res, gw_plain))
    identity_gap = float(((gx_res - gx_plain) - g).abs().max())
    return BackwardCheck(channels, weight_gap, identity_gap, float(g.pow(2).mean().sqrt()))
