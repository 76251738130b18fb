"""The construction argument, measured: ||F(x)|| / ||x|| per block against hand-built blocks with
known answers and a forward written out by hand; hooks always removed; sentences swap with the numbers."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import count_hooks
from torch import nn

from resnet_viz.analysis.construction import BlockChange, NearIdentity, closer_to_identity, near_identity, recording
from resnet_viz.engine.config import ModelConfig
from resnet_viz.engine.models import ShortcutA, build_model
from resnet_viz.text.construction import identity_sentences

NAMES = ("plain-14", "residual-14")


class _Scale(nn.Module):
    """F(x) = c * x, with c a number or one factor per image (B, 1, 1, 1); optionally after option A."""

    def __init__(self, c: float | torch.Tensor, down: ShortcutA | None = None) -> None:
        super().__init__()
        self.c, self.down = c, down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c * (x if self.down is None else self.down(x))


class _Block(nn.Module):
    def __init__(self, f: nn.Module, shortcut: nn.Module | None, downsamples: bool = False) -> None:
        super().__init__()
        self.F, self.shortcut, self.downsamples = f, shortcut, downsamples

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.F(x)
        return out if self.shortcut is None else out + self.shortcut(x)


class _Net(nn.Module):
    def __init__(self, *blocks: nn.Module) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*blocks)
        self.anchor = nn.Parameter(torch.zeros(()))  # the device is read from the parameters

    def probe_blocks(self) -> list[tuple[str, nn.Module]]:
        return [(f"blocks.{i}", b) for i, b in enumerate(self.blocks)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


def _images(n: int = 16, c: int = 4, side: int = 8) -> torch.Tensor:
    return torch.randn(n, c, side, side, generator=torch.Generator().manual_seed(0))


def test_known_scales_give_the_exact_ratios() -> None:
    a = ShortcutA(4, 8, 2)
    net = _Net(
        _Block(_Scale(0.25), nn.Identity()),  # residual: F = x / 4 -> 25%, y - x = F
        _Block(_Scale(-3.0), None),  # plain, same shape: |F| = 3x, y - x = -4x
        _Block(_Scale(0.5, ShortcutA(4, 8, 2)), a, downsamples=True),  # residual through option A
        _Block(_Scale(2.0, ShortcutA(8, 16, 2)), None, downsamples=True),  # plain changing shape: undefined
    )
    got = near_identity(net, _images(), batch=5)  # 16 images in uneven batches
    assert [b.branch for b in got.blocks[:3]] == pytest.approx([0.25, 3.0, 0.5], rel=1e-6)  # float32 products
    assert [b.off_identity for b in got.blocks[:3]] == pytest.approx([0.25, 4.0, 0.5], rel=1e-6)
    assert got.blocks[3].branch is None and got.blocks[3].off_identity is None
    assert [b.downsampling for b in got.blocks] == [False, False, True, True]
    assert got.residual and got.images == 16


def test_the_ratio_is_averaged_over_images_and_skips_zero_inputs() -> None:
    x = _images(6)
    x[2] = 0  # no relative size: left out, not counted as 0 or inf
    factors = torch.tensor([1.0, 2.0, 100.0, 3.0, 4.0, 5.0]).view(6, 1, 1, 1)
    got = near_identity(_Net(_Block(_Scale(factors), nn.Identity())), x, batch=6)
    assert got.blocks[0].branch == pytest.approx((1 + 2 + 3 + 4 + 5) / 5, rel=1e-6)  # not a ratio of totals
    zero = near_identity(_Net(_Block(_Scale(1.0), nn.Identity())), torch.zeros(3, 4, 8, 8))
    assert zero.blocks[0].branch is None  # every input zero: undefined, not a number made up


@pytest.mark.parametrize("residual", [True, False])
def test_a_zeroed_branch_gives_ratio_zero(residual: bool) -> None:
    model = build_model(ModelConfig(depth=14, width=4, residual=residual)).eval()
    with torch.no_grad():
        for block in model.blocks:  # the last BN's scale and shift at 0: F(x) = 0 exactly in eval mode
            block.last_norm.weight.zero_()
            block.last_norm.bias.zero_()
    got = near_identity(model, _images(8, 1))
    if residual:
        assert [b.branch for b in got.blocks] == [0.0] * 6
        # y = relu(0 + s(x)) = s(x): after the stem's ReLU every input is >= 0, so each block is its skip map.
        assert [b.off_identity for b in got.blocks] == [0.0] * 6
    else:  # y = relu(0) = 0: ||0 - x|| = ||x||; every later block then sees only zeros, which have no ratio
        assert (got.blocks[0].branch, got.blocks[0].off_identity) == (0.0, pytest.approx(1.0))
        assert all(b.branch is None and b.off_identity is None for b in got.blocks[1:])


@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig(depth=14, width=4),
        ModelConfig(depth=14, width=4, residual=False),
        ModelConfig(depth=14, width=4, preact=True),
        ModelConfig(depth=14, width=4, shortcut="B"),
    ],
)
def test_a_real_net_matches_a_forward_written_out_by_hand(cfg: ModelConfig) -> None:
    torch.manual_seed(0)
    model = build_model(cfg).train()
    x = _images(12, 1)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    got = near_identity(model, x, batch=5)
    assert model.training  # the caller's flag comes back
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())  # eval mode: BN statistics untouched
    model.eval()
    branch, off = [], []
    with torch.no_grad():
        h = model.stem(x)
        for block in model.blocks:
            f = block.F(h)
            s = block.shortcut(h) if block.shortcut is not None else (h if f.shape == h.shape else None)
            y = block(h)
            if s is None:
                branch.append(None)
                off.append(None)
            else:
                sn = s.double().flatten(1).norm(dim=1)
                branch.append(float((f.double().flatten(1).norm(dim=1) / sn).mean()))
                off.append(float(((y.double() - s.double()).flatten(1).norm(dim=1) / sn).mean()))
            h = y
    for b, eb, eo in zip(got.blocks, branch, off):
        assert (b.branch is None) == (eb is None) and (b.off_identity is None) == (eo is None)
        if eb is not None:
            assert b.branch == pytest.approx(eb, rel=1e-6) and b.off_identity == pytest.approx(eo, rel=1e-6)
    assert got.residual == cfg.residual


def test_hooks_are_removed_after_exit_and_after_an_exception() -> None:
    model = build_model(ModelConfig(depth=14, width=4, shortcut="B"))
    model.blocks[0].register_forward_hook(lambda *_: None)  # someone else's hook stays
    before = count_hooks(model)
    assert before == 1
    for i in range(100):
        try:
            with recording(model):
                assert count_hooks(model) == before + 6 * 2 + 6  # F and output of each block, 6 shortcuts
                if i % 2:
                    raise RuntimeError("boom")
        except RuntimeError:
            assert i % 2
        assert count_hooks(model) == before
    near_identity(model, _images(4, 1))
    assert count_hooks(model) == before

    class Boom(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise ValueError("inside the forward")

    model.blocks[3].F.append(Boom())
    with pytest.raises(ValueError, match="inside the forward"):
        near_identity(model, _images(4, 1))
    assert count_hooks(model) == before and model.training


def test_json_round_trip() -> None:
    r = NearIdentity(False, (BlockChange("blocks.0", 1.25, 0.5, False), BlockChange("blocks.1", None, None, True)), 100)
    doc = json.loads(json.dumps(r.to_dict()))
    assert NearIdentity.from_dict(doc) == r


def _net(residual: bool, branch: list[float | None], off: list[float | None]) -> NearIdentity:
    return NearIdentity(
        residual, tuple(BlockChange(f"blocks.{i}", b, o, b is None) for i, (b, o) in enumerate(zip(branch, off))), 64
    )


NEAR = _net(True, [0.1, 0.23, 0.5], [0.08, 0.2, 0.4])  # median branch 23%, median off-identity 20%
FAR = _net(False, [1.1, None, 1.3, 0.9], [1.0, None, 1.2, 0.8])  # median branch 110%, off-identity 100%


def test_identity_sentences_and_their_swap() -> None:
    assert closer_to_identity(FAR, NEAR) == "residual"
    assert identity_sentences(FAR, NEAR, NAMES) == [
        (
            "In residual-14 the median block's branch changes its input by 23% (||F(x)|| / ||x||, with x the "
            "shortcut's output where a block changes shape; median over its 3 blocks; from 10% at blocks.0 to 50% at "
            "blocks.2)."
        ),
        (
            "In plain-14 the median block's F(x) has 110% of its input's norm (||F(x)|| / ||x||, median over its 3 "
            "blocks that keep the shape; from 90% at blocks.3 to 130% at blocks.2): a plain block's F(x) replaces x "
            "instead of being added to it."
        ),
        (
            "The residual blocks are the nearer to the identity: a median block's output differs from its input by 20% "
            "in residual-14 and by 100% in plain-14 (||y - x|| / ||x||), 5x farther for the plain net. A deeper net "
            "could match a shallower one by making its extra blocks identities (He et al. 2016, §3.1); a residual block "
            "gets there by pushing F(x) toward 0, while a plain block would have to fit H(x) = x with its nonlinear layers."
        ),
    ]
    assert closer_to_identity(NEAR, FAR) == "plain"
    swapped = identity_sentences(NEAR, FAR, NAMES)
    assert swapped[2].startswith(
        "Here the plain blocks are the nearer to the identity: a median block's output "
        "differs from its input by 100% in residual-14 and by 20% in plain-14"
    )
    assert "5x farther for the residual net" in swapped[2]


def test_the_residual_ratio_says_what_x_is_where_a_block_changes_shape() -> None:
    # The residual median takes in the blocks that change shape, where the ratio is over the shortcut's
    # output (option A's strided, zero-padded x), not over x itself: the sentence says so.
    line = identity_sentences(FAR, NEAR, NAMES)[0]
    assert "with x the shortcut's output where a block changes shape" in line
    assert "with x the shortcut's output" not in identity_sentences(FAR, NEAR, NAMES)[1]  # plain: shape kept only


def test_about_the_same_zero_and_undefined() -> None:
    same = _net(True, [0.5], [0.6])
    assert closer_to_identity(_net(False, [0.9], [1.1]), same) == "same"
    assert "about equally far from the identity (within 2x)" in identity_sentences(_net(False, [0.9], [1.1]), same)[2]
    exact = _net(True, [0.0, 0.0], [0.0, 0.0])
    assert closer_to_identity(FAR, exact) == "residual"
    assert "infinitely farther for the plain net" in identity_sentences(FAR, exact, NAMES)[2]
    assert closer_to_identity(exact, exact) == "same"
    none = _net(False, [None, None], [None, None])
    assert closer_to_identity(none, NEAR) is None
    lines = identity_sentences(none, NEAR, NAMES)
    assert (
        lines[1] == "No block of plain-14 keeps the shape, so ||F(x)|| / ||x|| is not defined there."
        and len(lines) == 2
    )
    nan = _net(True, [float("nan")], [float("inf")])
    assert closer_to_identity(FAR, nan) is None and len(identity_sentences(FAR, nan)) == 2
