"""What classroom mode says: a student's anonymous label, a class pool and its runs, a part of the
class experiment, and the prediction counts, each computed from the class record and the runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import N_, _, ngettext
from .numbers import DEGRADED_POINTS, band, listing, percent_value

if TYPE_CHECKING:
    from ..degradation.pool import Pool
    from ..degradation.sweep import DepthPoint
    from ..engine.classroom import Part


def student(n: int | None) -> str:
    """ "student 7", or a dash for a job nobody in the class pressed (the command line, or before
    teacher mode was on)."""
    return _("student {n}").format(n=n) if n is not None else "–"


def pool_label(pool: Pool, dataset_title: str) -> str:
    """A pool as the teacher's select box lists it: its recipe and how many runs."""
    t = pool.train
    budget = (
        _("{epochs} epochs").format(epochs=f"{t.epochs:g}") if t.epochs else _("{steps} steps").format(steps=t.steps)
    )
    return ngettext(
        "{dataset} · width {width} · {budget} · lr {lr} · {n} run",
        "{dataset} · width {width} · {budget} · lr {lr} · {n} runs",
        len(pool.results),
    ).format(dataset=dataset_title, width=pool.model.width, budget=budget, lr=f"{t.lr:g}", n=len(pool.results))


def pool_summary(pool: Pool) -> str:
    """Which depths of each kind the class's runs of this recipe cover."""
    kinds = []
    for kind, template in (
        ("plain", ngettext("{n} plain run (depths {depths})", "{n} plain runs (depths {depths})", pool.count("plain"))),
        (
            "residual",
            ngettext(
                "{n} residual run (depths {depths})", "{n} residual runs (depths {depths})", pool.count("residual")
            ),
        ),
    ):
        depths = sorted({r.depth for r in pool.results if r.kind == kind})
        if depths:
            kinds.append(template.format(n=pool.count(kind), depths=listing(str(d) for d in depths)))
    return _("The class's runs of this recipe: {kinds}.").format(kinds=listing(kinds))


def part_intro(part: Part, seed: int, dataset_title: str) -> str:
    return _(
        "**Your part of the class experiment: {name}** on {dataset}, seed {seed}. Your teacher gave each browser "
        "one net of the class's depth sweep; the settings below are filled in for yours. Press **Train**: when it "
        "finishes, your run joins the class's chart of training error against depth."
    ).format(name=part.name, dataset=dataset_title, seed=seed)


def part_changed(part: Part) -> str:
    return _(
        "Your settings are no longer those of your part ({name}), so a run of them joins the class's chart only if "
        "its recipe matches other runs. **Back to my part** fills them in again."
    ).format(name=part.name)


def assignment_state(parts: Sequence[Part], given: int, next_index: int) -> str:
    names = listing(p.name for p in parts)
    return ngettext(
        "Assigned, in order: {names}. {given} browser has its part; the next to open Train & compare gets {next}.",
        "Assigned, in order: {names}. {given} browsers have their parts; the next to open Train & compare gets {next}.",
        given,
    ).format(names=names, given=given, next=parts[next_index].name)


_POOL_DEPTH = {
    "above": N_(
        "{nets}: mean training error {lo_error}% at depth {lo_depth} ({lo_runs}) and {hi_error}% at depth "
        "{hi_depth} ({hi_runs}); the deeper nets trained worse."
    ),
    "below": N_(
        "{nets}: mean training error {lo_error}% at depth {lo_depth} ({lo_runs}) and {hi_error}% at depth "
        "{hi_depth} ({hi_runs}); the deeper nets trained better."
    ),
    "within": N_(
        "{nets}: mean training error {lo_error}% at depth {lo_depth} ({lo_runs}) and {hi_error}% at depth "
        "{hi_depth} ({hi_runs}); within {limit} points of each other."
    ),
}
_NETS = {"plain": N_("Plain nets"), "residual": N_("Residual nets")}


def pool_reading(points: Sequence[DepthPoint]) -> list[str]:
    """For each kind with two depths: how the class's mean training error changed from its
    shallowest to its deepest depth (runs, not seeds: the class's runs may share a seed)."""
    from ..degradation.sweep import KINDS, scored

    out = []
    for kind in KINDS:
        pts = scored(points, kind)
        if len(pts) < 2:
            continue
        lo, hi = pts[0], pts[-1]
        out.append(
            _(_POOL_DEPTH[band(hi.train_mean - lo.train_mean)]).format(
                nets=_(_NETS[kind]),
                lo_error=percent_value(lo.train_mean),
                lo_depth=lo.depth,
                lo_runs=_runs(len(lo.train_error)),
                hi_error=percent_value(hi.train_mean),
                hi_depth=hi.depth,
                hi_runs=_runs(len(hi.train_error)),
                limit=f"{DEGRADED_POINTS:g}",
            )
        )
    if not out:
        out.append(_("The chart compares depths once the class has finished runs of one kind at two depths."))
    return out


def _runs(n: int) -> str:
    return ngettext("{n} run", "{n} runs", n).format(n=n)
