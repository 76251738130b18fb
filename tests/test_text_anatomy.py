"""The anatomy page's sentences (resnet_viz.text.anatomy): hand-made measurements give the expected
words, swapped or changed numbers give other words, and hypothesis feeds every builder zeros,
infinities, NaNs, huge numbers and empty traces: words come back, never an exception, a printed
nan or inf, a None or an unfilled placeholder. The real models' numbers are checked in
test_anatomy.py."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resnet_viz.anatomy.mistakes import BackwardCheck, ExpansionDemo, PoolCheck
from resnet_viz.anatomy.nets import BlockSketch, NetSpec, ShortcutCost
from resnet_viz.text.anatomy import (
    backward_sentence,
    block_caption,
    expansion_sentence,
    pool_sentence,
    shortcut_sentence,
    stem_sentence,
)

ODD = st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, 1e-300, 5e-324, 1e300, -1.0])
NUMBER = st.one_of(ODD, st.floats(min_value=1e-12, max_value=1e12))
PRINTED = re.compile(r"(?<![A-Za-z])(nan|inf|None)(?![A-Za-z])")
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SIZE = st.integers(0, 4096)
LABEL = st.text(alphabet="abcxyz×→ :,()-0123456789", max_size=12)  # layer labels, error messages
R20 = NetSpec("cifar", 20)


def _words(text: str) -> None:
    assert isinstance(text, str) and text
    assert not PRINTED.search(text), text
    assert "{" not in text and "}" not in text, text


def test_stem_sentence_by_hand() -> None:
    trace = (("input", (3, 224, 224)), ("7×7 conv, 3→64, stride 2", (64, 112, 112)), ("3×3 max pool", (64, 56, 56)))
    assert stem_sentence(NetSpec("imagenet", 50), trace) == (
        "ResNet-50 stem: 3×224×224 input → 7×7 conv, 3→64, stride 2: 64×112×112 → 3×3 max pool: 64×56×56. "
        "The first stage works at 56×56 with 64 channels, 4 times smaller per side."
    )
    assert stem_sentence(R20, (("input", (3, 32, 32)), ("3×3 conv, 3→16", (16, 32, 32)))).endswith(
        "The first stage works at 32×32 with 16 channels, the input's own size."
    )
    grows = stem_sentence(R20, (("input", (3, 32, 32)), ("up", (16, 64, 64))))
    assert grows.endswith("at 64×64 with 16 channels.") and "smaller" not in grows and "own size" not in grows
    assert stem_sentence(R20, ()) == "ResNet-20 (option A) stem: no layer output was measured."


@SETTINGS
@given(st.lists(st.tuples(LABEL, st.tuples(SIZE, SIZE, SIZE)), max_size=4))
def test_stem_sentence_never_raises(trace: list) -> None:
    _words(stem_sentence(R20, tuple(trace)))


def test_shortcut_sentence_by_hand_and_changed() -> None:
    cost = ShortcutCost(20, 16, 269_722, 269_722, 272_474, 2)
    assert shortcut_sentence(cost) == (
        "ResNet-20 at width 16: the plain twin has 269,722 parameters and the option-A net the same number, 269,722 "
        "(option A owns no weights). Option B's 2 projection shortcuts add 2,752 (1.0%), for 272,474 in all."
    )
    other = shortcut_sentence(ShortcutCost(32, 8, 117_000, 117_000, 118_400, 2))  # other numbers, other sentence
    assert other.startswith("ResNet-32 at width 8: the plain twin has 117,000 parameters and the option-A net the same")
    assert "add 1,400 (1.2%), for 118,400 in all" in other


def test_option_a_counts_cannot_differ_from_the_plain_twins() -> None:
    # Option A owns no weights, so a different count for it is a contradiction, not a sentence
    # (tests/test_anatomy.py proves the counts equal on the built models).
    with pytest.raises(ValueError, match="option A owns no weights"):
        ShortcutCost(20, 16, 269_000, 269_722, 272_474, 2)


@SETTINGS
@given(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10))
def test_shortcut_sentence_never_raises(a: int, b: int, projections: int) -> None:
    text = shortcut_sentence(ShortcutCost(20, 16, a, a, b, projections))
    _words(text)
    assert "different number" not in text


def test_expansion_sentence_by_hand_and_without_heads() -> None:
    demo = ExpansionDemo(4, 1, {"ResNet-34": 512, "ResNet-50": 2048}, "AttributeError: no expansion")
    text = expansion_sentence(demo)
    assert "so ResNet-50's head reads 2048 features where ResNet-34's reads 512" in text
    assert text.endswith("stops at once: `AttributeError: no expansion`.")
    assert "expansion = 4 and BasicBlock expansion = 1" in text
    bare = expansion_sentence(ExpansionDemo(0, 0, {}, ""))
    _words(bare)
    assert "head" not in bare


@SETTINGS
@given(st.integers(0, 64), st.integers(0, 64), st.dictionaries(LABEL, st.integers(0, 10**6), max_size=3))
def test_expansion_sentence_never_raises(bottleneck: int, basic: int, heads: dict) -> None:
    _words(expansion_sentence(ExpansionDemo(bottleneck, basic, heads, "no error")))


def test_pool_sentence_by_verdict() -> None:
    ok = PoolCheck("ResNet-50", 224, (2048, 7, 7), (2048, 1, 1), None, (2048, 1, 1))
    assert pool_sentence(ok) == (
        "ResNet-50 at 224×224: the last stage outputs 2048 channels at 7×7. AvgPool2d(7) covers the map exactly, "
        "as it was designed to. AdaptiveAvgPool2d(1) gives 2048×1×1 at any size."
    )
    partial = pool_sentence(PoolCheck("ResNet-20 (option A)", 32, (64, 8, 8), (64, 1, 1), None, (64, 1, 1)))
    assert "averages only the top-left 7×7 window, 77% of the map, and drops the rest" in partial
    wrong = pool_sentence(PoolCheck("ResNet-50", 448, (2048, 14, 14), (2048, 2, 2), "shapes differ", (2048, 1, 1)))
    assert "gives 2048×2×2, so the head receives 8,192 features instead of 2,048: `shapes differ`." in wrong
    error = pool_sentence(PoolCheck("ResNet-50", 32, (2048, 1, 1), None, "Output size is too small", (2048, 1, 1)))
    assert "AvgPool2d(7) raises: `Output size is too small`." in error


@SETTINGS
@given(st.tuples(SIZE, SIZE, SIZE), st.one_of(st.none(), st.tuples(SIZE, SIZE, SIZE)), st.one_of(st.none(), LABEL))
def test_pool_sentence_never_raises(final: tuple, fixed: tuple | None, error: str | None) -> None:
    _words(pool_sentence(PoolCheck("net", 32, final, fixed, error, (final[0], 1, 1))))


def test_backward_sentence_by_hand_and_swapped() -> None:
    same = backward_sentence(BackwardCheck(16, 0.0, 4.4e-16, 1.0))
    assert "same dL/dy (RMS 1): their dL/dW are identical, while" in same and "to within 4.4e-16." in same
    # the two gaps swapped: now dL/dW differ and the identity holds exactly
    swapped = backward_sentence(BackwardCheck(16, 4.4e-16, 0.0, 1.0))
    assert "their dL/dW differ by at most 4.4e-16" in swapped and "equals dL/dy to within 0." in swapped


def test_no_shortcut_1_in_dl_dw_holds_for_the_blocks_own_weights_only() -> None:
    # True for one block given the same dL/dy; in a whole net the 1 changes the dL/dy that reaches
    # earlier blocks, and with it their dL/dW.
    for gap in (0.0, 4.4e-16):
        text = backward_sentence(BackwardCheck(16, gap, 1e-16, 1.0))
        assert not text.endswith("it adds nothing to dL/dW."), text
        assert "adds nothing to this block's own dL/dW" in text
        assert "changes the dL/dy that reaches every earlier block, and with it their dL/dW" in text


def test_the_unrolled_sum_holds_within_a_stage_only() -> None:
    pre = BlockSketch("pre", True, ("BN", "ReLU", "3×3 conv, 64→64"), (), (64, 64))
    text = block_caption(pre)
    # He et al. 2016b eq. 4 assumes identity shortcuts: not across option A's padding or option B's projections.
    assert "within a stage" in text and "option A's zero-padding or option B's projection" in text
    assert "block and x_L = x_l" not in text  # the old, unqualified claim


@SETTINGS
@given(st.integers(0, 512), NUMBER, NUMBER, NUMBER)
def test_backward_sentence_never_raises(channels: int, weight_gap: float, identity_gap: float, rms: float) -> None:
    _words(backward_sentence(BackwardCheck(channels, weight_gap, identity_gap, rms)))


def test_every_sentence_is_looked_up_when_it_is_built(marking: None) -> None:
    sentences = [
        stem_sentence(R20, (("input", (3, 32, 32)), ("3×3 conv, 3→16", (16, 32, 32)))),
        shortcut_sentence(ShortcutCost(20, 16, 269_722, 269_722, 272_474, 2)),
        expansion_sentence(ExpansionDemo(4, 1, {"ResNet-34": 512, "ResNet-50": 2048}, "AttributeError: x")),
        pool_sentence(PoolCheck("ResNet-20 (option A)", 32, (64, 8, 8), (64, 1, 1), None, (64, 1, 1))),
        backward_sentence(BackwardCheck(16, 0.0, 1e-16, 1.0)),
    ]
    for s in sentences:
        assert s.startswith("«") and s.endswith("»"), s  # whole templates looked up now, none glued
