"""The anatomy page's sentences (resnet_viz.text.anatomy): hand-made measurements give the expected
words, swapped or changed numbers give other words, and hypothesis feeds every builder zeros,
infinities, NaNs, huge numbers and empty traces: words come back, never an exception, a printed
nan or inf, a None or an unfilled placeholder. The real models' numbers are checked in
test_anatomy.py."""

from __future__ import annotations

import math
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resnet_viz.anatomy import NetSpec, ShortcutCost
from resnet_viz.anatomy_lessons import BackwardCheck, ExpansionDemo, PoolCheck
from resnet_viz.text.anatomy import (
    backward_sentence,
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
    other = shortcut_sentence(ShortcutCost(20, 16, 269_000, 269_722, 272_474, 2))
    assert "the option-A net a different number, 269,722" in other and "269,000 parameters" in other


@SETTINGS
@given(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10))
def test_shortcut_sentence_never_raises(plain: int, a: int, b: int, projections: int) -> None:
    _words(shortcut_sentence(ShortcutCost(20, 16, plain, a, b, projections)))


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
