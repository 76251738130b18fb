"""URL settings round trip and the run's plain-language reading (numbers from the run itself)."""

from __future__ import annotations

import dataclasses

import pytest
from helpers import from_query, sweep_from_query, to_query

from resnet_viz.engine.history import History
from resnet_viz.teaching.settings import RECIPES, SWEEP_LINK, TwinSettings, twin_defaults
from resnet_viz.text.live import reading
from resnet_viz.text.numbers import first_last


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
    [
        ({"depth": "57"}, "6n+2"),
        ({"depth": "abc"}, "whole number"),
        ({"bn": "maybe"}, "true or false"),
        ({"dataset": "imagenet"}, "digits"),
        ({"models": "both,plain"}, "models"),
        ({"lr": "-1"}, "lr"),
    ],
)
def test_bad_url_values_are_dropped_with_a_sentence(query, fragment) -> None:
    settings, problems = from_query({**query, "seed": "3"})
    assert settings == TwinSettings(seed=3)  # the bad value fell back to the default, the good one stayed
    assert len(problems) == 1 and fragment in problems[0] and next(iter(query)) in problems[0]


def _hist(
    name: str, losses, accs, *, final=None, status="finished", rms=None, ident=None, branch=None, gx=None
) -> History:
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
    assert text[0] == (
        "residual-56 reached the lowest training loss (0.050 on the whole training set); "
        "plain-56 the highest (1.620), 32.4x higher."
    )
    assert text[1] == "Training accuracy on the whole training set: plain-56 31.0%, residual-56 99.5%."
    plain.final, res.final = {}, {}  # measured over the last batches only: the sentences say so (issue 26)
    assert reading([plain, res])[0].startswith(
        "residual-56 reached the lowest training loss (0.100, mean over the last"
    )
    assert (
        reading([plain, res])[1]
        == "Training accuracy, mean over the last 10 batches: plain-56 20.0%, residual-56 99.0%."
    )
    plain.final = {"train_loss": 1.62, "train_acc": 0.31}
    res.final = {"train_loss": 0.05, "train_acc": 0.995}
    # swap the numbers and the sentence swaps too: nothing is canned
    plain.final, res.final = res.final, plain.final
    assert reading([plain, res])[0].startswith("plain-56 reached the lowest")


def test_reading_reports_divergence_and_gradient_direction() -> None:
    bad = _hist("plain-20", [2.3, 2.4], [0.1, 0.1], status="diverged")
    bad.diverged_at = 3
    grow = _hist(
        "plain-56",
        [1.0],
        [0.5],
        final={"train_loss": 1.0, "train_acc": 0.5},
        rms=[[8.0, 1.0, 2.0, 9.0], [1.0, 1.0, 4.0, 9.0]],
    )
    text = reading([bad, grow])
    assert text[0].startswith("plain-20 diverged at step 3")
    assert text[-1] == (
        "In plain-56 at step 1, the gradient per weight at the first layer was 4x larger than at the "
        "last conv layer: it grew toward the input. At step 10 the first/last ratio was 0.25."
    )


def test_reading_names_explosion_at_init_and_whether_it_calmed() -> None:
    calm = _hist("plain-56", [1.0], [0.5], rms=[[1.0] * 4, [1.0] * 4], gx=[[1380.0, 2.0, 1.0], [3.0, 2.0, 1.0]])
    text = reading([calm])[-1]
    assert text.startswith(
        "In plain-56 at step 1, dL/dx at the first block was 1,380x larger than at the last block: "
        "it exploded toward the input. At step 10 the first/last ratio was 3: it calmed down."
    )
    assert "candidate explanations of degradation, not evidence that the gradient is healthy" in text
    stuck = _hist("plain-56", [1.0], [0.5], rms=[[1.0] * 4, [1.0] * 4], gx=[[1380.0, 2.0, 1.0], [1000.0, 2.0, 1.0]])
    assert "it had not calmed down" in reading([stuck])[-1]
    swapped = _hist("plain-56", [1.0], [0.5], rms=[[1.0] * 4, [1.0] * 4], gx=[[1.0, 2.0, 1380.0], [1.0, 2.0, 3.0]])
    text = reading([swapped])[-1]
    assert "1,380x smaller than at the last block: it vanished toward the input" in text
    assert "calmed" not in text and "candidate explanations" not in text


def test_reading_states_the_skip_strength_effect_when_alpha_is_not_one() -> None:
    from resnet_viz.engine.config import ModelConfig

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
    assert h.identity_share() == pytest.approx((0.75 + 0.5) / 2)
    assert first_last([1.0, 2.0, 4.0, 7.0], skip_head=True) == pytest.approx(0.25)  # the head (7) left out
    assert first_last([1.0, 7.0], skip_head=True) is None
    assert "62.5%" in reading([h])[-1]


