"""The analysis page's exercises (predict, run, check), each graded from the measurement the learner
just made on the Lesion study, Loss landscape and Near-identity blocks tabs. The measurements are
resnet_viz.analysis; the sentences that quote them are resnet_viz.text (lesion, landscape,
construction); this module ties a question to its measurement and its sentence.
"""

from __future__ import annotations

from ..analysis.construction import NearIdentity, closer_to_identity
from ..analysis.ensemble import one_block_verdict
from ..analysis.landscape import Slice, sharper, sharpness
from ..analysis.lesion import LesionResult
from ..i18n import N_, _
from ..text.construction import identity_sentences
from ..text.landscape import landscape_sentences
from ..text.lesion import one_block_sentence
from .exercises import Exercise, Outcome

# The exercises' texts are templates marked with N_(): the page translates them where it draws them.
_WHO = (("plain", N_("The plain net")), ("residual", N_("The residual net")))
LESION_EXERCISE = Exercise(
    "analysis.lesion_one_block",
    N_("Run the lesion study on the Lesion study tab."),
    N_("When one block is deleted at test time, which net keeps more of its intact accuracy?"),
    _WHO + (("same", N_("About the same (within 2 points of share)")),),
)
LANDSCAPE_EXERCISE = Exercise(
    "analysis.landscape_rise",
    N_("Compute the slices on the Loss landscape tab."),
    N_("At the same distance from the trained weights, whose loss rises more?"),
    _WHO + (("same", N_("About the same (within 2x)")),),
)
IDENTITY_EXERCISE = Exercise(
    "analysis.near_identity",
    N_("Measure the blocks on the Near-identity blocks tab."),
    N_("Whose blocks stay nearer the identity, passing their input on almost unchanged?"),
    _WHO + (("same", N_("About the same (within 2x)")),),
)


def lesion_outcome(plain: LesionResult, residual: LesionResult, names: tuple[str, str]) -> Outcome | None:
    verdict = one_block_verdict(plain, residual)
    return None if verdict is None else Outcome(verdict, one_block_sentence(plain, residual, names))


def landscape_outcome(plain: Slice, residual: Slice, names: tuple[str, str]) -> Outcome | None:
    verdict = sharper(sharpness(plain), sharpness(residual))
    # Every sentence but the last, the curvature: the rise at one distance is what the question asks about.
    return None if verdict is None else Outcome(verdict, " ".join(landscape_sentences(plain, residual, names)[:-1]))


def identity_outcome(plain: NearIdentity, residual: NearIdentity, names: tuple[str, str]) -> Outcome | None:
    verdict = closer_to_identity(plain, residual)
    return None if verdict is None else Outcome(verdict, identity_sentences(plain, residual, names)[-1])


def exercise_items(
    names: tuple[str | None, str | None],
    lesion: tuple[LesionResult | None, LesionResult | None],
    landscape: tuple[Slice | None, Slice | None],
    identity: tuple[NearIdentity | None, NearIdentity | None],
) -> list[tuple[Exercise, Outcome | None, str]]:
    """The page's exercises with their outcomes, each pair ordered (plain, residual); an outcome is
    None until both measurements exist, and the third entry says what the learner still has to do."""
    if names[0] is None or names[1] is None:
        todo = _("these runs are not a plain/residual pair: pick twins from the list above.")
        return [(ex, None, todo) for ex in (LESION_EXERCISE, LANDSCAPE_EXERCISE, IDENTITY_EXERCISE)]
    pair = (names[0], names[1])
    items = []
    # The button and the tab by the labels the analysis page gives them (translated there too).
    for ex, (p, r), grade, press, which in (
        (LESION_EXERCISE, lesion, lesion_outcome, N_("Run the lesion study"), N_("Lesion study")),
        (LANDSCAPE_EXERCISE, landscape, landscape_outcome, N_("Compute the slices"), N_("Loss landscape")),
        (IDENTITY_EXERCISE, identity, identity_outcome, N_("Measure the blocks"), N_("Near-identity blocks")),
    ):
        outcome = None if p is None or r is None else grade(p, r, pair)  # type: ignore[arg-type]
        if p is None or r is None:
            todo = _("press **{button}** on the {tab} tab.").format(button=_(press), tab=_(which))
        else:  # measured, but the numbers do not rank the nets (the tab's sentences say why)
            todo = _("these numbers cannot rank the two nets; the {tab} tab says why. Try other settings.").format(
                tab=_(which)
            )
        items.append((ex, outcome, todo))
    return items
