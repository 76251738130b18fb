"""The construction argument, measured and said in words (He et al. 2016, §3.1): how large each
block's branch F(x) is next to its input, and whose blocks are nearer the identity.

`resnet_viz.analysis.construction` measures (`near_identity`) and ranks (`closer_to_identity`); every
sentence here is one whole template (see `resnet_viz.text`), and a zero, a NaN, an inf or a net
without a defined ratio becomes words, never an exception.
"""

from __future__ import annotations

from ..analysis.construction import NearIdentity, closer_to_identity
from . import N_, _, ngettext
from .numbers import SAME_BAND, share, times

Names = tuple[str, str]  # (plain net, residual net), as the page labels them


def _describe(name: str, r: NearIdentity, plain: bool) -> str:
    rows = r.values("branch")
    if not rows:
        if plain:
            return _("No block of {name} keeps the shape, so ||F(x)|| / ||x|| is not defined there.").format(name=name)
        return _("No block of {name} gave a defined ratio, so ||F(x)|| / ||x|| is not defined there.").format(name=name)
    (low_block, low), (high_block, high) = min(rows, key=lambda t: t[1]), max(rows, key=lambda t: t[1])
    fill = {
        "name": name,
        "median": share(r.median("branch")),
        "count": len(rows),
        "low": share(low),
        "low_block": low_block,
        "high": share(high),
        "high_block": high_block,
    }
    if len(rows) == 1:  # one block: its value is the median, the lowest and the highest; said once
        if plain:
            template = _(
                "In {name} the one block that keeps the shape ({low_block}) has an F(x) of {median} of its input's "
                "norm (||F(x)|| / ||x||): a plain block's F(x) replaces x instead of being added to it."
            )
        else:
            template = _(
                "In {name} the one block's branch ({low_block}) changes its input by {median} (||F(x)|| / ||x||)."
            )
    elif plain:
        template = ngettext(
            "In {name} the median block's F(x) has {median} of its input's norm (||F(x)|| / ||x||, median over its "
            "{count} block that keeps the shape; from {low} at {low_block} to {high} at {high_block}): a plain "
            "block's F(x) replaces x instead of being added to it.",
            "In {name} the median block's F(x) has {median} of its input's norm (||F(x)|| / ||x||, median over its "
            "{count} blocks that keep the shape; from {low} at {low_block} to {high} at {high_block}): a plain "
            "block's F(x) replaces x instead of being added to it.",
            len(rows),
        )
    else:
        template = ngettext(
            "In {name} the median block's branch changes its input by {median} (||F(x)|| / ||x||, with x the "
            "shortcut's output where a block changes shape; median over its {count} block; from {low} at {low_block} "
            "to {high} at {high_block}).",
            "In {name} the median block's branch changes its input by {median} (||F(x)|| / ||x||, with x the "
            "shortcut's output where a block changes shape; median over its {count} blocks; from {low} at "
            "{low_block} to {high} at {high_block}).",
            len(rows),
        )
    return template.format(**fill)


# Whose blocks are nearer the identity; "_infinitely" where the nearer net's blocks are exact identities.
_IDENTITY: dict[str, str] = {
    "same": N_(
        "Both nets' blocks are about equally far from the identity (within {band}): a median block's output "
        "differs from its input by {residual_off} in {residual} and by {plain_off} in {plain} (||y - x|| / ||x||)."
    ),
    "residual": N_(
        "The residual blocks are the nearer to the identity: a median block's output differs from its input by "
        "{residual_off} in {residual} and by {plain_off} in {plain} (||y - x|| / ||x||), {factor} farther for the "
        "plain net. A deeper net could match a shallower one by making its extra blocks identities (He et al. 2016, "
        "§3.1); a residual block gets there by pushing F(x) toward 0, while a plain block would have to fit "
        "H(x) = x with its nonlinear layers."
    ),
    "residual_infinitely": N_(
        "The residual blocks are the nearer to the identity: a median block's output differs from its input by "
        "{residual_off} in {residual} and by {plain_off} in {plain} (||y - x|| / ||x||), infinitely farther for the "
        "plain net. A deeper net could match a shallower one by making its extra blocks identities (He et al. 2016, "
        "§3.1); a residual block gets there by pushing F(x) toward 0, while a plain block would have to fit "
        "H(x) = x with its nonlinear layers."
    ),
    "plain": N_(
        "Here the plain blocks are the nearer to the identity: a median block's output differs from its input by "
        "{residual_off} in {residual} and by {plain_off} in {plain} (||y - x|| / ||x||), {factor} farther for the "
        "residual net, unlike the small residual functions He et al. (2016, §4.2, Fig. 7) report."
    ),
    "plain_infinitely": N_(
        "Here the plain blocks are the nearer to the identity: a median block's output differs from its input by "
        "{residual_off} in {residual} and by {plain_off} in {plain} (||y - x|| / ||x||), infinitely farther for the "
        "residual net, unlike the small residual functions He et al. (2016, §4.2, Fig. 7) report."
    ),
}


def identity_sentences(plain: NearIdentity, residual: NearIdentity, names: Names = ("plain", "residual")) -> list[str]:
    """What the measurement says about the construction argument, from its numbers only."""
    lines = [_describe(names[1], residual, False), _describe(names[0], plain, True)]
    verdict = closer_to_identity(plain, residual)
    mp, mr = plain.median("off_identity"), residual.median("off_identity")
    if verdict is None or mp is None or mr is None:
        return lines
    near, far = (mr, mp) if verdict == "residual" else (mp, mr)
    key = f"{verdict}_infinitely" if verdict != "same" and near == 0 else verdict
    lines.append(
        _(_IDENTITY[key]).format(
            band=times(SAME_BAND),
            residual_off=share(mr),
            residual=names[1],
            plain_off=share(mp),
            plain=names[0],
            factor=times(far / near) if near else times(None),
        )
    )
    return lines


__all__ = ["identity_sentences"]
