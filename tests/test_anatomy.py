"""Anatomy library against the paper, torchvision and torch itself; figures from the same data."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from resnet_viz.anatomy import mistakes as lessons
from resnet_viz.anatomy import nets as an
from resnet_viz.engine.config import ConfigError, ModelConfig
from resnet_viz.engine.models import build_model, count_params
from resnet_viz.figures import anatomy as anatomy_figures
from resnet_viz.teaching import anatomy as teaching_anatomy
from resnet_viz.teaching.exercises import grade
from resnet_viz.text import anatomy as anatomy_text


def fresh_cifar(depth: int, width: int = 16, **kw) -> nn.Module:
    """Built the way the rest of the app builds it, on the CPU with real weights: the oracle."""
    return build_model(
        ModelConfig(arch="cifar", depth=depth, width=width, in_channels=3, image_size=32, num_classes=10, **kw)
    )


# He et al. 2016, Table 6 (option A, width 16) to the paper's rounding; exact counts are those of the
# widely used reference implementation of option A (conv weights + BN affine + linear head).
@pytest.mark.parametrize(
    ("depth", "paper", "exact"),
    [
        (20, "0.27M", 269_722),
        (32, "0.46M", 464_154),
        (44, "0.66M", 658_586),
        (56, "0.85M", 853_018),
        (110, "1.7M", 1_727_962),
        (1202, "19.4M", 19_421_274),
    ],
)
def test_cifar_totals_match_the_model_and_table_6(depth: int, paper: str, exact: int) -> None:
    anat = an.anatomy(an.NetSpec("cifar", depth))
    assert anat.total == exact
    if depth <= 110:  # building ResNet-1202 with real weights would only repeat the meta count slowly
        assert anat.total == count_params(fresh_cifar(depth))
    assert an.millions(anat.total) == paper


# torchvision's published parameter counts (weights=None builds the same architecture).
@pytest.mark.parametrize(
    ("depth", "exact", "rounded"),
    [
        (18, 11_689_512, "11.7M"),
        (34, 21_797_672, "21.8M"),
        (50, 25_557_032, "25.6M"),
        (101, 44_549_160, "44.5M"),
        (152, 60_192_808, "60.2M"),
    ],
)
def test_imagenet_totals_match_torchvision(depth: int, exact: int, rounded: str) -> None:
    anat = an.anatomy(an.NetSpec("imagenet", depth))
    assert anat.total == exact == count_params(getattr(torchvision.models, f"resnet{depth}")(weights=None))
    assert an.millions(anat.total) == rounded
    assert f"{exact:,}" in anatomy_text.summary(anat) and rounded in anatomy_text.summary(anat)


def test_cifar_stage_table_at_32_pixels() -> None:
    anat = an.anatomy(an.NetSpec("cifar", 20))
    assert [r.key for r in anat.rows] == ["stem", "stage1", "stage2", "stage3", "pool", "head"]
    # §4.2: feature maps 32, 16, 8 with 16, 32, 64 filters, n = 3 blocks per stage for depth 20
    assert [r.out_shape for r in anat.rows] == [(16, 32, 32), (16, 32, 32), (32, 16, 16), (64, 8, 8), (64, 1, 1), (10,)]
    assert [r.blocks for r in anat.rows] == [None, 3, 3, 3, None, None]
    assert anat.row("stem").params == 3 * 16 * 9 + 2 * 16  # 3x3 conv without bias + BN scale and shift
    assert anat.row("head").params == 64 * 10 + 10
    table = an.table(anat)
    assert table[-1]["parameters"] == f"{anat.total:,}" and table[-1]["blocks"] == "9"
    assert table[0]["blocks"] == "—"  # the stem has no blocks: a dash, not "None"


@pytest.mark.parametrize(
    ("depth", "widths", "blocks"),
    [
        (18, (64, 128, 256, 512), (2, 2, 2, 2)),
        (50, (256, 512, 1024, 2048), (3, 4, 6, 3)),
        (152, (256, 512, 1024, 2048), (3, 8, 36, 3)),
    ],
)
def test_imagenet_stage_table_at_224_pixels(depth: int, widths: tuple[int, ...], blocks: tuple[int, ...]) -> None:
    anat = an.anatomy(an.NetSpec("imagenet", depth))
    stages = [anat.row(f"stage{i}") for i in range(1, 5)]
    # Table 1: conv2_x..conv5_x output 56, 28, 14, 7 at a 224x224 input
    assert [(r.out_shape[1], r.out_shape[2]) for r in stages] == [(56, 56), (28, 28), (14, 14), (7, 7)]
    assert tuple(r.out_shape[0] for r in stages) == widths and tuple(r.blocks for r in stages) == blocks
    assert anat.row("stem").out_shape == (64, 56, 56) and anat.row("head").out_shape == (1000,)


def test_stems_measured_layer_by_layer() -> None:
    im = an.stem_trace(an.NetSpec("imagenet", 50))
    assert im == (
        ("input", (3, 224, 224)),
        ("7×7 conv, 3→64, stride 2", (64, 112, 112)),
        ("3×3 max pool, stride 2", (64, 56, 56)),
    )
    cifar = an.stem_trace(an.NetSpec("cifar", 20))
    assert cifar == (("input", (3, 32, 32)), ("3×3 conv, 3→16", (16, 32, 32)))
    assert "4 times smaller per side" in anatomy_text.stem_sentence(an.NetSpec("imagenet", 50), im)
    assert "the input's own size" in anatomy_text.stem_sentence(an.NetSpec("cifar", 20), cifar)
    text = anatomy_text.stem_contrast(an.stem_contrast(an.NetSpec("cifar", 20), an.NetSpec("imagenet", 18)))
    assert "shrink it to 8×8" in text and "would see 1×1" in text  # 32 / 4 and 32 / 32


@pytest.mark.parametrize(("depth", "width"), [(14, 8), (38, 16)])
def test_sentences_carry_the_counts_of_freshly_built_models(depth: int, width: int) -> None:
    # Fails if any count were typed in: two depths and widths, each checked against a new model.
    a, b, plain = (
        count_params(fresh_cifar(depth, width, shortcut="A")),
        count_params(fresh_cifar(depth, width, shortcut="B")),
        count_params(fresh_cifar(depth, width, residual=False)),
    )
    anat = an.anatomy(an.NetSpec("cifar", depth, width))
    assert f"has {a:,} parameters" in anatomy_text.summary(anat)
    text = anatomy_text.shortcut_sentence(an.shortcut_cost(depth, width))
    assert f"{plain:,}" in text and f"{a:,}" in text and f"add {b - a:,}" in text and f"{b:,} in all" in text


# From the shallowest net to the page's deepest, each of the page's widths once.
@pytest.mark.parametrize(("depth", "width"), [(8, 8), (20, 16), (56, 32), (110, 64), (1202, 16)])
def test_option_a_net_and_plain_twin_have_the_same_parameters(depth: int, width: int) -> None:
    # The oracle: torch's own parameter list of the two built models (on the meta device: shapes, no
    # values). Same names, same shapes: option A's shortcuts (identity, strided zero-padding) own none.
    def shapes(residual: bool) -> dict[str, tuple[int, ...]]:
        with torch.device("meta"):
            model = fresh_cifar(depth, width, residual=residual, shortcut="A")
        return {name: tuple(p.shape) for name, p in model.named_parameters()}

    plain, option_a = shapes(False), shapes(True)
    assert plain == option_a
    cost = an.shortcut_cost(depth, width)
    assert cost.plain == cost.option_a == sum(math.prod(s) for s in plain.values())


def test_option_b_adds_exactly_two_projections() -> None:
    cost = an.shortcut_cost(20, 16)
    assert cost.plain == cost.option_a == 269_722  # option A owns no weights: the twins are the same size
    assert cost.projections == 2
    assert cost.extra == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)  # 1x1 convs and their BNs
    assert cost.option_b == 272_474


def test_block_source_is_the_real_block() -> None:
    src = an.block_source()
    assert src.startswith("class Block(nn.Module):")
    assert "out = self.add(out, self.shortcut(x))" in src
    assert an.residual_line() == "out = self.add(out, self.shortcut(x))"


def test_block_sketches_follow_the_traced_forward() -> None:
    post, pre, bottle = (an.block_sketch(k) for k in ("post", "pre", "bottleneck"))
    assert post.branch == ("3×3 conv, 64→64", "BN", "ReLU", "3×3 conv, 64→64", "BN")
    assert post.after_add == ("ReLU",) and post.formula == "y = ReLU(x + F(x))"
    assert pre.branch[:3] == ("BN", "ReLU", "3×3 conv, 64→64") and pre.after_add == ()
    assert pre.formula == "y = x + F(x)"
    assert bottle.branch[0] == "1×1 conv, 256→64" and bottle.branch[-2] == "1×1 conv, 64→256"
    assert bottle.after_add == ("ReLU",) and bottle.expansion == Bottleneck.expansion == 4
    for kind in ("post", "pre", "bottleneck"):  # plain and residual differ only in the shortcut edge
        r, p = an.block_sketch(kind, True), an.block_sketch(kind, False)  # type: ignore[arg-type]
        assert (r.branch, r.after_add) == (p.branch, p.after_add) and "x + " not in p.formula
    assert "ReLU(x + F(x))" in anatomy_text.block_caption(post) and "He et al. 2016b" in anatomy_text.block_caption(pre)


def test_hooks_are_removed_even_on_error() -> None:
    m = nn.ReLU()
    with pytest.raises(ZeroDivisionError), an._hooked([m], []):
        m(torch.zeros(1))
        _ = 1 / 0
    assert not m._forward_hooks
    block = an.Block(8, 8, 1, residual=True)
    an._trace(block, torch.zeros(1, 8, 4, 4))
    assert not any(mod._forward_hooks for mod in block.modules())


@pytest.mark.parametrize(
    ("family", "depth", "size", "final", "verdict"),
    [
        ("imagenet", 50, 224, (2048, 7, 7), "ok"),
        ("imagenet", 50, 32, (2048, 1, 1), "error"),
        ("imagenet", 18, 256, (512, 8, 8), "partial"),
        ("imagenet", 50, 448, (2048, 14, 14), "wrong_shape"),
        ("cifar", 20, 32, (64, 8, 8), "partial"),
        ("cifar", 20, 224, (64, 56, 56), "wrong_shape"),
    ],
)
def test_fixed_avgpool_demonstrated(family: str, depth: int, size: int, final: tuple, verdict: str) -> None:
    # Oracles: the last map is input/32 (ImageNet) or input/4 (CIFAR) per side; AvgPool2d(7) has stride 7.
    check = lessons.pool_check(an.NetSpec(family, depth), size)  # type: ignore[arg-type]
    assert check.final_map == final and check.verdict == verdict
    assert check.adaptive_out == (final[0], 1, 1)
    text = anatomy_text.pool_sentence(check)
    if verdict == "error":
        assert check.fixed_out is None and "too small" in (check.error or "") and "raises" in text
    elif verdict == "wrong_shape":
        h = final[1] // 7
        assert check.fixed_out == (final[0], h, h) and f"{final[0] * h * h:,} features" in text and check.error
    elif verdict == "partial":
        assert check.fixed_out == (final[0], 1, 1) and f"{100 * 49 / (final[1] * final[2]):.0f}%" in text


def test_expansion_is_read_and_its_absence_fails() -> None:
    demo = lessons.expansion_demo()
    assert (demo.bottleneck, demo.basic) == (Bottleneck.expansion, BasicBlock.expansion) == (4, 1)
    assert demo.head_in == {"ResNet-34": 512, "ResNet-50": 2048}  # 512 * expansion
    assert demo.missing_error.startswith("AttributeError") and "expansion" in demo.missing_error
    assert "2048 features" in anatomy_text.expansion_sentence(demo)


def test_identity_adds_to_dl_dx_not_dl_dw() -> None:
    state = torch.random.get_rng_state()
    check = lessons.backward_check()
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's generator is left alone
    assert check.weight_gap < 1e-12  # the identity owns no weights
    assert check.identity_gap < 1e-12  # dL/dx(res) - dL/dx(plain) = dL/dy: the "1" of eq. 5
    assert check.upstream_rms > 0.5


def test_exercises_wait_for_the_change_then_grade_from_measurements() -> None:
    cost, cifar = an.shortcut_cost(20), an.anatomy(an.NetSpec("cifar", 20))
    pool224 = lessons.pool_check(an.NetSpec("cifar", 20), 224)
    items = teaching_anatomy.exercises(cost, "A", cifar, pool224)
    assert [outcome for _, outcome, _ in items] == [None, None, None] and all(todo for _, _, todo in items)
    r50 = an.anatomy(an.NetSpec("imagenet", 50))
    (ex_b, out_b, _), (ex_big, out_big, _), (ex_pool, out_pool, _) = teaching_anatomy.exercises(
        cost, "B", r50, lessons.pool_check(an.NetSpec("imagenet", 50), 32)
    )
    assert out_b is not None and out_b.answer == "under5" and grade(ex_b, "under5", out_b) is True
    assert out_big is not None and grade(ex_big, "stage4", out_big) is True and "25,557,032" in out_big.why
    assert out_pool is not None and out_pool.answer == "error" and grade(ex_pool, "ok", out_pool) is False


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"family": "x"}, "family"),
        ({"depth": 21}, "6n\\+2"),
        ({"family": "imagenet", "depth": 20}, "ImageNet depth"),
        ({"shortcut": "C"}, "shortcut"),
    ],
)
def test_netspec_refuses_bad_settings(kw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        an.NetSpec(**kw)


def test_figures_draw_the_measured_data() -> None:
    res, plain = an.block_sketch("post", True), an.block_sketch("post", False)
    fig_r, fig_p = anatomy_figures.block_figure(res), anatomy_figures.block_figure(plain)
    texts = [a.text for a in fig_r.layout.annotations]
    assert all(label in texts for label in res.branch + res.after_add)
    assert len(fig_r.layout.shapes) == len(fig_p.layout.shapes) + 3  # the "+" node and two shortcut segments
    assert res.formula in fig_r.layout.title.text
    anat = an.anatomy(an.NetSpec("imagenet", 50))
    bar = anatomy_figures.stage_params_figure(anat).data[0]
    assert list(bar.x) == [r.params for r in reversed(anat.rows)]
    assert f"{anat.total:,}" in anatomy_figures.stage_params_figure(anat).layout.title.text
