"""The anatomy page's exercises (predict, run, check), graded by option key from the page's own
measurements: the shortcut options' parameter cost, the stage that holds most weights, and a
fixed AvgPool2d(7) on a small input. The measurements are resnet_viz.anatomy; the sentences that
quote them are resnet_viz.text.anatomy.
"""

from __future__ import annotations

from ..anatomy.mistakes import PoolCheck
from ..anatomy.nets import FIXED_POOL, Anatomy, ShortcutCost
from ..i18n import N_, _
from ..text.anatomy import pool_sentence, shortcut_sentence, summary
from .exercises import Exercise, Outcome

# -- exercises: graded by option key from the page's own measurements --------------------------
# The texts are marked here and translated where they are shown (resnet_viz.ui.exercises).

EX_OPTION_B = Exercise(
    key="anatomy.option_b",
    task=N_("Switch the CIFAR net from option A to option B shortcuts."),
    question=N_("How many parameters does it gain?"),
    options=(
        ("none", N_("none: both options are weight-free")),
        ("under5", N_("a few: under 5% more")),
        ("over5", N_("many: 5% more or above")),
    ),
)
EX_BIGGEST = Exercise(
    key="anatomy.biggest_part",
    task=N_("Pick the ImageNet family and ResNet-50."),
    question=N_("Which part of the network holds the most parameters?"),
    options=(
        ("stem", N_("the stem")),
        ("stage1", N_("stage 1 (conv2_x)")),  # the paper's names, as the stage table shows them
        ("stage2", N_("stage 2 (conv3_x)")),
        ("stage3", N_("stage 3 (conv4_x)")),
        ("stage4", N_("stage 4 (conv5_x)")),
        ("head", N_("the head (linear classifier)")),
    ),
)
assert FIXED_POOL == 7  # the window EX_POOL's question names (a literal, so that it can be translated)
EX_POOL = Exercise(
    key="anatomy.fixed_pool",
    task=N_("In common mistake 2, set the input size to 32×32 for the network you picked."),
    question=N_("What does a fixed AvgPool2d(7) do with the last stage's map?"),
    options=(
        ("ok", N_("it averages the whole map, as intended")),
        ("partial", N_("it runs but averages only part of the map")),
        ("error", N_("it raises an error")),
        ("wrong_shape", N_("it runs but hands the head the wrong number of features")),
    ),
)


def exercises(
    cost: ShortcutCost, shortcut: str, anat: Anatomy, pool: PoolCheck
) -> list[tuple[Exercise, Outcome | None, str]]:
    """(exercise, outcome or None until the learner has made the change, what is left to do)."""
    option_b = None
    if shortcut == "B":
        option_b = Outcome(
            "none" if cost.extra == 0 else "under5" if cost.extra_pct < 5 else "over5", shortcut_sentence(cost)
        )
    biggest = None
    if anat.spec.family == "imagenet" and anat.spec.depth == 50:
        biggest = Outcome(max(anat.rows, key=lambda r: r.params).key, summary(anat))
    small = Outcome(pool.verdict, pool_sentence(pool)) if pool.input_size == 32 else None
    return [
        (EX_OPTION_B, option_b, _("choose shortcut option B for the CIFAR net under *1. Pick a network*.")),
        (EX_BIGGEST, biggest, _("pick the ImageNet family and ResNet-50 under *1. Pick a network*.")),
        (EX_POOL, small, _("set the input size to 32 in common mistake 2.")),
    ]
