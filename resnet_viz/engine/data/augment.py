"""Augmentation that runs batched where the batch lives (random crop from a zero-padded image plus
a horizontal flip), so small datasets never leave the training device."""

from __future__ import annotations

import torch
import torch.nn.functional as F

# --------------------------------------------------------------------------------------------
# Augmentation


def augment_batch(
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    *,
    pad: int | None = None,
    flip: bool = True,
) -> torch.Tensor:
    """Random crop from a zero-padded image plus random horizontal flip, independently per image.

    x: (B, C, H, W) on any device; returns a new tensor of the same shape on that device. The
    padding defaults to max(1, W // 8) (4 px at 32x32, as in He et al. 2016 section 4.2); zero is the
    channel mean of standardised data. One gather, no loop over images, so it runs where the
    batch lives. Draws, in order: row offsets, column offsets, flips, each (B,) from `generator`
    (on the generator's device), so a given generator state gives a given batch.
    """
    b, _c, h, w = x.shape
    p = max(1, w // 8) if pad is None else pad
    gen_device = generator.device if generator is not None else torch.device("cpu")
    dy = torch.randint(0, 2 * p + 1, (b,), generator=generator, device=gen_device).to(x.device)  # (B,)
    dx = torch.randint(0, 2 * p + 1, (b,), generator=generator, device=gen_device).to(x.device)
    flips = torch.rand((b,), generator=generator, device=gen_device).to(x.device) < 0.5
    if not flip:
        flips = torch.zeros_like(flips)

    padded = F.pad(x, (p, p, p, p))  # (B, C, H+2p, W+2p), zeros
    cols = torch.arange(w, device=x.device)  # (W,)
    cols = torch.where(flips[:, None], w - 1 - cols, cols) + dx[:, None]  # (B, W): a flip reads columns backwards
    rows = torch.arange(h, device=x.device)[None, :] + dy[:, None]  # (B, H)
    batch = torch.arange(b, device=x.device)[:, None, None]  # (B, 1, 1)
    # Advanced indices around a slice put their broadcast dims first: (B, H, W, C).
    out = padded[batch, :, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()