# -- links that do not lie (issue 12 §5) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("lr", "1e9", "lr must be from 1e-05 to 10 on this page"),
        ("batch_size", "1e9", "batch_size must be one of 16, 32, 64, 128, 256, 512"),
        ("steps", "1e12", "steps must be from 1 to 100,000"),
        ("steps", "inf", "steps must be a finite number"),
        ("width", "1000", "width must be one of 4, 8, 16, 32, 64"),
        ("depth", "116", "6n+2 layers"),
        ("seed", "-1", "seed must be from 0 to 10,000"),
        ("seed", "3.5", "whole number"),
        ("epochs", "nan", "epochs must be a finite number"),
        ("alpha", "5", "alpha must be from 0 to 2"),
        ("bn", "maybe", "true or false"),
        ("dataset", "folder", "resnet-viz train --dataset folder"),
    ],
)
def test_out_of_range_link_values_are_named_with_the_reason(key, value, fragment) -> None:
    # Each of these was dropped silently by the widget before: say which and why.
    settings, problems = from_query({key: value})
    assert settings == TwinSettings()
    assert problems == [problems[0]] and problems[0].startswith(f"Ignored {key}={value} from the link:")
    assert fragment in problems[0]


def test_dataset_links_hold_the_key_and_old_label_links_still_open() -> None:
    shapes = twin_defaults("shapes")
    assert to_query(shapes) == {"dataset": "shapes"}
    assert from_query({"dataset": "shapes"}) == (shapes, [])
    # What Streamlit's own binding wrote into links before (the selectbox's label) reads as the key.
    assert from_query({"dataset": "Shapes (generated, with masks)"}) == (shapes, [])


def test_each_dataset_opens_with_its_recipe_and_links_keep_what_differs_from_it() -> None:
    assert twin_defaults("digits") == TwinSettings()  # the page's first view is the digits recipe
    shapes = twin_defaults("shapes")
    assert (shapes.depth, shapes.lr, shapes.steps) == (
        RECIPES["shapes"].depth,
        RECIPES["shapes"].lr,
        RECIPES["shapes"].steps,
    )
    for name in RECIPES:
        twin_defaults(name).validate()  # every recipe lies inside what the page offers
    # A value equal to the digits default but not to the shapes recipe must stay in a shapes link.
    chosen = dataclasses.replace(shapes, lr=0.1, depth=56)
    query = to_query(chosen)
    assert query == {"dataset": "shapes", "lr": "0.1", "depth": "56"}
    assert from_query(query) == (chosen, [])
    # A dataset without a recipe of its own opens with the digits numbers; a bad dataset keeps them too.
    assert from_query({"dataset": "mnist", "seed": "3"})[0] == dataclasses.replace(
        TwinSettings(), dataset="mnist", seed=3
    )
    settings, problems = from_query({"dataset": "nope", "lr": "0.2"})
    assert settings == dataclasses.replace(TwinSettings(), lr=0.2) and len(problems) == 1


def test_whole_number_spellings_are_whole_numbers() -> None:
    assert from_query({"steps": "1e3", "seed": "7.0"}) == (TwinSettings(steps=1000, seed=7), [])


def test_the_widget_ranges_lie_inside_what_the_configs_accept() -> None:
    # Every extreme a widget offers builds valid configs, so the page never offers what training refuses.
    from resnet_viz.teaching.settings import LIVE_BOUNDS, SWEEP_BOUNDS, Span, SweepSettings

    for name, bound in LIVE_BOUNDS.items():
        for v in (bound.lo, bound.hi) if isinstance(bound, Span) else bound.values:
            TwinSettings(models="residual", **{name: v}).validate()
    for name, bound in SWEEP_BOUNDS.items():
        for v in (bound.lo, bound.hi) if isinstance(bound, Span) else bound.values:
            value = (v,) if name in ("depths", "kinds") else v
            SweepSettings(**{name: value}).validate()
            SweepSettings(**{"budget": "epochs", name: value}).validate()  # amount counts epochs then


