"""What a lesion study and the layer responses show, in words: deleting blocks and the ensemble
view (Veit et al. 2016, §3-5), and how strongly each layer responds (He et al. 2016, Fig. 7).

`resnet_viz.analysis.lesion` and `resnet_viz.analysis.ensemble` measure and rank; here the numbers become
sentences. Every sentence is one whole template (see `resnet_viz.text`), and a zero, a NaN, an
inf or an empty study becomes words, never an exception.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..analysis.ensemble import (
    ENSEMBLE_KEEPS,
    SMOOTH_FACTOR,
    LesionResult,
    PathLengths,
    decline,
    one_block_verdict,
    one_deletion,
)
from ..analysis.lesion import SAME_RESPONSE, SAME_SHARE, mean_response, quieter
from . import N_, _, ngettext
from .numbers import change, is_number, listing, num, percent, points, share, times

Names = tuple[str, str]  # (plain net, residual net), as the page labels them

# --------------------------------------------------------------------------------------------
# Deleting blocks (Veit et al. 2016, §4)


def lesion_sentences(plain: LesionResult, residual: LesionResult, names: Names = ("plain", "residual")) -> list[str]:
    """What the two studies show, in words computed from their numbers only.

    Per net: the mean accuracy over single deletions of its blocks that keep the resolution, and
    the share of the intact accuracy that keeps; then which net keeps more (or that they keep about
    the same, within SAME_SHARE); then, for a middle and the largest k both studies share, the
    accuracy with k random blocks deleted.
    """
    # Long because each case the measurement can be in (none, one net, both, not finite) has its own whole
    # sentence.
    lines: list[str] = []
    for name, r in zip(names, (plain, residual)):
        d = one_deletion(r)  # averages the finite single deletions of blocks that keep the resolution
        singles = [b.acc for b in r.blocks if not b.downsampling and is_number(b.acc)]
        fill = {"name": name, "intact": percent(r.baseline_acc)}
        if not any(not b.downsampling for b in r.blocks):
            lines.append(
                _("{name}: {intact} with every block; it has no block that keeps the resolution to delete.").format(
                    **fill
                )
            )
        elif d.mean is None:
            lines.append(
                _(
                    "{name}: {intact} with every block; no deletion of a block that keeps the resolution gave a "
                    "finite accuracy."
                ).format(**fill)
            )
        elif d.count == 1:  # one such block: its accuracy is the mean and the worst, said once
            template = (
                _("{name}: {intact} with every block; deleting its one block that keeps the resolution leaves {mean}.")
                if d.kept is None
                else _(
                    "{name}: {intact} with every block; deleting its one block that keeps the resolution leaves "
                    "{mean}, {share} of the intact accuracy."
                )
            )
            lines.append(template.format(**fill, mean=percent(d.mean), share=share(d.kept)))
        elif d.kept is None:
            lines.append(
                _(
                    "{name}: {intact} with every block; deleting one block that keeps the resolution leaves {mean} "
                    "on average over its {count} (worst {worst})."
                ).format(**fill, mean=percent(d.mean), count=d.count, worst=percent(min(singles)))
            )
        else:
            lines.append(
                _(
                    "{name}: {intact} with every block; deleting one block that keeps the resolution leaves {mean} "
                    "on average over its {count} (worst {worst}), {share} of the intact accuracy."
                ).format(**fill, mean=percent(d.mean), count=d.count, worst=percent(min(singles)), share=share(d.kept))
            )
    verdict = one_block_verdict(plain, residual)  # needs both shares kept; "same" within SAME_SHARE
    kp, kr = one_deletion(plain).kept, one_deletion(residual).kept
    if verdict == "same":
        lines.append(
            _(
                "Both nets keep about the same share of their accuracy when one block is deleted "
                "({plain_share} and {residual_share})."
            ).format(plain_share=share(kp), residual_share=share(kr))
        )
    elif verdict is not None:
        ranked = [(names[0], kp), (names[1], kr)]  # verdict names the net that keeps more: it comes second
        (worse, kw), (better, kb) = ranked if verdict == "residual" else ranked[::-1]
        lines.append(
            _(
                "Deleting one block hurts the {worse} net more: it keeps {worse_share} of its accuracy, "
                "the {better} net {better_share}."
            ).format(worse=worse, worse_share=share(kw), better=better, better_share=share(kb))
        )
    shared = sorted({r.k for r in plain.random} & {r.k for r in residual.random})
    for k in sorted({shared[len(shared) // 2], shared[-1]}) if shared else []:  # a middle k and the largest
        p, q = (next(r for r in res.random if r.k == k) for res in (plain, residual))
        nets = {"k": k, "plain": names[0], "residual": names[1]}
        if p.std_acc == q.std_acc == 0:  # one subset (all blocks), or draws that all agree: no spread to show
            template = ngettext(
                "With {k} block deleted: {plain} {plain_acc}, {residual} {residual_acc}.",
                "With {k} blocks deleted: {plain} {plain_acc}, {residual} {residual_acc}.",
                k,
            )
            lines.append(template.format(**nets, plain_acc=percent(p.mean_acc), residual_acc=percent(q.mean_acc)))
        else:
            template = ngettext(
                "With {k} block deleted at random: {plain} {plain_acc} ± {plain_std}, {residual} {residual_acc} ± "
                "{residual_std} (mean ± std over the draws).",
                "With {k} blocks deleted at random: {plain} {plain_acc} ± {plain_std}, {residual} {residual_acc} ± "
                "{residual_std} (mean ± std over the draws).",
                k,
            )
            lines.append(
                template.format(
                    **nets,
                    plain_acc=percent(p.mean_acc),
                    plain_std=percent(p.std_acc),
                    residual_acc=percent(q.mean_acc),
                    residual_std=percent(q.std_acc),
                )
            )
    return lines


# --------------------------------------------------------------------------------------------
# The ensemble view (Veit et al. 2016, §3-5)


def paths(n: int) -> str:
    """How many paths 2^n is: exact below 10^15 (2^9 = 512), else to two digits (2^54 ≈ 1.8 × 10^16)."""
    total = 2**n
    if total < 10**15:
        return f"2^{n} = {total:,}"
    exp = int(n * math.log10(2))
    return f"2^{n} ≈ {total / 10**exp:.1f} × 10^{exp}"


def path_sentences(
    dist: PathLengths, name: str, *, downsampling: int, shortcut: str, plain_name: str | None = None
) -> list[str]:
    """What the distribution shows for the net `name`, which has `downsampling` of its n blocks
    changing resolution through shortcut option `shortcut` ("A" or "B")."""
    lo, hi, held = dist.central()
    lines = [
        _(
            "{name} unravels into {paths} paths: C({n}, k) of them pass through k residual branches, so their "
            "lengths follow Binomial({n}, 1/2) with mean {mean}, and {share} of them pass through {lo} to {hi} "
            "branches (Veit et al. 2016, §3 and §5)."
        ).format(name=name, paths=paths(dist.n), n=dist.n, mean=num(dist.mean), share=percent(held), lo=lo, hi=hi)
    ]
    if downsampling:
        if shortcut == "A":
            template = ngettext(
                "All {n} blocks count: the {down} that changes resolution still has a shortcut path (option A: a "
                "strided identity with zero-padded channels, no parameters), so it doubles the number of paths like "
                "any other block.",
                "All {n} blocks count: the {down} that change resolution still have a shortcut path (option A: a "
                "strided identity with zero-padded channels, no parameters), so each doubles the number of paths "
                "like any other block.",
                downsampling,
            )
        else:
            template = ngettext(
                "All {n} blocks count: the {down} that changes resolution still has a shortcut path (option B: a 1x1 "
                "projection), so it doubles the number of paths like any other block.",
                "All {n} blocks count: the {down} that change resolution still have a shortcut path (option B: a 1x1 "
                "projection), so each doubles the number of paths like any other block.",
                downsampling,
            )
        lines.append(template.format(n=dist.n, down=downsampling))
    if plain_name is not None:
        template = ngettext(
            "{name} has no shortcuts: one path, through its {n} block.",
            "{name} has no shortcuts: one path, through all {n} blocks.",
            dist.n,
        )
        lines.append(template.format(name=plain_name, n=dist.n))
    return lines


def _why_undefined(name: str, r: LesionResult) -> str:
    """Why a net's share kept after one deletion is undefined, as one sentence."""
    d = one_deletion(r)
    if not any(not b.downsampling for b in r.blocks):
        return _("{name} has no block that keeps the resolution to delete.").format(name=name)
    if d.count == 0:
        return _("No single deletion in {name} gave a finite accuracy.").format(name=name)
    if not is_number(d.baseline):
        return _("{name}'s intact accuracy is {intact}.").format(name=name, intact=percent(d.baseline))
    return _("{name}'s intact accuracy is {intact}: there is no accuracy to lose.").format(
        name=name, intact=percent(d.baseline)
    )


