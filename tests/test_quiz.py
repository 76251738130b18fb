"""Predict-then-reveal questions: answers from the numbers, by hand."""

from __future__ import annotations

import pytest

from resnet_viz.quiz import DIRECTION, WHERE, direction, grade, smallest_gradient


def test_smallest_gradient_is_located_by_thirds_without_the_head() -> None:
    # 7 layers, the last is the head (ignored even though it is the smallest)
    q = smallest_gradient("plain-8", [1e-5, 1e-3, 1e-2, 1e-2, 1e-2, 1e-1, 1e-9], "k")
    assert q.answer == WHERE[0] and "layer 1 of 7" in q.why
    assert smallest_gradient("x", [5.0, 4.0, 3.0, 0.1, 2.0, 9.0, 1e-9], "k").answer == WHERE[1]
    assert smallest_gradient("x", [5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 1e-9], "k").answer == WHERE[2]
    assert smallest_gradient("x", [1.0, 2.0], "k") is None  # too few layers to ask


@pytest.mark.parametrize(("rms", "answer"), [
    ([1e-4, 1e-2, 1.0, 5.0], DIRECTION[0]),  # first / last conv = 1e-4: shrank
    ([3.0, 2.0, 2.0, 5.0], DIRECTION[1]),  # 1.5x: about the same
    ([40.0, 4.0, 2.0, 5.0], DIRECTION[2]),  # 20x: grew
])  # fmt: skip
def test_direction_follows_the_first_to_last_conv_ratio(rms, answer) -> None:
    q = direction("plain-56", rms, "k")
    assert q.answer == answer and q.key == "direction:k"


def test_grading() -> None:
    q = direction("n", [40.0, 4.0, 2.0, 5.0], "k")
    assert grade(q, None) is None and grade(q, DIRECTION[2]) is True and grade(q, DIRECTION[0]) is False
    with pytest.raises(ValueError, match="not one of the options"):
        grade(q, "maybe")
