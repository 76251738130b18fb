"""What the gradient-flow page's measurements show: the initialisation profiles of real nets (and
`resnet-viz probe`), the toy chain, and the skip strength alpha, every number taken from them.

A sentence whose numbers are missing or not finite says so or is left out; it is never guessed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import N_, _, ngettext
from .numbers import (
    SAME_BAND,
    VANISHED,
    amount,
    fraction,
    is_number,
    larger_smaller,
    listing,
    num,
    regime,
    regime_factor,
    times,
)

if TYPE_CHECKING:  # annotations only: reading a measurement needs no torch
    import numpy as np

    from ..theory.flow import InitProfile

# dL/dx at the first block's output against the last block's, one template per regime.
_FLOW = {
    "vanishing": N_(
        "In {model}, the gradient dL/dx at the first block's output is {factor} smaller than at the last block: "
        "it vanished toward the input."
    ),
    "shrinking": N_(
        "In {model}, the gradient dL/dx at the first block's output is {factor} smaller than at the last block: "
        "it shrank toward the input."
    ),
    "flat": N_(
        "In {model}, the gradient dL/dx at the first block's output is {factor} that at the last block: "
        "it kept about the same size from output to input (within a factor of {band})."
    ),
    "growing": N_(
        "In {model}, the gradient dL/dx at the first block's output is {factor} larger than at the last block: "
        "it grew toward the input."
    ),
    "exploding": N_(
        "In {model}, the gradient dL/dx at the first block's output is {factor} larger than at the last block: "
        "it exploded toward the input."
    ),
    "zero": N_("In {model} the first block received no gradient dL/dx at all (exactly 0): it vanished completely."),
}
_WEIGHT_VIEW = {
    ("larger", False): N_("Per weight, the first layer's gradient RMS is {factor} larger than the last conv layer's."),
    ("smaller", False): N_(
        "Per weight, the first layer's gradient RMS is {factor} smaller than the last conv layer's."
    ),
    ("larger", True): N_(
        "Per weight, the first layer's gradient RMS is {factor} larger than the last conv layer's, so this view "
        "hides what dL/dx shows: a weight's gradient is the gradient arriving at its layer times that layer's "
        "input, summed over the batch and every position of its map, so a larger input or a larger map at the "
        "first layer can make up for the smaller gradient arriving there."
    ),
    ("smaller", True): N_(
        "Per weight, the first layer's gradient RMS is {factor} smaller than the last conv layer's, so this view "
        "hides what dL/dx shows: a weight's gradient is the gradient arriving at its layer times that layer's "
        "input, summed over the batch and every position of its map, so a larger input or a larger map at the "
        "first layer can make up for the smaller gradient arriving there."
    ),
}
_TWINS = {
    ("equal", False): N_("At the first block, {residual}'s gradient dL/dx is equal to {plain}'s."),
    ("equal", True): N_(
        "At the first block, {residual}'s gradient dL/dx is equal to {plain}'s (both built from the same seed)."
    ),
    ("larger", False): N_("At the first block, {residual}'s gradient dL/dx is {factor} larger than {plain}'s."),
    ("larger", True): N_(
        "At the first block, {residual}'s gradient dL/dx is {factor} larger than {plain}'s "
        "(both built from the same seed)."
    ),
    ("smaller", False): N_("At the first block, {residual}'s gradient dL/dx is {factor} smaller than {plain}'s."),
    ("smaller", True): N_(
        "At the first block, {residual}'s gradient dL/dx is {factor} smaller than {plain}'s "
        "(both built from the same seed)."
    ),
}
_MEASURED_SKIP = {
    "larger": N_("Measured, dL/dx at the first block is {factor} larger than at the last."),
    "smaller": N_("Measured, dL/dx at the first block is {factor} smaller than at the last."),
}
# The toy chain at the input, per regime of what it keeps of the output's gradient.
_PLAIN_CHAIN = {
    "vanishing": N_(
        "At the input, the plain chain keeps {amount} of the output's gradient: it vanished toward the input."
    ),
    "shrinking": N_(
        "At the input, the plain chain keeps {amount} of the output's gradient: it shrank toward the input."
    ),
    "flat": N_(
        "At the input, the plain chain keeps {amount} of the output's gradient: it kept about the same size "
        "from output to input (within a factor of {band})."
    ),
    "growing": N_("At the input, the plain chain keeps {amount} of the output's gradient: it grew toward the input."),
    "exploding": N_(
        "At the input, the plain chain keeps {amount} of the output's gradient: it exploded toward the input."
    ),
    "zero": N_(
        "At the input, the plain chain keeps none of the output's gradient (exactly 0): it vanished completely."
    ),
    "undefined": N_("At the input, the plain chain's gradient is not finite, so no ratio can be given."),
}
_RESIDUAL_CHAIN = {
    "vanishing": N_("The residual chain with branch scale β = {scale} keeps {amount}: it vanished toward the input."),
    "shrinking": N_("The residual chain with branch scale β = {scale} keeps {amount}: it shrank toward the input."),
    "flat": N_(
        "The residual chain with branch scale β = {scale} keeps {amount}: it kept about the same size from "
        "output to input (within a factor of {band})."
    ),
    "growing": N_("The residual chain with branch scale β = {scale} keeps {amount}: it grew toward the input."),
    "exploding": N_("The residual chain with branch scale β = {scale} keeps {amount}: it exploded toward the input."),
    "zero": N_(
        "The residual chain with branch scale β = {scale} keeps none of the output's gradient (exactly 0): "
        "it vanished completely."
    ),
    "undefined": N_(
        "The residual chain with branch scale β = {scale} has a gradient that is not finite, so no ratio can be given."
    ),
}


def _model(p: InitProfile) -> str:
    """The model's name, with how it was built when known: "plain-56 (relu, BatchNorm)"."""
    cfg = p.config
    if cfg is None:
        return p.name
    parts = [cfg.activation, _("BatchNorm") if cfg.bn else _("no BatchNorm")]
    if cfg.residual and cfg.alpha != 1.0:
        parts.append(_("skip strength alpha = {alpha}").format(alpha=f"{cfg.alpha:g}"))
    return _("{name} ({setup})").format(name=p.name, setup=listing(parts))