# The reading of one deletion, by case: the measured head is part of every template, so each is whole.
_ONE_BLOCK: dict[str, str] = {
    "same": N_(
        "Deleting one block (mean over those that keep the resolution) took {residual} from {residual_from} to "
        "{residual_to} ({residual_change} of its intact accuracy) and {plain} from {plain_from} to {plain_to} "
        "({plain_change} of its intact accuracy): both keep about the same share (within {band} points), so this "
        "pair does not show the robustness to deletion that Veit et al. (2016, §4) measured in residual nets."
    ),
    "plain": N_(
        "Deleting one block (mean over those that keep the resolution) took {residual} from {residual_from} to "
        "{residual_to} ({residual_change} of its intact accuracy) and {plain} from {plain_from} to {plain_to} "
        "({plain_change} of its intact accuracy): here the plain net keeps more of its accuracy, the opposite of "
        "Veit et al. (2016, §4)."
    ),
    "ensemble": N_(
        "Deleting one block (mean over those that keep the resolution) took {residual} from {residual_from} to "
        "{residual_to} ({residual_change} of its intact accuracy) and {plain} from {plain_from} to {plain_to} "
        "({plain_change} of its intact accuracy): the residual net keeps most of its accuracy. That is consistent "
        "with Veit et al.'s (2016, §4) reading of residual nets as ensemble-like collections of relatively shallow "
        "paths, but does not prove it: the paths share the blocks' weights and were trained together, so they are "
        "not independent networks. Deleting a block removes the paths through its branch, half of its {paths}, and "
        "the other half still carry the signal; the plain net has one path, through every block, and each deletion "
        "alters it."
    ),
    "residual": N_(
        "Deleting one block (mean over those that keep the resolution) took {residual} from {residual_from} to "
        "{residual_to} ({residual_change} of its intact accuracy) and {plain} from {plain_from} to {plain_to} "
        "({plain_change} of its intact accuracy): the residual net keeps more, but losing {lost} to one deletion "
        "is far from the barely noticeable drop Veit et al. (2016, §4) measured for a 110-layer residual net."
    ),
}


