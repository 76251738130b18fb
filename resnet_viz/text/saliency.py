"""Where a plain net and its residual twin look (the saliency page), from their localisation scores
(:class:`resnet_viz.localisation.Track`), and what a photo becomes for a net trained on small images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import _, ngettext
from .numbers import band, is_number, listing, pct

if TYPE_CHECKING:
    from ..localisation import Track

ON_OBJECT_POINTS = 10.0  # share inside the mask this many points above an even spread: "looks at the shape"
LOOK_GAP_POINTS = 5.0  # a gap in share inside smaller than this between the twins is "about the same"
SHOWN_CLASSES = 10  # class names listed in the upload sentence before "..."


def _accuracies(plain: Track, res: Track, n_classes: int) -> str:
    """How well each twin trained, against guessing; who degraded."""
    gap = 100 * (res.train_acc - plain.train_acc)
    values = {
        "plain": plain.label,
        "residual": res.label,
        "plain_acc": pct(plain.train_acc),
        "residual_acc": pct(res.train_acc),
        "guess": pct(1 / n_classes),
        "classes": n_classes,
        "gap": f"{abs(gap):.0f}",
    }
    verdict = band(gap)
    if verdict == "above":
        template = _(
            "{plain} ended at {plain_acc} training accuracy and {residual} at {residual_acc} (guessing scores "
            "{guess} with {classes} classes): the plain net trained worse by {gap} points: it degraded."
        )
    elif verdict == "below":
        template = _(
            "{plain} ended at {plain_acc} training accuracy and {residual} at {residual_acc} (guessing scores "
            "{guess} with {classes} classes): here the residual net trained worse, by {gap} points."
        )
    else:
        template = _(
            "{plain} ended at {plain_acc} training accuracy and {residual} at {residual_acc} (guessing scores "
            "{guess} with {classes} classes): both trained about as well."
        )
    return template.format(**values)


def _looks(t: Track, chance: float, n_images: int) -> str:
    """Where a twin's final maps look, against a map spread evenly (`chance` of the energy inside)."""
    energy = t.final_energy
    values = {"n": n_images, "label": t.label, "energy": pct(energy), "peak": pct(t.final_peak)}
    if not is_number(energy):
        return ngettext(
            "On {n} test image, {label}'s Grad-CAM maps point nowhere: every map was zero.",
            "On {n} test images, {label}'s Grad-CAM maps point nowhere: every map was zero.",
            n_images,
        ).format(**values)
    gap = 100 * (energy - chance) if is_number(chance) else math.nan
    if not is_number(gap):
        template = ngettext(
            "On {n} test image, {label}'s Grad-CAM maps put {energy} of their energy inside the shape; their "
            "maximum fell inside it on {peak} of the images.",
            "On {n} test images, {label}'s Grad-CAM maps put {energy} of their energy inside the shape; their "
            "maximum fell inside it on {peak} of the images.",
            n_images,
        )
    elif gap >= ON_OBJECT_POINTS:
        template = ngettext(
            "On {n} test image, {label}'s Grad-CAM maps look at the shape ({energy} of their energy inside it); "
            "their maximum fell inside it on {peak} of the images.",
            "On {n} test images, {label}'s Grad-CAM maps look at the shape ({energy} of their energy inside it); "
            "their maximum fell inside it on {peak} of the images.",
            n_images,
        )
    elif gap <= -ON_OBJECT_POINTS:
        template = ngettext(
            "On {n} test image, {label}'s Grad-CAM maps look away from the shape, at the background ({energy} "
            "inside it); their maximum fell inside it on {peak} of the images.",
            "On {n} test images, {label}'s Grad-CAM maps look away from the shape, at the background ({energy} "
            "inside it); their maximum fell inside it on {peak} of the images.",
            n_images,
        )
    else:
        template = ngettext(
            "On {n} test image, {label}'s Grad-CAM maps look no more at the shape than a map spread evenly would "
            "({energy} inside it); their maximum fell inside it on {peak} of the images.",
            "On {n} test images, {label}'s Grad-CAM maps look no more at the shape than a map spread evenly would "
            "({energy} inside it); their maximum fell inside it on {peak} of the images.",
            n_images,
        )
    return template.format(**values)


def _compare(plain: Track, res: Track) -> str:
    """Whose maps sit on the shape more, by how many points of energy inside it."""
    diff = 100 * (res.final_energy - plain.final_energy)
    if diff >= LOOK_GAP_POINTS:
        return _("The residual net's maps sit on the shape more than the plain net's, by {gap} points.").format(
            gap=f"{diff:.0f}"
        )
    if diff <= -LOOK_GAP_POINTS:
        return _(
            "Here the plain net's maps sit on the shape more than the residual net's, by {gap} points: a map can "
            "point at the object while the net still gets it wrong, so read it beside the accuracy."
        ).format(gap=f"{-diff:.0f}")
    return _("Both nets' maps sit on the shape about equally (within {limit} points).").format(
        limit=f"{LOOK_GAP_POINTS:.0f}"
    )


