"""The analysis page's sentences (resnet_viz.text.lesion, .construction and .landscape) never raise:
hypothesis feeds every builder lesion studies, layer responses, near-identity measurements and
loss slices made of zeros, infinities, NaNs, tiny and huge numbers, and empty lists; each must
come back as words, never an exception, a printed nan or inf, a None or an unfilled placeholder.
The numbers in the sentences are checked against hand-made results in test_lesion.py,
test_ensemble.py, test_construction.py and test_landscape.py."""

from __future__ import annotations

import math
import re

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resnet_viz.analysis.construction import BlockChange, NearIdentity
from resnet_viz.analysis.ensemble import path_lengths
from resnet_viz.analysis.landscape import Slice
from resnet_viz.analysis.lesion import BlockLesion, LesionResult, RandomLesion
from resnet_viz.text import numbers
from resnet_viz.text.construction import identity_sentences
from resnet_viz.text.landscape import landscape_sentences
from resnet_viz.text.lesion import (
    decline_sentence,
    ensemble_sentences,
    lesion_sentences,
    one_block_sentence,
    path_sentences,
    paths,
    response_sentences,
)

ODD = st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, 1e-300, 5e-324, 1e300, -1.0, 1.0])
NUMBER = st.one_of(ODD, st.floats(min_value=1e-12, max_value=1e12), st.floats(0.0, 1.0))
PRINTED = re.compile(r"(?<![A-Za-z])(nan|inf|None)(?![A-Za-z])")
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = ("plain-20", "residual-20")


def _words(items: list[str] | str) -> None:
    for text in [items] if isinstance(items, str) else items:
        assert isinstance(text, str) and text
        assert not PRINTED.search(text), text  # a number that is not finite is said in words
        assert "{" not in text and "}" not in text, text  # every placeholder filled


@st.composite
def lesions(draw: st.DrawFn) -> LesionResult:
    blocks = draw(st.lists(st.tuples(NUMBER, st.booleans()), max_size=5))
    ks = sorted(draw(st.sets(st.integers(1, 12), max_size=5)))
    return LesionResult(
        draw(NUMBER),
        tuple(BlockLesion(f"blocks.{i}", acc, down) for i, (acc, down) in enumerate(blocks)),
        tuple(RandomLesion(k, draw(NUMBER), draw(NUMBER), draw(st.integers(0, 10))) for k in ks),
    )


@st.composite
def near_identities(draw: st.DrawFn) -> NearIdentity:
    value = st.one_of(st.none(), NUMBER)
    rows = draw(st.lists(st.tuples(value, value, st.booleans()), max_size=5))
    return NearIdentity(
        draw(st.booleans()), tuple(BlockChange(f"blocks.{i}", b, o, d) for i, (b, o, d) in enumerate(rows)), 64
    )


@st.composite
def slices(draw: st.DrawFn, grid: int | None = None, dims: int | None = None) -> Slice:
    grid = grid or draw(st.sampled_from([3, 5, 7]))
    dims = dims or draw(st.sampled_from([1, 2]))
    a = np.linspace(-1.0, 1.0, grid)
    shape = (grid,) if dims == 1 else (grid, grid)
    loss = np.array(draw(st.lists(NUMBER, min_size=math.prod(shape), max_size=math.prod(shape)))).reshape(shape)
    return Slice(tuple(a), tuple(a) if dims == 2 else None, loss, np.zeros(shape), 0, 10)


@SETTINGS
@given(lesions(), lesions())
def test_lesion_and_ensemble_sentences_never_raise(plain: LesionResult, residual: LesionResult) -> None:
    _words(lesion_sentences(plain, residual, NAMES))
    lines = ensemble_sentences(plain, residual, NAMES)
    assert len(lines) == 3
    _words(lines)
    _words(one_block_sentence(plain, residual))
    _words(decline_sentence(plain, "p"))


def test_empty_and_all_zero_lesion_studies_are_words() -> None:
    empty = LesionResult(0.0, (), ())
    zero = LesionResult(0.0, (BlockLesion("blocks.0", 0.0, False),), (RandomLesion(1, 0.0, 0.0, 1),))
    for a, b in ((empty, empty), (zero, zero), (empty, zero)):
        _words(lesion_sentences(a, b) + ensemble_sentences(a, b))
    assert lesion_sentences(zero, zero, NAMES)[0] == (
        "plain-20: 0.00% with every block; deleting its one block that keeps the resolution leaves 0.00%."
    )
    nan = LesionResult(0.9, (BlockLesion("blocks.0", math.nan, False),), ())
    assert lesion_sentences(nan, nan, NAMES)[0] == (
        "plain-20: 90.0% with every block; no deletion of a block that keeps the resolution gave a finite accuracy."
    )


@SETTINGS
@given(st.integers(0, 400), st.integers(0, 400), st.sampled_from(["A", "B"]), st.sampled_from([None, "plain-20"]))
def test_path_sentences_never_raise(n: int, down: int, shortcut: str, plain: str | None) -> None:
    _words(
        path_sentences(path_lengths(n), "residual-20", downsampling=min(down, n), shortcut=shortcut, plain_name=plain)
    )


def test_paths_exact_then_rounded() -> None:
    assert paths(0) == "2^0 = 1" and paths(9) == "2^9 = 512" and paths(49) == "2^49 = 562,949,953,421,312"
    assert paths(54) == "2^54 ≈ 1.8 × 10^16" and paths(1000).startswith("2^1000 ≈ 1.1 × 10^301")