def one_block_sentence(plain: LesionResult, residual: LesionResult, names: Names = ("plain", "residual")) -> str:
    """Whether one deletion cost the residual net a little and the plain net a lot: consistent with
    Veit et al.'s ensemble reading, never proof of it."""
    dp, dr = one_deletion(plain), one_deletion(residual)
    verdict = one_block_verdict(plain, residual)
    if verdict is None or dp.kept is None or dr.kept is None:
        reasons = [_why_undefined(n, r) for n, r in zip(names, (plain, residual)) if one_deletion(r).kept is None]
        return " ".join([_("The two nets cannot be compared on one deletion."), *reasons])
    key = "ensemble" if verdict == "residual" and dr.kept >= ENSEMBLE_KEEPS else verdict
    return _(_ONE_BLOCK[key]).format(
        residual=names[1],
        residual_from=percent(dr.baseline),
        residual_to=percent(dr.mean),
        residual_change=change(dr.kept - 1),
        plain=names[0],
        plain_from=percent(dp.baseline),
        plain_to=percent(dp.mean),
        plain_change=change(dp.kept - 1),
        band=num(100 * SAME_SHARE),
        paths=paths(len(residual.blocks)),
        lost=percent(1 - dr.kept),
    )


# The curve over k, by its shape; {intact}, {last} and {k}: accuracy intact and with the most (k) deleted.
_DECLINE: dict[str, str] = {
    "none": N_("{name}: no random deletions were measured."),
    "few": N_(
        "{name}: only k = {measured} could be measured ({intact} intact, {last} with {k} deleted): too few "
        "values of k to judge the curve's shape."
    ),
    "flat": N_(
        "{name}: accuracy barely changes as random blocks are deleted ({intact} intact, {last} with {k} deleted)."
    ),
    "rises": N_(
        "{name}: accuracy does not fall as random blocks are deleted ({intact} intact, {last} with {k} deleted)."
    ),
    "smooth": N_(
        "{name}: accuracy falls smoothly with the number of random deletions ({intact} intact, {last} with {k} "
        "deleted); its steepest step, {steepest} points per block from k = {k0} to {k1}, is within {band} the "
        "average fall of {average} points per block."
    ),
    "cliff": N_(
        "{name}: accuracy does not fall smoothly: it loses {steepest} points per block from k = {k0} to {k1}, "
        "{factor} its average fall of {average} points per block ({intact} intact, {last} with {k} deleted)."
    ),
}
# Which accuracies are not finite numbers: the intact one, some with k deleted, or both.
_NOT_FINITE: dict[str, str] = {
    "intact": N_("{name}: the accuracy intact is not a finite number, so the curve's shape cannot be judged."),
    "deleted": N_(
        "{name}: the accuracy with k = {ks} deleted is not a finite number, so the curve's shape cannot be judged."
    ),
    "both": N_(
        "{name}: the accuracy intact and with k = {ks} deleted is not a finite number, so the curve's shape "
        "cannot be judged."
    ),
}


