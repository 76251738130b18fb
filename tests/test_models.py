"""Models against the paper's numbers and against torch itself."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from resnet_viz.engine.config import ConfigError, ModelConfig, valid_cifar_depths
from resnet_viz.engine.experiment import build_twins
from resnet_viz.engine.models import Add, Block, ShortcutA, build_model, count_params


def paper_cfg(depth: int, **kw) -> ModelConfig:
    return ModelConfig(depth=depth, width=16, in_channels=3, image_size=32, num_classes=10, **kw)


# He et al. 2016, Table 6 gives 0.27M / 0.85M / 1.7M; the exact counts are those of the widely
# used reference implementation of option A (conv weights + BN affine + linear head).
@pytest.mark.parametrize(
    ("depth", "paper_millions", "exact"), [(20, 0.27, 269_722), (56, 0.85, 853_018), (110, 1.7, 1_727_962)]
)
def test_parameter_counts_match_paper(depth: int, paper_millions: float, exact: int) -> None:
    residual = count_params(build_model(paper_cfg(depth)))
    plain = count_params(build_model(paper_cfg(depth, residual=False)))
    assert residual == exact
    assert round(residual / 1e6, 2 if paper_millions < 1 else 1) == paper_millions
    assert plain == residual  # option A owns no parameters: the twins are the same size


def test_option_b_adds_two_projections() -> None:
    a = count_params(build_model(paper_cfg(20)))
    b = count_params(build_model(paper_cfg(20, shortcut="B")))
    # 1x1 convs 16->32 and 32->64 with BN(32), BN(64)
    assert b - a == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)


@pytest.mark.parametrize("depth", [0, 7, 9, 21, 57])
def test_invalid_depth_refused_with_valid_list(depth: int) -> None:
    with pytest.raises(ConfigError, match="6n\\+2") as err:
        ModelConfig(depth=depth)
    assert "8, 14, 20" in str(err.value) and "110" in str(err.value)


def test_valid_depths() -> None:
    assert valid_cifar_depths(110)[:4] == [8, 14, 20, 26] and 56 in valid_cifar_depths(110)


@pytest.mark.parametrize("preact", [False, True])
def test_probe_layers_are_the_weighted_layers_in_depth_order(preact: bool) -> None:
    model = build_model(ModelConfig(depth=20, width=4, preact=preact))
    names = [n for n, _ in model.probe_layers()]
    assert len(names) == 20  # 6n+2 weighted layers, the depth the paper counts
    assert names[0] == "stem.0" and names[-1] == "head"
    # Recorded forward order of the conv/linear calls equals the listed order.
    seen: list[str] = []
    handles = [m.register_forward_hook(lambda _m, _i, _o, n=n: seen.append(n)) for n, m in model.probe_layers()]
    model(torch.randn(2, 1, 8, 8))
    for h in handles:
        h.remove()
    assert seen == names


def test_alpha_zero_equals_plain() -> None:
    x = torch.randn(8, 1, 8, 8)
    y = torch.randint(0, 10, (8,))
    plain, res0 = build_twins([ModelConfig(depth=14, residual=False), ModelConfig(depth=14, alpha=0.0)], seed=3)
    out_p, out_r = plain(x), res0(x)
    torch.testing.assert_close(out_p, out_r, rtol=0, atol=0)
    nn.functional.cross_entropy(out_p, y).backward()
    nn.functional.cross_entropy(out_r, y).backward()
    for (n, p), (_, r) in zip(plain.named_parameters(), res0.named_parameters()):
        torch.testing.assert_close(p.grad, r.grad, rtol=0, atol=0, msg=n)


def test_twins_start_from_identical_weights_and_differ_in_output() -> None:
    plain, res = build_twins([ModelConfig(depth=20, residual=False), ModelConfig(depth=20)], seed=0)
    sd_p, sd_r = plain.state_dict(), res.state_dict()
    assert sd_p.keys() == sd_r.keys()
    for k in sd_p:
        assert torch.equal(sd_p[k], sd_r[k]), k
    x = torch.randn(4, 1, 8, 8)
    assert not torch.allclose(plain(x), res(x))  # same weights, different wiring


def test_every_activation_site_is_its_own_non_inplace_module() -> None:
    model = build_model(ModelConfig(depth=14, width=4))
    calls: dict[int, int] = {}
    acts = [m for m in model.modules() if isinstance(m, (nn.ReLU, nn.Tanh, nn.Sigmoid, Add))]
    for m in acts:
        assert not getattr(m, "inplace", False)
        m.register_forward_hook(lambda mod, _i, _o: calls.__setitem__(id(mod), calls.get(id(mod), 0) + 1))
    model(torch.randn(2, 1, 8, 8))
    assert len(acts) == len(calls) and set(calls.values()) == {1}
    # stem act + 2 per block for post-activation, and one Add per residual block
    assert sum(isinstance(m, Add) for m in acts) == 6
    assert sum(isinstance(m, nn.ReLU) for m in acts) == 1 + 2 * 6


def test_block_forward_is_the_paper_formula() -> None:
    torch.manual_seed(0)
    block = Block(4, 8, 2, residual=True, alpha=0.5, shortcut="A").eval()
    x = torch.randn(2, 4, 6, 6)
    pad = torch.zeros(2, 4, 3, 3)
    identity = torch.cat([x[:, :, ::2, ::2], pad], 1)  # option A: stride-2 subsample, zero channels
    expected = torch.relu(block.F(x) + 0.5 * identity)
    torch.testing.assert_close(block(x), expected)
    assert isinstance(block.shortcut, ShortcutA) and block.downsamples


def test_zero_init_last_bn_makes_blocks_start_as_identity() -> None:
    model = build_model(ModelConfig(depth=14, width=4, zero_init_last_bn=True))
    x = torch.randn(4, 4, 8, 8)
    block = model.blocks[0]  # same shape in and out
    torch.testing.assert_close(block(x), torch.relu(x))


def test_forward_features_and_head_split() -> None:
    model = build_model(ModelConfig(depth=8, width=4, in_channels=3, image_size=16, num_classes=5)).eval()
    x = torch.randn(3, 3, 16, 16)
    feats = model.forward_features(x)
    assert feats.shape == (3, 16, 4, 4)  # (B, 4w, H/4, W/4)
    torch.testing.assert_close(model.forward_head(feats), model(x))
    assert model(x).shape == (3, 5)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("init", ["kaiming", "xavier", "fixup", "default"])
@pytest.mark.parametrize("preact", [False, True])
def test_all_variants_build_and_run(activation: str, init: str, preact: bool) -> None:
    for bn in (True, False):
        cfg = ModelConfig(depth=8, width=4, activation=activation, init=init, preact=preact, bn=bn, residual=True)
        model = build_model(cfg)
        out = model(torch.randn(4, 1, 8, 8))
        assert out.shape == (4, 10) and torch.isfinite(out).all()
        has_bn = any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
        assert has_bn == bn
        assert any(
            isinstance(m, {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[activation])
            for m in model.modules()
        )


@pytest.mark.parametrize("arch", ["cifar", "mlp"])
def test_plain_fixup_is_refused(arch: str) -> None:
    # Fixup zeroes each block's last layer: a plain net would be dead (output and gradients 0).
    with pytest.raises(ConfigError, match="init fixup needs residual blocks"):
        ModelConfig(arch=arch, depth=20, residual=False, init="fixup")


def test_fixup_zeroes_each_branch_end_and_keeps_deep_nets_tame() -> None:
    cfg = ModelConfig(depth=56, width=8, bn=False, init="fixup")
    model = build_model(cfg)
    for block in model.blocks:
        assert block.convs[1].weight.abs().sum() == 0
    assert model.head.weight.abs().sum() == 0
    # Each residual block starts as act(shortcut(x)), so features stay bounded at depth 56.
    feats = model.forward_features(torch.randn(8, 1, 8, 8))
    assert torch.isfinite(feats).all() and feats.std() < 10


def test_mlp_parameter_count_by_hand() -> None:
    cfg = ModelConfig(arch="mlp", depth=3, width=32, in_channels=1, image_size=8, num_classes=10, bn=False)
    model = build_model(cfg)
    expected = (64 * 32 + 32) + 2 * (32 * 32 + 32) + (32 * 10 + 10)
    assert count_params(model) == expected
    assert [n for n, _ in model.probe_layers()] == ["blocks.0.F.0", "blocks.1.F.0", "blocks.2.F.0", "head"]
    assert model(torch.randn(5, 1, 8, 8)).shape == (5, 10)


def test_residual_mlp_adds_identity_except_first_layer() -> None:
    cfg = ModelConfig(arch="mlp", depth=4, width=16, bn=False, activation="tanh")
    model = build_model(cfg).eval()
    assert [b.residual for b in model.blocks] == [False, True, True, True]
    h = torch.randn(3, 16)
    block = model.blocks[1]
    torch.testing.assert_close(block(h), torch.tanh(block.F[0](h)) + h)


def test_mlp_depth_need_not_be_6n_plus_2() -> None:
    assert ModelConfig(arch="mlp", depth=5).depth == 5


@pytest.mark.parametrize("init", ["kaiming", "xavier"])
def test_initial_loss_is_near_chance(init: str) -> None:
    """The head keeps a small init: the untrained net's loss starts near ln(classes), not far above."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(depth=20, width=8, in_channels=3, image_size=32, num_classes=5, init=init))
    x, y = torch.randn(64, 3, 32, 32), torch.randint(0, 5, (64,))
    loss = nn.functional.cross_entropy(model(x), y).item()
    assert loss < 1.5 * torch.log(torch.tensor(5.0)).item()
