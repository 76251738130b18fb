"""Probes against torch itself: per-parameter norms, tensor hooks, manual std."""

from __future__ import annotations

import gc

import pytest
import torch
import torch.nn.functional as F
from helpers import count_hooks

from resnet_viz.engine.config import ModelConfig
from resnet_viz.engine.models import build_model
from resnet_viz.engine.probes import Probe, probe_weights, weight_grad_norms


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(8, 1, 8, 8, generator=g), torch.randint(0, 10, (8,), generator=g)


def test_batched_grad_norms_equal_per_parameter_reference() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(depth=20, width=4))
    x, y = _batch()
    F.cross_entropy(model(x), y).backward()
    names, weights = probe_weights(model)
    batched = weight_grad_norms(weights)
    reference = torch.stack([m.weight.grad.norm() for _, m in model.probe_layers()])
    torch.testing.assert_close(batched, reference)
    assert len(names) == len(batched) == 20


def test_probe_collect_matches_manual_measurements() -> None:
    torch.manual_seed(1)
    model = build_model(ModelConfig(depth=14, width=4, alpha=0.7))
    x, y = _batch(1)
    # Reference: the block outputs, and the gradient at each Add's output (dL/dy before the act).
    outs, add_grads = {}, {}
    handles = []
    for i, block in enumerate(model.blocks):
        handles.append(block.register_forward_hook(lambda _m, _i, o, i=i: outs.__setitem__(i, o.detach())))
        handles.append(
            block.add.register_forward_hook(
                lambda _m, _i, o, i=i: [o.register_hook(lambda g: add_grads.__setitem__(i, g)), None][1]
            )
        )
    _, weights = probe_weights(model)
    with Probe(model) as probe:
        F.cross_entropy(model(x), y).backward()
    res = probe.collect(weights)
    for h in handles:
        h.remove()
    torch.testing.assert_close(torch.tensor(res.act_std), torch.stack([outs[i].std() for i in range(6)]))
    for i, block in enumerate(model.blocks):
        g = add_grads[i]  # (B, C_out, H', W')
        if block.downsamples:  # option A: the shortcut's transpose keeps the first C_in channels
            g = g[:, : g.shape[1] - block.shortcut.pad]
        expected = 0.7 * g.norm()
        assert res.identity_grad[i] == pytest.approx(expected.item(), rel=1e-5)
    rms = [n / w.numel() ** 0.5 for n, w in zip(res.grad_norm, weights)]
    assert res.grad_rms == pytest.approx(rms, rel=1e-6)
    rel = [n / w.norm().item() for n, w in zip(res.grad_norm, weights)]
    assert res.grad_rel == pytest.approx(rel, rel=1e-5)


def test_identity_plus_branch_is_the_total_input_gradient() -> None:
    torch.manual_seed(2)
    model = build_model(ModelConfig(depth=8, width=4))
    block = model.blocks[1]  # stride 1, identity shortcut
    x_in = {}
    h = block.register_forward_hook(lambda _m, i, _o: [i[0].register_hook(lambda g: x_in.__setitem__("g", g)), None][1])
    captured = {}
    hs = [
        block.shortcut.register_full_backward_hook(lambda _m, gi, _go: captured.__setitem__("id", gi[0])),
        block.F.register_full_backward_hook(lambda _m, gi, _go: captured.__setitem__("br", gi[0])),
    ]
    x, y = _batch(2)
    F.cross_entropy(model(x), y).backward()
    for handle in [h, *hs]:
        handle.remove()
    torch.testing.assert_close(captured["id"] + captured["br"], x_in["g"])


def test_plain_net_has_no_identity_measurements() -> None:
    model = build_model(ModelConfig(depth=8, width=4, residual=False))
    x, y = _batch()
    _, weights = probe_weights(model)
    with Probe(model) as probe:
        F.cross_entropy(model(x), y).backward()
    res = probe.collect(weights)
    assert res.identity_grad == [] and res.branch_grad == [] and len(res.act_std) == 3


def test_probe_leaves_no_hooks_or_memory_behind() -> None:
    model = build_model(ModelConfig(depth=8, width=4))
    _, weights = probe_weights(model)
    x, y = _batch()

    def probe_once() -> None:
        model.zero_grad(set_to_none=False)
        with Probe(model) as probe:
            F.cross_entropy(model(x), y).backward()
        probe.collect(weights)

    def live_tensors() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if type(o) is torch.Tensor or type(o) is torch.nn.Parameter)

    probe_once()  # first call allocates the .grad buffers
    counts = []
    for _ in range(2):
        for _ in range(50):
            probe_once()
        counts.append(live_tensors())
    assert count_hooks(model) == 0
    assert counts[1] == counts[0]  # 50 more probes keep nothing alive


def test_probe_removes_hooks_when_the_body_raises() -> None:
    model = build_model(ModelConfig(depth=8, width=4))
    with pytest.raises(RuntimeError, match="boom"), Probe(model):
        assert count_hooks(model) > 0
        raise RuntimeError("boom")
    assert count_hooks(model) == 0


@pytest.mark.parametrize("shortcut", ["A", "B"])
@pytest.mark.parametrize("preact", [False, True])
def test_identity_and_branch_terms_match_full_backward_hooks(shortcut: str, preact: bool) -> None:
    """Reference: full backward hooks on S and F receive exactly the two terms of dL/dx."""
    torch.manual_seed(3)
    model = build_model(ModelConfig(depth=14, width=4, alpha=0.6, shortcut=shortcut, preact=preact))
    x, y = _batch(3)
    ref_id, ref_br, handles = {}, {}, []
    for i, block in enumerate(model.blocks):
        handles.append(
            block.shortcut.register_full_backward_hook(
                lambda _m, gi, _go, i=i: ref_id.__setitem__(i, gi[0].norm().item())
            )
        )
        handles.append(
            block.F.register_full_backward_hook(lambda _m, gi, _go, i=i: ref_br.__setitem__(i, gi[0].norm().item()))
        )
    F.cross_entropy(model(x), y).backward()
    for h in handles:
        h.remove()
    _, weights = probe_weights(model)
    model.zero_grad()
    with Probe(model) as probe:
        F.cross_entropy(model(x), y).backward()
    res = probe.collect(weights)
    assert res.identity_grad == pytest.approx([ref_id[i] for i in range(6)], rel=1e-4)
    assert res.branch_grad == pytest.approx([ref_br[i] for i in range(6)], rel=1e-4)
    assert count_hooks(model) == 0