def _flow_sentence(p: InitProfile) -> list[str]:
    """The first block's dL/dx against the last block's: the regime of the gradient that flows."""
    if len(p.grad_x_rms) < 2:
        return []
    r = p.flow_ratio()
    kind = regime(r, first=p.grad_x_rms[0])
    if kind == "undefined":
        return [
            _(
                "In {name} the gradient dL/dx was not finite at the first or last block, so no ratio can be given."
            ).format(name=p.name)
        ]
    factor = "" if kind == "zero" else regime_factor(kind, r)  # type: ignore[arg-type]
    out = [_(_FLOW[kind]).format(model=_model(p), factor=factor, band=f"{SAME_BAND:g}")]
    cfg = p.config
    if kind == "exploding" and cfg is not None and cfg.bn and not cfg.residual:
        out.append(
            _(
                "This is explosion at initialisation, which Yang et al. (2019) predict for deep BatchNorm nets "
                "without shortcuts; it is no sign of a healthy gradient (train the net to watch it calm down)."
            )
        )
    return [" ".join(out)]


def _weight_view_sentence(p: InitProfile) -> list[str]:
    """The per-weight gradient RMS, as a second view, and why it can disagree with dL/dx."""
    r = p.first_last_ratio("rms")
    if r is None or r <= 0:
        return []
    w_kind, f_kind = regime(r), regime(p.flow_ratio(), first=p.grad_x_rms[0] if p.grad_x_rms else None)
    hides = f_kind in ("vanishing", "zero", "shrinking") and w_kind in ("flat", "growing", "exploding")
    way, factor = larger_smaller(r)
    return [_(_WEIGHT_VIEW[(way, hides)]).format(factor=factor)]


def skip_strength_sentence(
    alpha: float, blocks: int, measured: float | None, *, name: str | None = None, step: int | None = None
) -> str:
    """He et al. 2016b §3, y = alpha*x + F(x): along the shortcut alone the gradient is scaled by
    alpha once per block, alpha^blocks in all (above 1 it explodes, below 1 it vanishes).
    `measured`: the dL/dx first/last ratio, when there is one; `name` and `step`: the run it was
    measured in (the live page), else it reads as a statement about the profile."""
    values = {"alpha": f"{alpha:g}", "blocks": blocks, "path": amount(abs(alpha) ** blocks)}
    if name is None:
        path = ngettext(
            "With skip strength alpha = {alpha}, the shortcut path alone scales the gradient by {alpha} per block: "
            "{alpha}^{blocks} = {path} over {blocks} block (He et al. 2016b §3: above 1 it explodes, below 1 it "
            "vanishes along the shortcut).",
            "With skip strength alpha = {alpha}, the shortcut path alone scales the gradient by {alpha} per block: "
            "{alpha}^{blocks} = {path} over {blocks} blocks (He et al. 2016b §3: above 1 it explodes, below 1 it "
            "vanishes along the shortcut).",
            blocks,
        ).format(**values)
    else:
        path = ngettext(
            "In {name} at step {step}, with skip strength alpha = {alpha}, the shortcut path alone scales the "
            "gradient by {alpha} per block: {alpha}^{blocks} = {path} over {blocks} block (He et al. 2016b §3: "
            "above 1 it explodes, below 1 it vanishes along the shortcut).",
            "In {name} at step {step}, with skip strength alpha = {alpha}, the shortcut path alone scales the "
            "gradient by {alpha} per block: {alpha}^{blocks} = {path} over {blocks} blocks (He et al. 2016b §3: "
            "above 1 it explodes, below 1 it vanishes along the shortcut).",
            blocks,
        ).format(name=name, step=step, **values)
    if not (is_number(measured) and measured > 0):  # type: ignore[operator]
        return path
    way, factor = larger_smaller(measured)  # type: ignore[arg-type]
    return " ".join((path, _(_MEASURED_SKIP[way]).format(factor=factor)))


