"""Predict-then-reveal questions: answers from the numbers, by hand, graded by option key."""

from __future__ import annotations

import pytest

from resnet_viz.teaching.quiz import direction, grade, smallest_gradient


def test_smallest_gradient_is_located_by_thirds_of_the_blocks() -> None:
    q = smallest_gradient("plain-8", [1e-5, 1e-3, 1e-2, 1e-2, 1e-2, 1e-1], "k")
    assert q.answer == "first" and "block 1 of 6" in q.why
    assert smallest_gradient("x", [5.0, 4.0, 0.1, 3.0, 2.0, 9.0], "k").answer == "middle"
    assert smallest_gradient("x", [5.0, 4.0, 3.0, 2.0, 1.0, 0.5], "k").answer == "last"
    assert smallest_gradient("x", [1.0, 2.0], "k") is None  # too few blocks to ask
    assert smallest_gradient("x", [1.0, float("nan"), 2.0], "k") is None  # never a guess over a gap


@pytest.mark.parametrize(
    ("gx", "answer"),
    [
        ([1e-4, 1e-2, 1.0], "shrinks"),  # first / last block = 1e-4: vanishing
        ([0.0, 1e-2, 1.0], "shrinks"),  # no gradient at all reached the first block
        ([1.5, 2.0, 1.0], "same"),  # 1.5x: about the same
        ([1400.0, 4.0, 1.0], "grows"),  # explosion at initialisation counts as growth
    ],
)
def test_direction_follows_the_first_to_last_block_ratio(gx, answer) -> None:
    q = direction("plain-56", gx, "k")
    assert q.answer == answer and q.key == "direction:k"


def test_swapped_numbers_swap_the_answer() -> None:
    assert direction("p", [1e-3, 1.0], "k").answer == "shrinks"
    assert direction("p", [1.0, 1e-3], "k").answer == "grows"


@pytest.mark.parametrize("gx", [[], [1.0], [float("nan"), 1.0], [1.0, 0.0], [float("inf"), 1.0]])
def test_no_question_without_usable_numbers(gx) -> None:
    assert direction("p", gx, "k") is None


def test_grading_by_key() -> None:
    q = direction("n", [40.0, 4.0, 2.0], "k")
    assert grade(q, None) is None and grade(q, "grows") is True and grade(q, "shrinks") is False
    assert q.label("grows") == "it grows toward the input"
    with pytest.raises(ValueError, match="not one of the options"):
        grade(q, "it grows toward the input")  # the displayed text is not a key
