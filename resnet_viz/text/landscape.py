"""What two loss-landscape slices show, in words (Li et al. 2018, "Visualizing the Loss Landscape
of Neural Nets"): which surface is sharper around the trained weights, by how much, and the
curvature there. `resnet_viz.analysis.landscape` measures (`sharpness`) and ranks (`sharper`,
`within_band`); every sentence here is one whole template (see `resnet_viz.text`), and a
diverged point, a NaN or an inf becomes words, never an exception.
"""

from __future__ import annotations

import math

from ..analysis.landscape import Slice, sharper, sharpness
from . import N_, _, ngettext
from .numbers import SAME_BAND, num, times, within_band

# Where the rise is read, and on which split: the two points of a line, or the square of grid points
# around a plane's centre.
_WHERE: dict[tuple[int, str], str] = {
    (1, "test"): N_(
        "The rise is read on the test split at distance {radius} from the trained weights, at the 2 points "
        "a = ±{radius} (filter-normalised directions, Li et al. 2018 §4)."
    ),
    (1, "train"): N_(
        "The rise is read on the training split at distance {radius} from the trained weights, at the 2 points "
        "a = ±{radius} (filter-normalised directions, Li et al. 2018 §4)."
    ),
    (2, "test"): N_(
        "The rise is read on the test split at distance {radius} from the trained weights, at the {points} grid "
        "points with max(|a|, |b|) = {radius} (filter-normalised directions, Li et al. 2018 §4)."
    ),
    (2, "train"): N_(
        "The rise is read on the training split at distance {radius} from the trained weights, at the {points} grid "
        "points with max(|a|, |b|) = {radius} (filter-normalised directions, Li et al. 2018 §4)."
    ),
}
_RISE: dict[str, str] = {
    "rises": N_("There the loss rises by {change} for {name} (from {center})."),
    "falls": N_("There the loss falls by {change} for {name} (from {center})."),
}
# The sharper surface, by how much: a finite factor, without bound (a diverged point), or over a flat other.
_SHARPER: dict[str, str] = {
    "factor": N_("{name}'s surface is the sharper one at this distance: its loss rises {factor} as much."),
    "unbounded": N_("{name}'s surface is the sharper one at this distance: its loss rises without bound."),
    "alone": N_(
        "{name}'s surface is the sharper one at this distance: its loss rises while the other's does not rise."
    ),
}
# What Li et al. (2018) saw, against which net came out sharper here. Their Fig. 1 is ResNet-56 with and
# without skip connections; their depth study (ResNet-20, 56, 110) found the surface without them turning
# chaotic at 56 and 110 layers, with little difference at 20. One rise at one distance measures sharpness,
# never chaos (non-convexity): the depth dependence is said only next to the depth these nets have.
_LI: dict[str, str] = {
    "plain": N_(
        "That agrees with Li et al. (2018, Fig. 1), whose ResNet-56 without skip connections had the sharper surface. "
        "One larger rise shows sharpness, not chaos: whether a surface is chaotic (non-convex) shows in the whole "
        "picture, not in the rise at one distance."
    ),
    "residual": N_(
        "That is the opposite of Li et al. (2018, Fig. 1), whose ResNet-56 without skip connections had the sharper "
        "surface."
    ),
}
# The curvature of both nets, and what their two values say together.
_CURVATURE: dict[str, str] = {
    "same": N_(
        "Curvature at the trained weights (second difference over one grid step, {h}, mean over the directions): "
        "{plain} {plain_curvature}, {residual} {residual_curvature}; within {band} of each other."
    ),
    "ranked": N_(
        "Curvature at the trained weights (second difference over one grid step, {h}, mean over the directions): "
        "{plain} {plain_curvature}, {residual} {residual_curvature}; {larger}'s is {factor} the other's."
    ),
    "negative": N_(
        "Curvature at the trained weights (second difference over one grid step, {h}, mean over the directions): "
        "{plain} {plain_curvature}, {residual} {residual_curvature}. A negative value means the loss curves downward "
        "there (on average over the directions): a ridge or a saddle of this slice, not the bottom of a bowl, where "
        "it is positive (on a straight slope it is about 0)."
    ),
    "plain": N_(
        "Curvature at the trained weights (second difference over one grid step, {h}, mean over the directions): "
        "{plain} {plain_curvature}, {residual} {residual_curvature}."
    ),
}
# Which loss the slices are of, against Li et al.'s, and why that matters for the reading.
_SPLIT: dict[str, str] = {
    "test": N_(
        "These slices are of the test loss, while Li et al. (2018) plotted the training loss: training lowers the "
        "training loss, so the trained weights need not sit at a minimum of the test loss, which may fall or curve "
        "downward along some directions."
    ),
    "train": N_("These slices are of the training loss, as Li et al. (2018) plotted it."),
}


