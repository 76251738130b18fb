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

from .models import ShortcutA


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
    grad_x_rms: list[float]  # RMS of dL/dx at each block's output: the signal that flows back (eq. 5)


class Probe:
    """Context manager recording, per block, the activation std, the RMS of the gradient dL/dx
    arriving at its output, and (residual blocks) the identity/branch gradient split.

    dL/dx is what backpropagation carries from block to block (He et al. 2016b, eq. 5); the
    per-weight gradient is roughly (dL/dx arriving) x (the layer's input), so without BN, where
    both shrink together in a ReLU net, its first/last ratio can stay flat while dL/dx collapses.

    For a residual block y = F(x) + alpha * S(x), dL/dx = alpha * S^T(g) + J_F^T(g) with
    g = dL/d(F(x) + alpha * S(x)). A tensor hook on the Add's output gets g; one on the block's
    input gets the total dL/dx. With a parameter-free shortcut (identity, or option A's strided
    zero-padded identity) S^T is a cheap scatter, so the identity term is computed from g and the
    branch term is the total minus it: no extra backward pass. Projection shortcuts (option B)
    fall back to full backward hooks on S and F, which receive each term as their grad_input
    (they cost ~40% of a step, the tensor hooks a few percent).

        with Probe(model) as probe:
            loss_fn(model(x), y).backward()
        result = probe.collect(weights)
    """

    def __init__(self, model: nn.Module) -> None:
        self.blocks = [b for _, b in model.probe_blocks()]  # type: ignore[operator]
        self.residual = [b for b in self.blocks if b.residual]
        self._handles: list[RemovableHandle] = []
        self._act: list[torch.Tensor | None] = []
        self._grad_x: list[torch.Tensor | None] = []
        self._identity: list[torch.Tensor | None] = []
        self._branch: list[torch.Tensor | None] = []
        self._g_add: list[torch.Tensor | None] = []

    def __enter__(self) -> Probe:  # noqa: PYI034 (typing.Self needs Python 3.11; this package supports 3.10)
        n, r = len(self.blocks), len(self.residual)
        self._act, self._identity, self._branch, self._g_add = [None] * n, [None] * r, [None] * r, [None] * r
        self._grad_x = [None] * n
        try:
            for i, block in enumerate(self.blocks):
                self._handles.append(block.register_forward_hook(self._store_act(i)))
            for i, block in enumerate(self.residual):
                if isinstance(block.shortcut, (nn.Identity, ShortcutA)):
                    self._handles.append(block.add.register_forward_hook(self._hook_add_output(i)))
                    self._handles.append(block.register_forward_pre_hook(self._hook_block_input(i, block)))
                else:
                    self._handles.append(
                        block.shortcut.register_full_backward_hook(self._store_grad(self._identity, i))
                    )
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
        self._g_add = [None] * len(self._g_add)

    def _store_act(self, i: int):
        def store_grad(g: torch.Tensor) -> None:
            self._grad_x[i] = g.detach().float().pow(2).mean().sqrt()  # RMS over (B, C, H, W)

        def hook(_m: nn.Module, _inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            self._act[i] = out.detach().float().std()
            if out.requires_grad:
                out.register_hook(store_grad)  # a tensor hook dies with the graph: nothing to remove

        return hook

    def _hook_add_output(self, i: int):
        def store(g: torch.Tensor) -> None:
            self._g_add[i] = g.detach()  # (B, C_out, H', W'); freed as soon as block i's input grad arrives

        def hook(_m: nn.Module, _inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            if out.requires_grad:
                out.register_hook(store)

        return hook

    def _hook_block_input(self, i: int, block: nn.Module):
        alpha = block.add.alpha

        def split(g_x: torch.Tensor) -> None:
            g_add, self._g_add[i] = self._g_add[i], None
            if g_add is None:
                return
            g_x = g_x.detach().float()  # (B, C_in, H, W): both terms summed by autograd
            g_add = g_add.float()
            sc = block.shortcut
            if isinstance(sc, ShortcutA):  # S^T: keep the first C_in channels, scatter to strided positions
                ident = torch.zeros_like(g_x)
                ident[:, :, :: sc.stride, :: sc.stride] = alpha * g_add[:, : g_x.shape[1]]
            else:
                ident = alpha * g_add
            self._identity[i] = ident.norm()
            self._branch[i] = (g_x - ident).norm()

        def hook(_m: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            if inputs[0].requires_grad:
                inputs[0].register_hook(split)

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
            torch.stack([a if a is not None else zero for a in self._grad_x]) if self._grad_x else gn[:0],
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
