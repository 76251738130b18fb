"""URL settings round trip and the run's plain-language reading (numbers from the run itself)."""

from __future__ import annotations

import pytest

from resnet_viz.settings import TwinSettings, from_query, to_query
from resnet_viz.reading import identity_share, input_output_ratio, reading
from resnet_viz.train import History


def test_defaults_show_the_effect_and_build_twins() -> None:
    s = TwinSettings()
    assert (s.dataset, s.depth, s.models) == ("digits", 56, "both")
    plain, res = s.model_configs()
    assert (plain.kind, res.kind) == ("plain", "residual") and plain.depth == res.depth == 56
    assert s.train_config().epochs is None and TwinSettings(epochs=2).train_config().epochs == 2


def test_query_round_trip_keeps_only_changes() -> None:
    s = TwinSettings(depth=20, bn=False, lr=0.05, models="residual")
    q = to_query(s)
    assert q == {"depth": "20", "models": "residual", "bn": "false", "lr": "0.05"}
    back, problems = from_query(q)
    assert back == s and problems == []


@pytest.mark.parametrize(
    ("query", "fragment"),
    [({"depth": "57"}, "6n+2"), ({"depth": "abc"}, "whole number"), ({"bn": "maybe"}, "true or false"),
     ({"dataset": "imagenet"}, "digits"), ({"models": "both,plain"}, "models"), ({"lr": "-1"}, "lr")],
)
def test_bad_url_values_are_dropped_with_a_sentence(query, fragment) -> None:
    settings, problems = from_query({**query, "seed": "3"})
    assert settings == TwinSettings(seed=3)  # the bad value fell back to the default, the good one stayed
    assert len(problems) == 1 and fragment in problems[0] and next(iter(query)) in problems[0]


def _hist(name: str, losses, accs, *, final=None, status="finished", rms=None, ident=None, branch=None,
          gx=None) -> History:  # fmt: skip
    h = History(name, step=list(range(1, len(losses) + 1)), loss=list(losses), acc=list(accs), status=status)
    if final:
        h.final = final
    if rms:
        h.probe_step = [1, 10][: len(rms)]
        h.grad_rms = rms
        h.identity_grad = ident or [[] for _ in rms]
        h.branch_grad = branch or [[] for _ in rms]
        h.grad_x_rms = gx or []
    return h


def test_reading_compares_final_losses_from_the_numbers() -> None:
    plain = _hist("plain-56", [2.0] * 10, [0.2] * 10, final={"train_loss": 1.62, "train_acc": 0.31})
    res = _hist("residual-56", [0.1] * 10, [0.99] * 10, final={"train_loss": 0.05, "train_acc": 0.995})
    text = reading([plain, res])
    assert text[0] == ("residual-56 reached the lowest training loss (0.050 on the whole training set); "
                       "plain-56 the highest (1.620), 32.4x higher.")  # fmt: skip
    assert text[1] == "Training accuracy: plain-56 31.0%, residual-56 99.5%."
    # swap the numbers and the sentence swaps too: nothing is canned
    plain.final, res.final = res.final, plain.final
    assert reading([plain, res])[0].startswith("plain-56 reached the lowest")


def test_reading_reports_divergence_and_gradient_direction() -> None:
    bad = _hist("plain-20", [2.3, 2.4], [0.1, 0.1], status="diverged")
    bad.diverged_at = 3
    grow = _hist("plain-56", [1.0], [0.5], final={"train_loss": 1.0, "train_acc": 0.5},
                 rms=[[8.0, 1.0, 2.0, 9.0], [1.0, 1.0, 4.0, 9.0]])  # fmt: skip
    text = reading([bad, grow])
    assert text[0].startswith("plain-20 diverged at step 3")
    assert text[-1] == ("In plain-56 at step 1, the gradient per weight at the first layer was 4x larger than at the "
                        "last conv layer: it grew toward the input; at step 10 the first/last ratio was 0.25.")  # fmt: skip


def test_reading_names_explosion_at_init_and_whether_it_calmed() -> None:
    calm = _hist("plain-56", [1.0], [0.5], rms=[[1.0] * 4, [1.0] * 4], gx=[[1380.0, 2.0, 1.0], [3.0, 2.0, 1.0]])
    text = reading([calm])[-1]
    assert text.startswith("In plain-56 at step 1, dL/dx at the first block was 1,380x larger than at the last block: "
                           "it exploded toward the input; at step 10 the first/last ratio was 3: it calmed down.")
    assert "candidate explanations of degradation, not evidence that the gradient is healthy" in text
    stuck = _hist("plain-56", [1.0], [0.5], rms=[[1.0] * 4, [1.0] * 4], gx=[[1380.0, 2.0, 1.0], [1000.0, 2.0, 1.0]])
    assert "it had not calmed down" in reading([stuck])[-1]
    swapped = _hist("plain-56", [1.0], [0.5], rms=[[1.0] * 4, [1.0] * 4], gx=[[1.0, 2.0, 1380.0], [1.0, 2.0, 3.0]])
    text = reading([swapped])[-1]
    assert "1,380x smaller than at the last block: it vanished toward the input" in text
    assert "calmed" not in text and "candidate explanations" not in text


def test_reading_states_the_skip_strength_effect_when_alpha_is_not_one() -> None:
    from resnet_viz.config import ModelConfig

    h = _hist("residual-56", [1.0], [0.5], rms=[[1.0] * 4], gx=[[300.0] + [1.0] * 26])
    text = " ".join(reading([h], [ModelConfig(depth=56, residual=True, alpha=1.5)]))
    assert "alpha = 1.5" in text and "1.5^26 = 37,900x over 26 blocks" in text
    assert "skip strength" not in " ".join(reading([h], [ModelConfig(depth=56, residual=True)]))


@pytest.mark.parametrize("first", [0.0, float("nan"), float("inf")])
def test_reading_turns_zero_and_non_finite_gradients_into_words(first: float) -> None:
    # /live?bn=false&init=default&depth=56: the first layer's gradient is exactly 0.
    dead = _hist("plain-56", [2.3], [0.1], rms=[[first, 1.0, 1.0, 1.0]] * 2, gx=[[first, 1.0, 1.0]] * 2)
    text = reading([dead])[-1]
    assert ("no gradient at all" in text) if first == 0 else ("no ratio can be given" in text)


def test_identity_share_and_ratio_by_hand() -> None:
    h = _hist("residual-8", [1.0], [0.5], rms=[[1.0, 2.0, 3.0]], ident=[[3.0, 1.0]], branch=[[1.0, 1.0]])
    assert identity_share(h) == pytest.approx((0.75 + 0.5) / 2)
    assert input_output_ratio([1.0, 2.0, 4.0, 7.0]) == pytest.approx(0.25)
    assert input_output_ratio([1.0, 7.0]) is None
    assert "62.5%" in reading([h])[-1]