@SETTINGS
@given(st.lists(st.tuples(st.just("c"), NUMBER), max_size=4), st.lists(st.tuples(st.just("c"), NUMBER), max_size=4))
def test_response_sentences_never_raise(plain: list, residual: list) -> None:
    lines = response_sentences(plain, residual, NAMES)
    assert len(lines) in ((0,) if not plain or not residual else (1, 2))
    for line in lines:
        _words(line)


@SETTINGS
@given(near_identities(), near_identities())
def test_identity_sentences_never_raise(plain: NearIdentity, residual: NearIdentity) -> None:
    lines = identity_sentences(plain, residual, NAMES)
    assert len(lines) in (2, 3)
    _words(lines)


def test_empty_near_identity_is_words() -> None:
    empty = NearIdentity(False, (), 0)
    assert identity_sentences(empty, empty, NAMES) == [
        "No block of residual-20 gave a defined ratio, so ||F(x)|| / ||x|| is not defined there.",
        "No block of plain-20 keeps the shape, so ||F(x)|| / ||x|| is not defined there.",
    ]


@settings(SETTINGS, max_examples=60)
@given(st.data(), st.sampled_from([3, 5, 7]), st.sampled_from([1, 2]))
def test_landscape_sentences_never_raise(data: st.DataObject, grid: int, dims: int) -> None:
    plain, residual = data.draw(slices(grid, dims)), data.draw(slices(grid, dims))
    lines = landscape_sentences(plain, residual, NAMES)
    _words(lines)
    assert lines[-1].startswith("Curvature at the trained weights")


def test_formats_say_words_for_what_is_not_a_number() -> None:
    for fmt in (numbers.percent, numbers.share, numbers.change, numbers.points, numbers.count):
        assert fmt(math.nan) == "not a number" and fmt(math.inf) == "not finite" and fmt(None) == "undefined"
    assert numbers.percent(0.375) == "37.5%" and numbers.share(0.045) == "4.5%" and numbers.share(1.3) == "130%"
    assert numbers.change(-0.0434) == "-4.3%" and numbers.change(0.12) == "+12.0%" and numbers.points(0.1) == "10.0"
    assert numbers.count(269_722) == "269,722"
    for fmt in (numbers.share, numbers.change, numbers.points):
        _words([fmt(1e300), fmt(-1e300), fmt(5e-324)])


def test_every_sentence_is_looked_up_when_it_is_built(marking: None) -> None:
    robust = LesionResult(
        0.9, (BlockLesion("blocks.0", 0.85, False),), tuple(RandomLesion(k, 0.9 - k / 10, 0.01, 3) for k in (1, 2, 3))
    )
    fragile = LesionResult(0.9, (BlockLesion("blocks.0", 0.1, False),), (RandomLesion(1, 0.1, 0.0, 1),))
    near = NearIdentity(True, (BlockChange("blocks.0", 0.1, 0.1, False),), 8)
    far = NearIdentity(False, (BlockChange("blocks.0", 1.0, 1.0, False),), 8)
    a = np.linspace(-1.0, 1.0, 5)
    bowl = [Slice(tuple(a), tuple(a), k * np.add.outer(a**2, a**2), np.zeros((5, 5)), 0, 10) for k in (1.0, 9.0)]
    sentences = [
        *lesion_sentences(fragile, robust),
        *ensemble_sentences(fragile, robust),
        one_block_sentence(LesionResult(0.0, (), ()), robust),
        *path_sentences(path_lengths(9), "r", downsampling=2, shortcut="A", plain_name="p"),
        *response_sentences([("c", 1.0)], [("c", 0.5)]),
        *identity_sentences(far, near),
        *landscape_sentences(*bowl),
    ]
    assert len(sentences) >= 14
    for s in sentences:
        assert s.startswith("«") and s.endswith("»"), s  # whole templates looked up now, none glued


def test_a_net_with_one_block_that_keeps_the_resolution_is_said_in_the_singular() -> None:
    one = LesionResult(0.8, (BlockLesion("blocks.0", 0.2, False), BlockLesion("blocks.1", 0.1, True)), ())
    two = LesionResult(0.8, (BlockLesion("blocks.0", 0.2, False), BlockLesion("blocks.1", 0.4, False)), ())
    [line1, *_] = lesion_sentences(one, two, ("plain-8", "residual-8"))
    assert "deleting its one block that keeps the resolution leaves 20.0%, 25% of the intact accuracy" in line1
    assert "over its 1" not in line1
    line2 = lesion_sentences(one, two, ("plain-8", "residual-8"))[1]
    assert "leaves 30.0% on average over its 2 (worst 20.0%)" in line2


def test_a_net_with_one_measured_block_is_said_in_the_singular() -> None:
    plain = NearIdentity(False, (BlockChange("blocks.0", 1.34, 1.13, False),), 8)
    residual = NearIdentity(
        True, (BlockChange("blocks.0", 1.2, 0.98, False), BlockChange("blocks.1", 1.68, 1.3, False)), 8
    )
    lines = identity_sentences(plain, residual, ("plain-8", "residual-8"))
    said = " ".join(lines)
    assert "In plain-8 the one block that keeps the shape (blocks.0) has an F(x) of 134% of its input's norm" in said
    assert "over its 1" not in said and "from 134% at blocks.0 to 134% at blocks.0" not in said
    assert "median over its 2 blocks; from 120% at blocks.0 to 168% at blocks.1" in said
    residual_one = NearIdentity(True, (BlockChange("blocks.0", 0.5, 0.4, False),), 8)
    assert "In residual-8 the one block's branch (blocks.0) changes its input by 50%" in " ".join(
        identity_sentences(plain, residual_one, ("plain-8", "residual-8"))
    )
