"""Where a plain net and its residual twin look (the saliency page), from their localisation scores
(:class:`resnet_viz.saliency.localisation.Track`), and what a photo becomes for a net trained on small images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import _, ngettext
from .numbers import DEGRADED_POINTS, band, is_number, listing, pct, points

if TYPE_CHECKING:
    from ..saliency.localisation import Track

# A share within this many standard errors of an even spread's is "about as much as an even spread":
# the mean over images of (share inside - the mask's share) is roughly normal (Track.gap_se, 100 images),
# so two standard errors are a band of about 95%.
NOISE_SE = 2.0
LOOK_GAP_POINTS = 5.0  # the twins' shares inside closer than this, or than their noise, are "about the same"
SHOWN_CLASSES = 10  # class names listed in the upload sentence before "..."


def _accuracies(plain: Track, res: Track, n_classes: int) -> tuple[str, bool]:
    """How well each twin trained, against guessing and against each other; and whether the plain
    net ended below its twin (a gap to the twin, not degradation: see _degradation)."""
    gap = 100 * (res.train_acc - plain.train_acc)
    values = {
        "plain": plain.label,
        "residual": res.label,
        "plain_acc": pct(plain.train_acc),
        "residual_acc": pct(res.train_acc),
        "guess": pct(1 / n_classes),
        "classes": n_classes,
        "gap": points(abs(res.train_acc - plain.train_acc)),
        "limit": f"{DEGRADED_POINTS:g}",
    }
    verdict = band(gap)
    if verdict == "above":
        template = _(
            "{plain} ended at {plain_acc} training accuracy and {residual} at {residual_acc} (guessing at random "
            "scores {guess} with {classes} classes): the plain net ended {gap} points below its residual twin."
        )
    elif verdict == "below":
        template = _(
            "{plain} ended at {plain_acc} training accuracy and {residual} at {residual_acc} (guessing at random "
            "scores {guess} with {classes} classes): here the residual net ended {gap} points below the plain net."
        )
    else:
        template = _(
            "{plain} ended at {plain_acc} training accuracy and {residual} at {residual_acc} (guessing at random "
            "scores {guess} with {classes} classes): both trained about as well (within {limit} points)."
        )
    return template.format(**values), verdict == "above"


def _degradation(plain: Track, shallower: tuple[str, float] | None, trails: bool) -> str | None:
    """Whether the plain net degraded, in He et al.'s sense (2016, §1 and Fig. 1): a deeper plain net
    with a higher training error than a shallower plain net trained alike. Said only from that
    evidence (`shallower`: its label and final training accuracy, from the run store); without it,
    and while the plain net trails its twin, where the learner can check it."""
    if shallower is not None and is_number(shallower[1]) and is_number(plain.train_acc):
        label, acc = shallower
        values = {
            "shallow": label,
            "shallow_acc": pct(acc),
            "plain": plain.label,
            "gap": points(abs(acc - plain.train_acc)),
            "limit": f"{DEGRADED_POINTS:g}",
        }
        verdict = band(100 * (acc - plain.train_acc))
        if verdict == "above":
            template = _(
                "{shallow}, a shallower plain net trained the same way on the same data, reached {shallow_acc} "
                "training accuracy, {gap} points above {plain}: the deeper plain net trained worse than the "
                "shallower one, which is degradation as He et al. (2016, §1 and Fig. 1) define it."
            )
        elif verdict == "below":
            template = _(
                "{shallow}, a shallower plain net trained the same way on the same data, reached {shallow_acc} "
                "training accuracy, {gap} points below {plain}; the deeper plain net trained better: no degradation "
                "here."
            )
        else:
            template = _(
                "{shallow}, a shallower plain net trained the same way on the same data, reached {shallow_acc} "
                "training accuracy, within {limit} points of {plain}: no degradation here, which needs the deeper "
                "plain net to train worse than the shallower one (He et al. 2016, §1)."
            )
        return template.format(**values)
    if trails:
        return _(
            "Trailing its residual twin is not by itself degradation: He et al. (2016, §1 and Fig. 1) call "
            "degradation a deeper plain net reaching a higher training error than a shallower plain net. The run "
            "store holds no shallower plain net trained like {plain}; the Degradation explorer trains plain nets "
            "of several depths to check."
        ).format(plain=plain.label)
    return None


def _looks(t: Track, chance: float, n_images: int) -> str:
    """Where a twin's final maps look, against a map spread evenly (`chance` of the energy inside),
    told apart from it only beyond the noise of the images (NOISE_SE standard errors, Track.gap_se)."""
    energy = t.final_energy
    values = {"n": n_images, "label": t.label, "energy": pct(energy), "peak": pct(t.final_peak)}
    if not is_number(energy):
        return ngettext(
            "On {n} test image, {label}'s Grad-CAM maps point nowhere: every map was zero.",
            "On {n} test images, {label}'s Grad-CAM maps point nowhere: every map was zero.",
            n_images,
        ).format(**values)
    gap = energy - chance if is_number(chance) else math.nan
    noise = NOISE_SE * t.final_gap_se if is_number(t.final_gap_se) else math.nan
    if not (is_number(gap) and is_number(noise)):  # no line, or no noise to measure a distance from it against
        template = ngettext(
            "On {n} test image, {label}'s Grad-CAM maps put on average {energy} of their energy inside the shape; "
            "their maximum fell inside it on {peak} of the images.",
            "On {n} test images, {label}'s Grad-CAM maps put on average {energy} of their energy inside the shape; "
            "their maximum fell inside it on {peak} of the images.",
            n_images,
        )
        return template.format(**values)
    values.update(chance=pct(chance), gap=points(abs(gap)), noise=points(noise), k=f"{NOISE_SE:g}")
    if abs(gap) <= noise:
        template = ngettext(
            "On {n} test image, {label}'s Grad-CAM maps put on average {energy} of their energy inside the shape, "
            "about as much as a map spread evenly would ({chance}): the {gap}-point difference is within the noise "
            "of these images (±{noise} points, {k} standard errors); their maximum fell inside it on {peak} of the "
            "images.",
            "On {n} test images, {label}'s Grad-CAM maps put on average {energy} of their energy inside the shape, "
            "about as much as a map spread evenly would ({chance}): the {gap}-point difference is within the noise "
            "of these images (±{noise} points, {k} standard errors); their maximum fell inside it on {peak} of the "
            "images.",
            n_images,
        )
    elif gap > 0:
        template = ngettext(
            "On {n} test image, {label}'s Grad-CAM maps put on average {energy} of their energy inside the shape, "
            "{gap} points more than a map spread evenly would ({chance}), beyond the noise of these images "
            "(±{noise} points, {k} standard errors); their maximum fell inside it on {peak} of the images.",
            "On {n} test images, {label}'s Grad-CAM maps put on average {energy} of their energy inside the shape, "
            "{gap} points more than a map spread evenly would ({chance}), beyond the noise of these images "
            "(±{noise} points, {k} standard errors); their maximum fell inside it on {peak} of the images.",
            n_images,
        )
    else:
        template = ngettext(
            "On {n} test image, {label}'s Grad-CAM maps put on average {energy} of their energy inside the shape, "
            "{gap} points less than a map spread evenly would ({chance}), beyond the noise of these images "
            "(±{noise} points, {k} standard errors): pixel for pixel they weigh the background more than the "
            "shape; their maximum fell inside it on {peak} of the images.",
            "On {n} test images, {label}'s Grad-CAM maps put on average {energy} of their energy inside the shape, "
            "{gap} points less than a map spread evenly would ({chance}), beyond the noise of these images "
            "(±{noise} points, {k} standard errors): pixel for pixel they weigh the background more than the "
            "shape; their maximum fell inside it on {peak} of the images.",
            n_images,
        )
    return template.format(**values)


def _compare(plain: Track, res: Track) -> str:
    """Whose maps put more energy inside the shape, by how many points, beyond LOOK_GAP_POINTS and
    beyond the noise of the difference when both twins carry one."""
    diff = res.final_energy - plain.final_energy
    limit = LOOK_GAP_POINTS / 100
    if is_number(plain.final_gap_se) and is_number(res.final_gap_se):
        # The standard error of a difference of two means, as if the twins' per-image gaps were independent;
        # on the same images they rather vary together, which makes this band, if anything, too wide.
        limit = max(limit, NOISE_SE * math.hypot(plain.final_gap_se, res.final_gap_se))
    if diff >= limit:
        return _(
            "The residual net's maps put {gap} points more of their energy inside the shape than the plain net's."
        ).format(gap=points(diff))
    if diff <= -limit:
        return _(
            "Here the plain net's maps put {gap} points more of their energy inside the shape than the residual "
            "net's: a map can point at the object while the net still gets it wrong, so read it beside the accuracy."
        ).format(gap=points(-diff))
    return _(
        "Both nets' maps put about the same share of their energy inside the shape (within {limit} points)."
    ).format(limit=f"{100 * limit:.3g}")


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
            "Over training, {label}'s share of map energy inside the shape went from {start} (step {start_step}) to "
            "{end} (step {end_step})."
        ).format(**_moved(moved[0]))
    if len(moved) == 2:
        return _(
            "Over training, {label1}'s share of map energy inside the shape went from {start1} (step {start_step1}) "
            "to {end1} (step {end_step1}); {label2}'s from {start2} (step {start_step2}) to {end2} (step "
            "{end_step2})."
        ).format(**_moved(moved[0], "1"), **_moved(moved[1], "2"))
    return None


def localisation_reading(
    tracks: Sequence[Track],
    chance: float,
    n_images: int,
    n_classes: int,
    shallower: tuple[str, float] | None = None,
) -> list[str]:
    """Sentences on where a plain net and its residual twin look, each from the scores it is given:
    how well each trained, whether the plain net degraded (only from `shallower`, the label and
    final training accuracy of a shallower plain net trained the same way, or None: see
    resnet_viz.saliency.localisation.shallower_plain), where the final maps sit against an even spread,
    which looks at the object more, and how that moved over training."""
    plain = next((t for t in tracks if not t.residual), None)
    res = next((t for t in tracks if t.residual), None)
    out: list[str] = []
    trails = False
    if plain is not None and res is not None and is_number(plain.train_acc) and is_number(res.train_acc):
        sentence, trails = _accuracies(plain, res, n_classes)
        out.append(sentence)
    if plain is not None:
        degraded = _degradation(plain, shallower, trails)
        if degraded is not None:
            out.append(degraded)
    out.extend(_looks(t, chance, n_images) for t in (res, plain) if t is not None)
    if is_number(chance):
        out.append(
            _(
                "A map's energy here is the sum of its values; a map spread evenly over the image would put {chance} "
                "of it inside the shape (the shape's average share of the image): the line to beat."
            ).format(chance=pct(chance))
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


__all__ = ["LOOK_GAP_POINTS", "NOISE_SE", "localisation_reading", "upload_sentence"]
