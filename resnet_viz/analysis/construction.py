"""The construction argument, measured (He et al. 2016, §3.1).

Why degradation is surprising: a deeper net could copy a shallower one and make its extra layers
identity mappings; that constructed net has no higher training error, so the deeper net should do
no worse. That plain nets do worse suggests solvers struggle to fit an identity with a stack of
nonlinear layers. The reformulation H(x) = F(x) + x, i.e. F(x) = H(x) - x, makes the identity the
easy case: push F toward zero.

Measured per block on a batch of images, each image's norm taken over (C, H, W):
- branch: ||F(x)|| / ||s(x)||, F(x) the branch output before the addition and s(x) the shortcut's
  output (x itself for an identity shortcut; option A's strided, zero-padded x where the block
  changes shape). A plain block has no shortcut: s(x) = x where it keeps the shape, and the
  ratio is not defined where it does not.
- off_identity: ||y - s(x)|| / ||s(x)||, y the block's output: how far the whole block, addition
  and activation included, is from passing its input on unchanged.

What the two nets' numbers say, in words: resnet_viz.text.construction.
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..engine.numbers import is_number, within_band


@dataclass(frozen=True)
class BlockChange:
    name: str  # e.g. "blocks.3"
    branch: float | None  # mean over images of ||F(x)|| / ||s(x)||; None where s(x) is undefined or always 0
    off_identity: float | None  # mean over images of ||y - s(x)|| / ||s(x)||; None likewise
    downsampling: bool  # the block changes resolution or channels


@dataclass(frozen=True)
class NearIdentity:
    residual: bool  # measured on a net with shortcuts (s = each block's shortcut) or a plain one (s = identity)
    blocks: tuple[BlockChange, ...]  # depth order
    images: int  # images averaged over

    def values(self, field: str) -> list[tuple[str, float]]:
        """(block name, value) of `field` ("branch" or "off_identity") where defined and finite."""
        return [(b.name, v) for b in self.blocks if is_number(v := getattr(b, field))]

    def median(self, field: str) -> float | None:
        vals = [v for _, v in self.values(field)]
        return statistics.median(vals) if vals else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "residual": self.residual,
            "images": self.images,
            "blocks": [
                {"name": b.name, "branch": b.branch, "off_identity": b.off_identity, "downsampling": b.downsampling}
                for b in self.blocks
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NearIdentity:
        def num(v: Any) -> float | None:
            return None if v is None else float(v)

        blocks = tuple(
            BlockChange(str(b["name"]), num(b["branch"]), num(b["off_identity"]), bool(b["downsampling"]))
            for b in data["blocks"]
        )
        return cls(bool(data["residual"]), blocks, int(data["images"]))


class _Tally:
    """One block's running sums; the hooks fire in forward order: F, then the shortcut, then the block."""

    def __init__(self, block: nn.Module) -> None:
        self.block = block
        self.f: torch.Tensor | None = None
        self.s: torch.Tensor | None = None
        self.branch = self.off = 0.0
        self.n = 0

    def on_branch(self, _m: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        self.f = out
        if getattr(self.block, "shortcut", None) is None:  # plain: the skip map is x itself, where shapes allow
            self.s = inputs[0] if inputs[0].shape == out.shape else None

    def on_shortcut(self, _m: nn.Module, _inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        self.s = out

    def on_output(self, _m: nn.Module, _inputs: tuple[torch.Tensor, ...], y: torch.Tensor) -> None:
        f, s, self.f, self.s = self.f, self.s, None, None
        if f is None or s is None:
            return
        sn = s.detach().double().flatten(1).norm(dim=1)  # (B,)
        ok = sn > 0  # an all-zero skip input has no relative size: left out
        fn = f.detach().double().flatten(1).norm(dim=1)
        on = (y.detach().double() - s.detach().double()).flatten(1).norm(dim=1)
        self.branch += float((fn[ok] / sn[ok]).sum())
        self.off += float((on[ok] / sn[ok]).sum())
        self.n += int(ok.sum())


@contextlib.contextmanager
def recording(model: nn.Module) -> Iterator[list[_Tally]]:
    """Forward hooks on every block's F, shortcut and output; removed on exit, also after an exception."""
    blocks = [b for _, b in model.probe_blocks()]  # type: ignore[operator]
    tallies = [_Tally(b) for b in blocks]
    handles = []
    try:
        for block, t in zip(blocks, tallies):
            handles.append(block.F.register_forward_hook(t.on_branch))
            if getattr(block, "shortcut", None) is not None:
                handles.append(block.shortcut.register_forward_hook(t.on_shortcut))
            handles.append(block.register_forward_hook(t.on_output))
        yield tallies
    finally:
        for h in handles:
            h.remove()


def near_identity(model: nn.Module, x: torch.Tensor, *, batch: int = 500) -> NearIdentity:
    """Per block: how much its branch changes the input, and how far the block is from the identity,
    averaged over the images of x (eval mode; the model's training flag is restored)."""
    names = [n for n, _ in model.probe_blocks()]  # type: ignore[operator]
    was_training = model.training
    device = next(model.parameters()).device
    model.eval()
    try:
        with recording(model) as tallies, torch.inference_mode():
            for i in range(0, len(x), batch):
                model(x[i : i + batch].to(device))
    finally:
        model.train(was_training)
    blocks = tuple(
        BlockChange(
            name,
            t.branch / t.n if t.n else None,
            t.off / t.n if t.n else None,
            bool(getattr(t.block, "downsamples", False)),
        )
        for name, t in zip(names, tallies)
    )
    return NearIdentity(any(getattr(b, "shortcut", None) is not None for _, b in model.probe_blocks()), blocks, len(x))  # type: ignore[operator]


def closer_to_identity(plain: NearIdentity, residual: NearIdentity) -> str | None:
    """Whose median block is nearer the identity (smaller off_identity): "plain", "residual", or
    "same" within a factor of 2 (landscape.within_band); None when a median is missing."""
    mp, mr = plain.median("off_identity"), residual.median("off_identity")
    if mp is None or mr is None:
        return None
    if within_band(mp, mr):
        return "same"
    return "residual" if mr < mp else "plain"


__all__ = ["BlockChange", "NearIdentity", "closer_to_identity", "near_identity", "recording"]