def decline_sentence(r: LesionResult, name: str) -> str:
    """Whether the accuracy with k random deletions falls smoothly with k (Veit et al. 2016, §4)."""
    d = decline(r)
    if d.shape == "nonfinite":
        bad = [k for k, a in zip(d.ks, d.accs) if not is_number(a)]
        deleted = [k for k in bad if k]
        key = "both" if deleted and bad[0] == 0 else "deleted" if deleted else "intact"
        return _(_NOT_FINITE[key]).format(name=name, ks=listing(map(str, deleted)))
    steepest, average, (k0, k1) = d.steepest, d.average, d.between or (0, 0)
    return _(_DECLINE[d.shape]).format(
        name=name,
        measured=listing(map(str, d.ks[1:])),
        intact=percent(d.accs[0]),
        last=percent(d.accs[-1]),
        k=d.ks[-1],
        steepest=points(steepest),
        k0=k0,
        k1=k1,
        band=times(SMOOTH_FACTOR),
        average=points(average),
        factor=times(steepest / average) if steepest is not None and average else times(None),
    )


def ensemble_sentences(plain: LesionResult, residual: LesionResult, names: Names = ("plain", "residual")) -> list[str]:
    """The ensemble reading of a lesion pair: one deletion, then the curve over k, per net."""
    return [
        one_block_sentence(plain, residual, names),
        decline_sentence(residual, names[1]),
        decline_sentence(plain, names[0]),
    ]


# --------------------------------------------------------------------------------------------
# Layer responses (He et al. 2016, §4.2 and Fig. 7)

_RESPONSE: dict[str, str] = {
    "same": N_("The two nets' layers respond about equally strongly (means within {band}%)."),
    "residual": N_(
        "The {residual} net's layers respond less, as He et al. (2016, Fig. 7) found for residual functions."
    ),
    "plain": N_("Here the {residual} net's layers respond more: the opposite of He et al. (2016, Fig. 7)."),
}


def response_sentences(
    plain: Sequence[tuple[str, float]], residual: Sequence[tuple[str, float]], names: Names = ("plain", "residual")
) -> list[str]:
    """The mean response std of each net and which is smaller (He et al.'s observation, or not);
    means within SAME_RESPONSE (5%) of each other are called about equal rather than ranked."""
    if not plain or not residual:
        return []
    lines = [
        _("Mean std of a 3x3 layer's response: {plain} {plain_std}, {residual} {residual_std}.").format(
            plain=names[0],
            plain_std=num(mean_response(plain)),
            residual=names[1],
            residual_std=num(mean_response(residual)),
        )
    ]
    verdict = quieter(plain, residual)
    if verdict is not None:
        lines.append(_(_RESPONSE[verdict]).format(residual=names[1], band=num(100 * SAME_RESPONSE)))
    return lines


__all__ = [
    "decline_sentence",
    "ensemble_sentences",
    "lesion_sentences",
    "one_block_sentence",
    "path_sentences",
    "paths",
    "response_sentences",
]