def _alpha_sentence(p: InitProfile) -> list[str]:
    """Skip strength alpha != 1: what the shortcut alone does to the gradient over the net."""
    cfg = p.config
    if cfg is None or not cfg.residual or cfg.alpha == 1.0 or len(p.grad_x_rms) < 2:
        return []
    n = len(p.grad_x_rms) - 1  # blocks between the last block's output and the first's
    return [skip_strength_sentence(cfg.alpha, n, p.flow_ratio())]


def _act_sentence(p: InitProfile) -> list[str]:
    vals = [v for v in p.act_std if v is not None and math.isfinite(v)]
    if len(p.act_std) < 2 or len(vals) != len(p.act_std):
        return []
    first, last = p.act_std[0], p.act_std[-1]
    growth = last / first if first > 0 else None
    values = {"name": p.name, "first": num(first), "last": num(last)}
    if growth is not None and growth > 1 / VANISHED:
        return [
            _(
                "In {name} the block outputs' std is {first} at the first block and {last} at the last: "
                "the activations exploded forward, {growth} over the net."
            ).format(growth=times(growth), **values)
        ]
    if growth is not None and 0 < growth < VANISHED:
        return [
            _(
                "In {name} the block outputs' std is {first} at the first block and {last} at the last: "
                "the activations died out forward, to {growth} of the first block's."
            ).format(growth=fraction(growth), **values)
        ]
    return [
        _("In {name} the block outputs' std is {first} at the first block and {last} at the last.").format(**values)
    ]


def _twin_sentences(profiles: Sequence[InitProfile]) -> list[str]:
    """Plain vs residual twins (configs equal but for the shortcut): whose first block gets more dL/dx."""
    out = []
    for p in profiles:
        if p.config is None or p.config.residual:
            continue
        for r in profiles:
            c = r.config
            if c is None or not c.residual or dataclasses.replace(c, residual=False, alpha=p.config.alpha) != p.config:
                continue
            a, b = (q.grad_x_rms[0] if q.grad_x_rms else None for q in (r, p))
            if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)) or a <= 0 or b <= 0:
                continue
            same = p.seed is not None and p.seed == r.seed
            q = a / b
            if q == 0 or not math.isfinite(q):  # 1e-300 / 1e300: the factor itself is out of range
                continue
            way, factor = ("equal", "") if a == b else larger_smaller(q)
            out.append(_(_TWINS[(way, same)]).format(residual=r.name, plain=p.name, factor=factor))
    return out


def profile_sentences(profiles: Sequence[InitProfile]) -> list[str]:
    """Sentences on what the measured profiles show, every number taken from them.

    Per model: the regime of dL/dx from the last block back to the first (vanishing, shrinking,
    flat, growing, exploding; thresholds in resnet_viz.text.numbers), the per-weight gradient as a
    second view (and why it can miss vanishing), and the activations' std at both ends; then
    plain vs residual twins at the first block. A sentence whose numbers are missing or not
    finite says so or is left out; it is never guessed.
    """
    out: list[str] = []
    for p in profiles:
        for builder in (_flow_sentence, _alpha_sentence, _weight_view_sentence, _act_sentence):
            out.extend(builder(p))
    out.extend(_twin_sentences(profiles))
    return out


def _chain_end(table: dict[str, str], g: float, scale: str) -> str:
    kind = regime(g if is_number(g) else None, first=g)
    return _(table[kind]).format(amount=amount(g), scale=scale, band=f"{SAME_BAND:g}")


def chain_sentence(plain: np.ndarray, residual: np.ndarray, *, beta: float, depth: int, gain: float) -> str:
    """What the two chains show at the input, in words computed from their values, against what a
    scalar chain x <- x + beta*g*x with the same settings would give: (1 + beta*g)^L."""
    p, r = float(plain[0]), float(residual[0])
    scale = "1/√L" if math.isclose(beta, 1 / math.sqrt(depth)) else f"{beta:.3g}"
    scalar = abs(1 + beta * gain) ** depth
    last = ngettext(
        "A scalar chain x ← x + βgx would multiply by (1 + βg) per layer, {amount} over {depth} layer.",
        "A scalar chain x ← x + βgx would multiply by (1 + βg) per layer, {amount} over {depth} layers.",
        depth,
    ).format(amount=amount(scalar), depth=depth)
    return " ".join((_chain_end(_PLAIN_CHAIN, p, scale), _chain_end(_RESIDUAL_CHAIN, r, scale), last))


__all__ = ["chain_sentence", "profile_sentences", "skip_strength_sentence"]
