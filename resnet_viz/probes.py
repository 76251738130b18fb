"""Measurements of gradient flow: per-layer gradient norms, activation std, identity-vs-branch split.

Hooks live only inside context managers that always remove their handles, so a probe that raises
(or is used 100 times in a loop) leaves the model exactly as it found it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle


def weight_grad_norms(weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """L2 norm of each weight's gradient, (L,), in one batched kernel (a missing grad counts as 0)."""
    grads = [w.grad if w.grad is not None else torch.zeros_like(w) for w in weights]
    return torch.stack(torch._foreach_norm(grads)).float()


def weight_norms(weights: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.stack(torch._foreach_norm([w.detach() for w in weights])).float()


@dataclass(frozen=True)
class ProbeResult:
    """One probe's numbers, already on the host. Lists run in depth order."""

    grad_norm: list[float]  # ||dL/dW|| per conv/linear weight
    grad_rms: list[float]  # ||dL/dW|| / sqrt(numel): comparable across layers of different size
    grad_rel: list[float]  # ||dL/dW|| / ||W||: the relative step size SGD would take
    act_std: list[float]  # std of each block's output
    identity_grad: list[float]  # ||dL/dx|| arriving through each residual block's shortcut
    branch_grad: list[float]  # ||dL/dx|| arriving through each residual block's branch F


class Probe:
    """Context manager recording activation std per block and the identity/branch gradient split.

    For a residual block y = F(x) + alpha * S(x), dL/dx = dL/dy * alpha * dS/dx + dL/dy * dF/dx;
    a full backward hook on S and on F receives each term separately as its grad_input.

        with Probe(model) as probe:
            loss_fn(model(x), y).backward()
        result = probe.collect(weights)
    """

    def __init__(self, model: nn.Module) -> None:
        self.blocks = [b for _, b in model.probe_blocks()]  # type: ignore[operator]
        self.residual = [b for b in self.blocks if b.residual]
        self._handles: list[RemovableHandle] = []
        self._act: list[torch.Tensor | None] = []
        self._identity: list[torch.Tensor | None] = []
        self._branch: list[torch.Tensor | None] = []

    def __enter__(self) -> Probe:
        n, r = len(self.blocks), len(self.residual)
        self._act, self._identity, self._branch = [None] * n, [None] * r, [None] * r
        try:
            for i, block in enumerate(self.blocks):
                self._handles.append(block.register_forward_hook(self._store_act(i)))
            for i, block in enumerate(self.residual):
                self._handles.append(block.shortcut.register_full_backward_hook(self._store_grad(self._identity, i)))
                self._handles.append(block.F.register_full_backward_hook(self._store_grad(self._branch, i)))
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _store_act(self, i: int):
        def hook(_m: nn.Module, _inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            self._act[i] = out.detach().float().std()

        return hook

    @staticmethod
    def _store_grad(slot: list[torch.Tensor | None], i: int):
        def hook(_m: nn.Module, grad_input: tuple[torch.Tensor | None, ...], _go: object) -> None:
            g = grad_input[0]
            if g is not None:
                slot[i] = g.detach().float().norm()

        return hook

    def collect(self, weights: Sequence[torch.Tensor]) -> ProbeResult:
        """Gather everything measured plus the weights' gradient norms with one device->host copy."""
        gn = weight_grad_norms(weights)
        wn = weight_norms(weights)
        numel = torch.tensor([w.numel() for w in weights], dtype=torch.float32, device=gn.device)
        zero = gn.new_zeros(())
        parts = [
            gn,
            gn / numel.sqrt(),
            gn / wn.clamp_min(1e-12),
            torch.stack([a if a is not None else zero for a in self._act]) if self._act else gn[:0],
            torch.stack([a if a is not None else zero for a in self._identity]) if self._identity else gn[:0],
            torch.stack([a if a is not None else zero for a in self._branch]) if self._branch else gn[:0],
        ]
        flat = torch.cat([p.reshape(-1).to(gn.device) for p in parts]).cpu().tolist()
        out, k = [], 0
        for p in parts:
            out.append(flat[k : k + p.numel()])
            k += p.numel()
        return ProbeResult(*out)


def probe_weights(model: nn.Module) -> tuple[list[str], list[torch.Tensor]]:
    """Names and weight tensors of the conv/linear layers the probes read, in depth order."""
    layers = model.probe_layers()  # type: ignore[operator]
    return [n for n, _ in layers], [m.weight for _, m in layers]


def count_hooks(model: nn.Module) -> int:
    """Hooks still registered anywhere in the model (tests check probes leave none behind)."""
    total = 0
    for m in model.modules():
        for attr in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks"):
            total += len(getattr(m, attr, {}))
    return total