def test_sweep_links_report_each_dropped_value_and_keep_the_rest() -> None:
    from resnet_viz.teaching.settings import SweepSettings, sweep_defaults

    s, problems = sweep_from_query(
        {
            "sw_depths": ["57", "20"],
            "sw_seeds": "99",
            "sw_lr": "nan",
            "sw_dataset": "folder",
            "sw_kinds": ["plain", "resnet"],
            "sw_width": "16",
        }
    )
    assert s == SweepSettings(depths=(20,), kinds=("plain",), width=16)
    assert [p.split(" from the link")[0] for p in problems] == [
        "Ignored sw_dataset=folder",
        "Ignored sw_depths=57",
        "Ignored sw_kinds=resnet",
        "Ignored sw_seeds=99",
        "Ignored sw_lr=nan",
    ]
    assert "6n+2" in problems[1] and "from 1 to 5" in problems[3] and "finite" in problems[4]
    chosen = dataclasses.replace(sweep_defaults("shapes"), depths=(8, 14), augment=True, budget="epochs", amount=3)
    query = SWEEP_LINK.write(chosen)  # what differs from the shapes recipe
    assert query == {
        "sw_dataset": "shapes",
        "sw_depths": ["8", "14"],
        "sw_budget": "epochs",
        "sw_amount": "3",
        "sw_augment": "true",
    }
    assert sweep_from_query(query) == (chosen, [])
    assert chosen.sweep_config().train.epochs == 3.0 and chosen.sweep_config().data.name == "shapes"


def test_reading_of_a_run_whose_residual_twin_diverged_early() -> None:
    # /live?lr=10&bn=false&depth=56&init=default: residual-56 diverged at step 5 (loss NaN) while
    # plain-56 trained on with dL/dx exactly 0 at its first blocks; the reading once raised
    # ZeroDivisionError right after "residual-56 diverged at step 5".
    gx_plain = [0.0] * 20 + [1.9e-06, 2.2e-05, 3.6e-04]
    plain = _hist(
        "plain-56",
        [2.30] * 20,
        [0.1] * 20,
        final={"train_loss": 2.305, "train_acc": 0.0967},
        rms=[[0.0] * 55 + [8.5e-4], [0.0] * 56],
        gx=[gx_plain, [0.0] * 23],
    )
    plain.probe_step = [1, 10]
    res = _hist(
        "residual-56",
        [2.30, 6.98, 22.7, 8.1e8],
        [0.1, 0.1, 0.1, 0.1],
        status="diverged",
        rms=[[1e-4] * 56, [float("nan")] * 56],
        ident=[[1.0] * 27, [float("nan")] * 27],
        branch=[[0.0] * 27, [float("nan")] * 27],
        gx=[[6.7e-05] * 20 + [3.6e-04] * 3, [float("nan")] * 23],
    )
    res.diverged_at = 5
    res.probe_step = [1, 5]
    text = reading([plain, res])
    assert text[0] == (
        "residual-56 diverged at step 5: its loss became NaN or infinite, so it stopped there; the "
        "curves show everything up to step 4."
    )
    assert text[1] == "plain-56 reached a training loss of 2.305 and training accuracy 9.7% on the whole training set."
    assert "In plain-56 at step 1, the first block received no gradient at all (exactly 0)" in text[2]
    assert text[3].startswith("In residual-56 at step 1, dL/dx at the first block was 5.37x smaller than at the last")
    # A zero last-block gradient (the second probe of plain-56) gives no ratio, not a division by zero.
    assert all("step 10" not in t or "ratio" not in t for t in text)


def test_the_sweep_page_opens_each_dataset_with_its_recipe() -> None:
    from resnet_viz.teaching.settings import SweepSettings, sweep_defaults

    assert sweep_defaults("digits") == SweepSettings()
    shapes = sweep_defaults("shapes")
    assert shapes.depths == tuple(sorted({20, RECIPES["shapes"].depth})) and shapes.lr == RECIPES["shapes"].lr
    shapes.validate()
    settings, problems = sweep_from_query({"sw_dataset": "shapes"})
    assert (settings, problems) == (shapes, [])
    assert SWEEP_LINK.write(shapes) == {"sw_dataset": "shapes"}


def test_a_preset_loads_into_the_widgets_it_came_from() -> None:
    from resnet_viz.degradation.sweep import DEMO, PAPER_SCALE
    from resnet_viz.teaching.settings import SweepSettings, sweep_defaults

    for settings in (SweepSettings(), sweep_defaults("shapes"), dataclasses.replace(SweepSettings(), seeds=3)):
        assert SweepSettings.from_sweep(settings.sweep_config()) == settings
    paper = SweepSettings.from_sweep(PAPER_SCALE)
    paper.validate()
    assert (paper.dataset, paper.budget, paper.amount, paper.warmup) == ("cifar10", "epochs", 6, 400)
    assert SweepSettings.from_sweep(DEMO).depths == DEMO.depths
    assert set(SWEEP_LINK.widget_values(paper)) == set(SWEEP_LINK.keys)  # every widget of the page, by key