def landscape_sentences(
    plain: Slice,
    residual: Slice,
    names: tuple[str, str] = ("plain", "residual"),
    *,
    split: str = "test",
    depth: int | None = None,
) -> list[str]:
    """Which surface is sharper around the trained weights, with the rises and curvatures behind
    it; the curvature, with which split the slices are of ("test" or "train"), is always the last
    line. `depth`: the twins' depth, when the caller knows it; Li et al.'s depth dependence is said
    only beside it."""
    split = "train" if split == "train" else "test"
    sp, sr = sharpness(plain), sharpness(residual)
    if sp.radius != sr.radius or sp.h != sr.h:
        return [
            _("The two slices were computed on different grids; compute both with the same settings to compare them.")
        ]
    lines = []
    for name, x in zip(names, (sp, sr)):
        if not math.isfinite(x.center):
            lines.append(
                _("{name}'s loss at the trained weights is not finite, so no rise can be measured.").format(name=name)
            )
        elif x.nonfinite:
            lines.append(
                _(
                    "{name}'s loss is not finite at {bad} of the {points} points at distance {radius}: the perturbed "
                    "net diverged there."
                ).format(name=name, bad=x.nonfinite, points=x.points, radius=num(x.radius))
            )
    rises = [
        _(_RISE["rises" if x.rise > 0 else "falls"]).format(name=n, change=num(abs(x.rise)), center=num(x.center))
        for n, x in zip(names, (sp, sr))
        if math.isfinite(x.rise)
    ]
    if rises:
        where = _(_WHERE[(plain.dims, split)]).format(radius=num(sp.radius), points=sp.points)
        lines.append(" ".join([where, *rises]))
    verdict = sharper(sp, sr)
    if verdict in ("plain", "residual"):
        name, hi, lo = (names[0], sp, sr) if verdict == "plain" else (names[1], sr, sp)
        key = "unbounded" if math.isinf(hi.rise) else "alone" if lo.rise <= 0 else "factor"
        factor = times(hi.rise / lo.rise) if key == "factor" else times(None)
        li = _(_LI[verdict]) if depth is None else _li_at_depth(verdict, depth)
        lines.append(" ".join([_(_SHARPER[key]).format(name=name, factor=factor), li]))
    elif verdict == "same":
        lines.append(
            _(
                "The two surfaces are about equally sharp at this distance: the rises are within {band} of each other "
                "({factor})."
            ).format(band=times(SAME_BAND), factor=times(max(sp.rise, sr.rise) / min(sp.rise, sr.rise)))
        )
    elif all(math.isfinite(x.rise) and x.rise <= 0 for x in (sp, sr)):
        lines.append(_("Neither loss rises at this distance: try a larger range to see the walls of the basins."))
    return [*lines, " ".join([_curvature(sp.curvature, sr.curvature, sp.h, names), _(_SPLIT[split])])]


def _li_at_depth(verdict: str, depth: int) -> str:
    """Li et al.'s reading with their depth dependence, beside the depth of these nets."""
    if verdict == "plain":
        template = ngettext(
            "That agrees with Li et al. (2018, Fig. 1), whose ResNet-56 without skip connections had the sharper "
            "surface. One larger rise shows sharpness, not chaos: whether a surface is chaotic (non-convex) shows in "
            "the whole picture, not in the rise at one distance. Li et al. found that this depends on depth: without "
            "skip connections the surface turned chaotic at 56 and 110 layers, while at 20 layers the two differed "
            "little; these nets have {depth} layer.",
            "That agrees with Li et al. (2018, Fig. 1), whose ResNet-56 without skip connections had the sharper "
            "surface. One larger rise shows sharpness, not chaos: whether a surface is chaotic (non-convex) shows in "
            "the whole picture, not in the rise at one distance. Li et al. found that this depends on depth: without "
            "skip connections the surface turned chaotic at 56 and 110 layers, while at 20 layers the two differed "
            "little; these nets have {depth} layers.",
            depth,
        )
    else:
        template = ngettext(
            "That is the opposite of Li et al. (2018, Fig. 1), whose ResNet-56 without skip connections had the "
            "sharper surface. They found that the difference depends on depth: at 56 and 110 layers the surface "
            "without skip connections turned chaotic, while at 20 layers the two differed little; these nets have "
            "{depth} layer.",
            "That is the opposite of Li et al. (2018, Fig. 1), whose ResNet-56 without skip connections had the "
            "sharper surface. They found that the difference depends on depth: at 56 and 110 layers the surface "
            "without skip connections turned chaotic, while at 20 layers the two differed little; these nets have "
            "{depth} layers.",
            depth,
        )
    return template.format(depth=depth)


def _curvature(kp: float, kr: float, h: float, names: tuple[str, str]) -> str:
    if all(math.isfinite(k) and k > 0 for k in (kp, kr)):
        key = "same" if within_band(kp, kr) else "ranked"
    elif any(math.isfinite(k) and k < 0 for k in (kp, kr)):
        key = "negative"
    else:
        key = "plain"
    return _(_CURVATURE[key]).format(
        h=num(h),
        plain=names[0],
        plain_curvature=num(kp),
        residual=names[1],
        residual_curvature=num(kr),
        band=times(SAME_BAND),
        larger=names[0] if kp > kr else names[1],
        factor=times(max(kp, kr) / min(kp, kr)) if key == "ranked" else times(None),
    )


__all__ = ["landscape_sentences"]
