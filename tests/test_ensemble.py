"""The unraveled view against hand counts, and the ensemble reading of lesion numbers: swapped
numbers must say the other thing; zero, NaN, inf and empty results must become words."""

from __future__ import annotations

import math

import pytest

from resnet_viz.analysis.ensemble import decline, one_block_verdict, one_deletion, path_lengths, unravelled
from resnet_viz.analysis.lesion import BlockLesion, LesionResult, RandomLesion
from resnet_viz.engine.config import ModelConfig
from resnet_viz.engine.models import build_model
from resnet_viz.text.lesion import decline_sentence, ensemble_sentences, one_block_sentence, path_sentences

NAMES = ("plain-20", "residual-20")


def _study(base: float, singles: list[float], curve: list[float], down: tuple[float, ...] = (0.05,)) -> LesionResult:
    """Singles keep the resolution; `down` are downsampling blocks (never averaged); curve[k-1] at k."""
    blocks = [BlockLesion(f"blocks.{i}", a, False) for i, a in enumerate(singles)]
    blocks += [BlockLesion(f"blocks.{len(singles) + i}", a, True) for i, a in enumerate(down)]
    return LesionResult(base, tuple(blocks), tuple(RandomLesion(k, a, 0.01, 3) for k, a in enumerate(curve, 1)))


# Veit-like: the residual net keeps most, and falls smoothly; the plain net collapses at k = 1.
ROBUST = _study(0.92, [0.90, 0.88, 0.85, 0.89], [0.88, 0.80, 0.70, 0.62])
FRAGILE = _study(0.90, [0.20, 0.10, 0.15, 0.12], [0.14, 0.11, 0.10, 0.10])


@pytest.mark.parametrize(
    ("n", "counts"),
    [(0, [1]), (1, [1, 1]), (2, [1, 2, 1]), (3, [1, 3, 3, 1]), (4, [1, 4, 6, 4, 1]), (5, [1, 5, 10, 10, 5, 1])],
)
def test_path_counts_are_the_binomial_coefficients(n: int, counts: list[int]) -> None:
    d = path_lengths(n)
    assert list(d.counts) == counts and sum(d.counts) == d.total == 2**n
    assert list(d.fractions) == [c / 2**n for c in counts] and math.fsum(d.fractions) == pytest.approx(1.0)
    assert d.mean == n / 2


def test_large_n_is_exact_and_centred() -> None:
    d = path_lengths(54)  # ResNet-110: 54 blocks (Veit et al. §5)
    assert sum(d.counts) == 2**54 and d.counts[27] == math.comb(54, 27)
    assert max(range(55), key=d.fractions.__getitem__) == 27
    lo, hi, share = d.central()
    assert (lo, hi) == (20, 34) and share == sum(d.counts[20:35]) / 2**54 >= 0.95
    assert sum(d.counts[21:34]) / 2**54 < 0.95  # one narrower on each side would not hold 95%
    for bad in (-1, 2.0, True):
        with pytest.raises(ValueError):
            path_lengths(bad)  # type: ignore[arg-type]


def test_central_range_by_hand() -> None:
    # n = 4: counts 1, 4, 6, 4, 1 of 16; 2..2 holds 6/16, 1..3 holds 14/16 = 87.5%, 0..4 all of them.
    assert path_lengths(4).central(0.8) == (1, 3, 0.875)
    assert path_lengths(4).central() == (0, 4, 1.0)
    assert path_lengths(3).central(0.7) == (1, 2, 0.75)  # odd n: the two middle lengths first


@pytest.mark.parametrize(
    ("cfg", "n", "down"),
    [
        (ModelConfig(depth=20, width=4), 9, 2),
        (ModelConfig(depth=8, width=4, shortcut="B"), 3, 2),
        (ModelConfig(depth=14, width=4, residual=False), 6, 2),
    ],
)
def test_unravelled_counts_every_block(cfg: ModelConfig, n: int, down: int) -> None:
    dist, downsampling = unravelled(build_model(cfg))
    assert dist.n == n and downsampling == down