def _moved(t: Track, i: str = "") -> dict[str, object]:
    """The placeholders of one twin's move: label, start, start_step, end, end_step (suffixed `i`)."""
    values = {"label": t.label, "start": pct(t.energy[0]), "start_step": t.steps[0]}
    values.update(end=pct(t.energy[-1]), end_step=t.steps[-1])
    return {f"{k}{i}": v for k, v in values.items()}


def _moves(tracks: Sequence[Track]) -> str | None:
    """How the share inside the shape moved from the first snapshot to the last, per twin."""
    moved = [t for t in tracks if len(t.energy) > 1 and is_number(t.energy[0]) and is_number(t.energy[-1])]
    if len(moved) == 1:
        return _(
            "Over training, the share inside the shape went {label}'s from {start} (step {start_step}) to {end} "
            "(step {end_step})."
        ).format(**_moved(moved[0]))
    if len(moved) == 2:
        return _(
            "Over training, the share inside the shape went {label1}'s from {start1} (step {start_step1}) to "
            "{end1} (step {end_step1}); {label2}'s from {start2} (step {start_step2}) to {end2} (step {end_step2})."
        ).format(**_moved(moved[0], "1"), **_moved(moved[1], "2"))
    return None


def localisation_reading(tracks: Sequence[Track], chance: float, n_images: int, n_classes: int) -> list[str]:
    """Sentences on where a plain net and its residual twin look, each from the scores it is given:
    how well each trained, where its final maps sit against an even spread, which looks at the
    object more, and how that moved over training."""
    plain = next((t for t in tracks if not t.residual), None)
    res = next((t for t in tracks if t.residual), None)
    out: list[str] = []
    if plain is not None and res is not None and is_number(plain.train_acc) and is_number(res.train_acc):
        out.append(_accuracies(plain, res, n_classes))
    out.extend(_looks(t, chance, n_images) for t in (res, plain) if t is not None)
    if is_number(chance):
        out.append(
            _("A map spread evenly over the image would put {chance} inside the shape: the line to beat.").format(
                chance=pct(chance)
            )
        )
    if plain is not None and res is not None and is_number(plain.final_energy) and is_number(res.final_energy):
        out.append(_compare(plain, res))
    moves = _moves([t for t in (res, plain) if t is not None])
    if moves is not None:
        out.append(moves)
    return out


def upload_sentence(size: int | None, channels: int, data_title: str | None, classes: Sequence[str]) -> str:
    """What a photo becomes for nets trained on a small dataset (`data_title`; None when unknown),
    said before their maps are read: a `size` x `size` picture, one of `classes` as the answer."""
    names = listing(classes[:SHOWN_CLASSES])
    if len(classes) > SHOWN_CLASSES:
        names = _("{names}, ...").format(names=names)
    values = {
        "size": size,
        "title": data_title if data_title is not None else _("their data"),
        "n": len(classes),
        "names": names,
    }
    if channels == 1:
        template = ngettext(
            "These nets see your photo as the {size}x{size} grey picture below, the size of the images they were "
            "trained on ({title}). They know only {n} class ({names}): whatever the photo shows, they answer with "
            "that one, and their maps say where that answer came from, not where the photo's object is. For photos, "
            "choose an ImageNet ResNet under Networks (its weights are fetched once).",
            "These nets see your photo as the {size}x{size} grey picture below, the size of the images they were "
            "trained on ({title}). They know only {n} classes ({names}): whatever the photo shows, they answer with "
            "one of those, and their maps say where that answer came from, not where the photo's object is. For "
            "photos, choose an ImageNet ResNet under Networks (its weights are fetched once).",
            len(classes),
        )
    else:
        template = ngettext(
            "These nets see your photo as the {size}x{size} colour picture below, the size of the images they were "
            "trained on ({title}). They know only {n} class ({names}): whatever the photo shows, they answer with "
            "that one, and their maps say where that answer came from, not where the photo's object is. For photos, "
            "choose an ImageNet ResNet under Networks (its weights are fetched once).",
            "These nets see your photo as the {size}x{size} colour picture below, the size of the images they were "
            "trained on ({title}). They know only {n} classes ({names}): whatever the photo shows, they answer with "
            "one of those, and their maps say where that answer came from, not where the photo's object is. For "
            "photos, choose an ImageNet ResNet under Networks (its weights are fetched once).",
            len(classes),
        )
    return template.format(**values)


__all__ = ["LOOK_GAP_POINTS", "ON_OBJECT_POINTS", "localisation_reading", "upload_sentence"]