def test_path_sentences_name_the_numbers() -> None:
    lines = path_sentences(path_lengths(9), "residual-20", downsampling=2, shortcut="A", plain_name="plain-20")
    lo, hi, share = path_lengths(9).central()
    assert lines[0].startswith("residual-20 unravels into 2^9 = 512 paths")
    assert f"Binomial(9, 1/2) with mean 4.5, and {share:.1%} of them pass through {lo} to {hi} branches" in lines[0]
    assert "the 2 that change resolution still have a shortcut path (option A" in lines[1]
    assert lines[2] == "plain-20 has no shortcuts: one path, through all 9 blocks."
    big = path_sentences(path_lengths(54), "r", downsampling=2, shortcut="B")
    assert "2^54 ≈ 1.8 × 10^16 paths" in big[0] and "option B: a 1x1 projection" in big[1] and len(big) == 2
    assert len(path_sentences(path_lengths(3), "r", downsampling=0, shortcut="A")) == 1
    one = path_sentences(path_lengths(3), "r", downsampling=1, shortcut="A")[1]
    assert "the 1 that changes resolution still has a shortcut path" in one and "so it doubles" in one


def test_one_deletion_averages_only_blocks_that_keep_the_resolution() -> None:
    d = one_deletion(ROBUST)
    assert d.count == 4 and d.mean == pytest.approx(0.88) and d.kept == pytest.approx(0.88 / 0.92)


def test_one_block_sentence_and_its_swap() -> None:
    assert one_block_verdict(FRAGILE, ROBUST) == "residual"
    line = one_block_sentence(FRAGILE, ROBUST, NAMES)
    assert line == (
        "Deleting one block (mean over those that keep the resolution) took residual-20 from 92.0% to 88.0% "
        "(-4.3% of its intact accuracy) and plain-20 from 90.0% to 14.3% (-84.2% of its intact accuracy): "
        "the residual net keeps most of its accuracy. That is consistent with Veit et al.'s (2016, §4) reading of "
        "residual nets as ensemble-like collections of relatively shallow paths, but does not prove it: the paths "
        "share the blocks' weights and were trained together, so they are not independent networks. Deleting a "
        "block removes the paths through its branch, half of its 2^5 = 32, and the other half still carry the "
        "signal; the plain net has one path, through every block, and each deletion alters it."
    )
    # The same numbers the other way round: now the plain net is the robust one, and the sentence says so.
    assert one_block_verdict(ROBUST, FRAGILE) == "plain"
    swapped = one_block_sentence(ROBUST, FRAGILE, NAMES)
    assert "took residual-20 from 90.0% to 14.3%" in swapped and "plain-20 from 92.0% to 88.0%" in swapped
    assert swapped.endswith("here the plain net keeps more of its accuracy, the opposite of Veit et al. (2016, §4).")
    assert "ensemble" not in swapped


def test_one_block_same_and_more_robust_but_not_ensemble_like() -> None:
    a = _study(0.8, [0.60], [])
    b = _study(0.9, [0.68], [])  # kept 75.0% and 75.6%: within 2 points
    assert one_block_verdict(a, b) == "same"
    assert "both keep about the same share (within 2 points)" in one_block_sentence(a, b, NAMES)
    c = _study(0.9, [0.72], [])  # residual keeps 80%: more than plain's 75%, but loses 20%
    assert one_block_verdict(a, c) == "residual"
    line = one_block_sentence(a, c, NAMES)
    assert "the residual net keeps more, but losing 20.0% to one deletion is far from" in line
    assert "ensemble-like collections" not in line


def test_decline_shapes_from_the_numbers() -> None:
    smooth = decline(ROBUST)  # falls 4, 8, 10, 8 points: steepest 10 <= 2 x 7.5
    assert smooth.shape == "smooth" and smooth.between == (2, 3)
    assert smooth.steepest == pytest.approx(0.10) and smooth.average == pytest.approx(0.075)
    assert decline_sentence(ROBUST, "residual-20") == (
        "residual-20: accuracy falls smoothly with the number of random deletions (92.0% intact, 62.0% with 4 "
        "deleted); its steepest step, 10.0 points per block from k = 2 to 3, is within 2x the average fall of "
        "7.5 points per block."
    )
    cliff = decline(FRAGILE)
    assert cliff.shape == "cliff" and cliff.between == (0, 1) and cliff.steepest == pytest.approx(0.76)
    assert decline_sentence(FRAGILE, "plain-20") == (
        "plain-20: accuracy does not fall smoothly: it loses 76.0 points per block from k = 0 to 1, 3.8x its "
        "average fall of 20.0 points per block (90.0% intact, 10.0% with 4 deleted)."
    )
    # Uneven ks (default_ks spreads them for many blocks): the fall is per deleted block.
    spread = LesionResult(
        0.9, (), (RandomLesion(1, 0.88, 0, 3), RandomLesion(5, 0.80, 0, 3), RandomLesion(9, 0.70, 0, 3))
    )
    assert decline(spread).shape == "smooth" and decline(spread).steepest == pytest.approx(0.025)
    assert decline(_study(0.9, [], [0.9, 0.895, 0.9])).shape == "flat"
    assert decline(_study(0.5, [], [0.6, 0.7, 0.8])).shape == "rises"
    assert decline(_study(0.5, [], [0.4, 0.3])).shape == "few"
    assert "too few values of k" in decline_sentence(_study(0.5, [], [0.4]), "p")


def test_ensemble_sentences_swap() -> None:
    lines = ensemble_sentences(FRAGILE, ROBUST, NAMES)
    swapped = ensemble_sentences(ROBUST, FRAGILE, NAMES)
    assert "consistent with Veit et al.'s (2016, §4) reading" in lines[0] and "opposite" in swapped[0]
    assert "falls smoothly" in lines[1] and "does not fall smoothly" in lines[2]
    assert "does not fall smoothly" in swapped[1] and "falls smoothly" in swapped[2]
    assert lines[1].startswith("residual-20:") and lines[2].startswith("plain-20:")


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    "odd",
    [
        LesionResult(0.0, (), ()),  # empty
        LesionResult(0.0, (BlockLesion("blocks.0", 0.0, False),), (RandomLesion(1, 0.0, 0.0, 1),)),  # all zero
        LesionResult(NAN, (BlockLesion("blocks.0", NAN, False),), (RandomLesion(1, NAN, NAN, 1),)),
        LesionResult(INF, (BlockLesion("blocks.0", INF, False),), (RandomLesion(1, -INF, 0.0, 1),)),
        LesionResult(0.9, (BlockLesion("blocks.0", 0.5, True),), ()),  # only a downsampling block
        _study(0.9, [NAN, 0.8], [0.7, NAN, 0.5]),
    ],
)
def test_odd_numbers_become_words(odd: LesionResult) -> None:
    for plain, residual in ((odd, ROBUST), (ROBUST, odd), (odd, odd)):
        lines = ensemble_sentences(plain, residual, NAMES)
        assert len(lines) == 3 and all(isinstance(line, str) and line for line in lines)
        assert not any(word in " ".join(lines) for word in ("nan%", "inf%", "None"))
    assert one_block_verdict(odd, ROBUST) in (None, "plain", "residual", "same")


def test_odd_numbers_say_what_is_missing() -> None:
    empty = LesionResult(0.0, (), ())
    assert one_block_sentence(empty, ROBUST, NAMES) == (
        "The two nets cannot be compared on one deletion. plain-20 has no block that keeps the resolution to delete."
    )
    assert one_block_sentence(ROBUST, empty, NAMES) == (
        "The two nets cannot be compared on one deletion. residual-20 has no block that keeps the resolution to delete."
    )
    zero = LesionResult(0.0, (BlockLesion("blocks.0", 0.0, False),), ())
    assert "plain-20's intact accuracy is 0.00%: there is no accuracy to lose" in one_block_sentence(
        zero, ROBUST, NAMES
    )
    nan = LesionResult(NAN, (BlockLesion("blocks.0", 0.5, False),), (RandomLesion(1, 0.4, 0.0, 1),))
    assert "plain-20's intact accuracy is not a number" in one_block_sentence(nan, ROBUST, NAMES)
    assert (
        decline_sentence(nan, "p")
        == "p: the accuracy intact is not a finite number, so the curve's shape cannot be judged."
    )
    assert decline_sentence(empty, "p") == "p: no random deletions were measured."
    all_nan = LesionResult(0.9, (BlockLesion("blocks.0", NAN, False),), ())
    assert "No single deletion in plain-20 gave a finite accuracy." in one_block_sentence(all_nan, ROBUST, NAMES)
