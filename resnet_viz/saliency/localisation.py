"""Where a deep plain net looks, against its residual twin: Grad-CAM localisation over training.

The saliency page's lesson. Twins trained by one press on a dataset with ground-truth masks
(the generated shapes) are scored on the same test images at every weight snapshot kept during
training: the share of each Grad-CAM map's energy (the sum of its values) inside the object's
mask, and how often the map's maximum falls inside it (:func:`mean_localisation`). A map spread
evenly over the image scores the mask's share of the image (:func:`chance_share`), so that is
the line a net has to beat before one can say it looks at the object; each point also carries
the standard error of its distance from that line over the images (:attr:`Track.gap_se`), the
noise a difference has to exceed.

Whether the plain net *degraded* is a different question (He et al. 2016, §1 and Fig. 1: a deeper
plain net reaching a higher training error than a shallower plain net): :func:`shallower_plain`
finds, in the store, the shallower plain net trained the same way that the reading compares with.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..engine.checkpoints import load_model
from ..engine.config import TrainConfig
from ..engine.runs import RunInfo, RunStore, twin_groups
from ..i18n import _
from .maps import LAYER_METHODS, SaliencyError, Target, attribute, frozen_copy, num_classes, resolve_layer, targets_for

MASKED_DATASETS: tuple[str, ...] = ("shapes", "clutter")  # generated datasets that come with object masks
N_SCORED = 100  # test images each snapshot is scored on: the same ones for every net and step


def localisation_score(cam: torch.Tensor, mask: torch.Tensor) -> tuple[float, bool]:
    """How well a non-negative map (H, W) points at the object given by a bool mask (H, W).

    Returns (share of the map's total inside the mask, whether its maximum lies inside). The
    maximum is the first arg-max in row-major order. An all-zero map points nowhere: (nan, False).
    """
    cam = torch.as_tensor(cam).detach().double().cpu()
    mask = torch.as_tensor(mask).detach().bool().cpu()
    if cam.dim() != 2 or cam.shape != mask.shape:
        raise SaliencyError(
            _("cam and mask must both be (H, W) of one size; got {cam} and {mask}").format(
                cam=tuple(cam.shape), mask=tuple(mask.shape)
            )
        )
    if (cam < 0).any():
        raise SaliencyError(_("cam must be non-negative (a Grad-CAM, saliency or |attribution| map)"))
    total = float(cam.sum())
    if not total > 0:
        return math.nan, False
    inside = float(cam[mask].sum()) / total
    return inside, bool(mask.reshape(-1)[cam.argmax()])


def mean_localisation(
    model: nn.Module,
    images: torch.Tensor,
    masks: torch.Tensor,
    *,
    method: str = "gradcam",
    layer: str | nn.Module | None = None,
    target: Target = None,
    batch: int = 50,
) -> tuple[float, float]:
    """Over N images (N, C, H, W) with masks (N, H, W): (mean share of map inside the mask,
    skipping all-zero maps; fraction of images whose map peaks inside the mask).

    One frozen copy serves all batches of `batch` images. target: None scores each image's top-1
    map; pass the labels to score the true class's map. Either mean is nan if no map counts.
    """
    scores = localisation_scores(model, images, masks, method=method, layer=layer, target=target, batch=batch)
    shares = [s for s, _hit in scores if not math.isnan(s)]
    mean_share = sum(shares) / len(shares) if shares else math.nan
    return mean_share, sum(hit for _share, hit in scores) / len(scores)


def localisation_scores(
    model: nn.Module,
    images: torch.Tensor,
    masks: torch.Tensor,
    *,
    method: str = "gradcam",
    layer: str | nn.Module | None = None,
    target: Target = None,
    batch: int = 50,
) -> list[tuple[float, bool]]:
    """:func:`localisation_score` of each of N images (N, C, H, W) with masks (N, H, W), in order
    (nan, False for an all-zero map); arguments as :func:`mean_localisation`'s."""
    if images.dim() != 4 or masks.shape != (images.shape[0], *images.shape[-2:]):
        raise SaliencyError(
            _("masks must be (N, H, W) matching images (N, C, H, W); got {masks} and {images}").format(
                masks=tuple(masks.shape), images=tuple(images.shape)
            )
        )
    n = images.shape[0]
    if n == 0 or batch < 1:
        raise SaliencyError(
            _("need at least one image and batch >= 1; got {n} images, batch {batch}").format(n=n, batch=batch)
        )
    per_image = targets_for(target, n, num_classes(model))
    if method in LAYER_METHODS:
        layer = resolve_layer(model, layer)  # a name: it also finds the block in the copy
    net = frozen_copy(model)
    scores: list[tuple[float, bool]] = []
    for start in range(0, n, batch):
        sl = slice(start, start + batch)
        t = None if per_image is None else per_image[sl]
        cams = attribute(net, images[sl], method, layer, t, frozen=True)  # (b, H, W)
        scores.extend(localisation_score(cam, mask) for cam, mask in zip(cams, masks[sl]))
    return scores


def gap_standard_error(scores: Sequence[tuple[float, bool]], masks: torch.Tensor) -> float:
    """The standard error of the mean of (share inside - the mask's share of the image) over the
    images whose map counted (`scores` from :func:`localisation_scores`, `masks` (N, H, W)): the
    noise of a mean share's distance from an even spread, from how much that distance varies
    between images. nan with fewer than two counted images."""
    fractions = torch.as_tensor(masks).float().flatten(1).mean(dim=1).tolist()
    gaps = [share - f for (share, _hit), f in zip(scores, fractions) if not math.isnan(share)]
    return statistics.stdev(gaps) / math.sqrt(len(gaps)) if len(gaps) > 1 else math.nan


@dataclass(frozen=True)
class Track:
    """One net's localisation at each kept snapshot, oldest first."""

    label: str  # e.g. "plain-32"
    residual: bool
    steps: tuple[int, ...]  # training steps of the snapshots (0: before the first update)
    energy: tuple[float, ...]  # mean share of the map inside the mask, per step (nan: every map was zero)
    peak: tuple[float, ...]  # share of images whose map peaks inside the mask, per step
    train_acc: float  # final training accuracy in [0, 1] (nan if the run recorded none)
    # Standard error of each step's mean (share inside - the mask's share of the image), over the images
    # whose map counted (gap_standard_error; nan: not measured, or fewer than two such images).
    gap_se: tuple[float, ...] = ()

    @property
    def final_energy(self) -> float:
        return self.energy[-1] if self.energy else math.nan

    @property
    def final_peak(self) -> float:
        return self.peak[-1] if self.peak else math.nan

    @property
    def final_gap_se(self) -> float:
        return self.gap_se[-1] if self.gap_se else math.nan


def is_masked_pair(runs: Sequence[RunInfo]) -> bool:
    """A plain net and a residual net trained together on a dataset with object masks."""
    kinds = {r.model.residual for r in runs}
    return kinds == {False, True} and all(r.data.name in MASKED_DATASETS for r in runs)


def newest_pair(groups: dict[str, list[RunInfo]]) -> str | None:
    """The key of the newest group that is a masked plain/residual pair, or None."""
    return next((key for key, runs in groups.items() if is_masked_pair(runs)), None)


def chance_share(masks: torch.Tensor) -> float:
    """The score of a map spread evenly over the image: the mean share of pixels inside the mask."""
    masks = torch.as_tensor(masks)
    if masks.numel() == 0:
        return math.nan
    return float(masks.float().mean())


def track(
    store: RunStore,
    info: RunInfo,
    images: torch.Tensor,
    masks: torch.Tensor,
    *,
    method: str = "gradcam",
    layer: str | None = None,
) -> Track:
    """Score `info`'s snapshots (and its final weights when no snapshot is at the last step) on
    `images` (N, C, H, W) with `masks` (N, H, W). Raises RunStoreError for a snapshot that cannot
    be loaded and SaliencyError for a method or layer the net does not have."""
    steps = store.snapshot_steps(info.run_id)
    loads: list[tuple[int, int | None]] = [(s, s) for s in steps]
    if not steps or steps[-1] < info.step:
        loads.append((info.step, None))  # None: weights.pt, the net as training left it
    energy, peak, gap_se = [], [], []
    for _at, step in loads:
        model = load_model(store, info.run_id, step=step)
        scores = localisation_scores(model, images, masks, method=method, layer=layer)
        shares = [s for s, _hit in scores if not math.isnan(s)]
        energy.append(sum(shares) / len(shares) if shares else math.nan)
        peak.append(sum(hit for _share, hit in scores) / len(scores))
        gap_se.append(gap_standard_error(scores, masks))
    acc = (info.extra.get("summary") or {}).get("train_acc")
    return Track(
        label=info.label,
        residual=info.model.residual,
        steps=tuple(s for s, _file in loads),
        energy=tuple(energy),
        peak=tuple(peak),
        train_acc=float(acc) if isinstance(acc, (int, float)) else math.nan,
        gap_se=tuple(gap_se),
    )


def _train_acc(info: RunInfo) -> float | None:
    acc = (info.extra.get("summary") or {}).get("train_acc")
    return float(acc) if isinstance(acc, (int, float)) and not isinstance(acc, bool) and math.isfinite(acc) else None


def _recipe(train: TrainConfig) -> TrainConfig:
    """What of a run's training shapes its result, the seed aside (another draw of the same recipe)
    and what only records or places it (probes, log cadence, device)."""
    return dataclasses.replace(train, seed=0, probe_every=0, log_every=1, device="auto")


def shallower_plain(plain: RunInfo, runs: Iterable[RunInfo]) -> tuple[str, float] | None:
    """Among finished `runs`, the shallower plain net trained the same way as `plain` (same data,
    same model but for its depth, same training recipe whatever the seed) with the highest final
    training accuracy: (its label, that accuracy), or None when there is none (or `plain` is not
    a plain net). The evidence degradation needs (He et al. 2016, §1 and Fig. 1): a deeper plain
    net with a higher training error than a shallower one trained alike."""
    if plain.model.residual:
        return None
    found: list[tuple[float, str]] = []
    for r in runs:
        acc = _train_acc(r)
        if (
            r.status == "finished"
            and acc is not None
            and not r.model.residual
            and r.model.depth < plain.model.depth
            and dataclasses.replace(r.model, depth=plain.model.depth) == plain.model
            and r.data == plain.data
            and _recipe(r.train) == _recipe(plain.train)
        ):
            found.append((acc, r.label))
    if not found:
        return None
    acc, label = max(found, key=lambda f: f[0])  # max keeps the first of equals: the newest run
    return label, acc


__all__ = [
    "MASKED_DATASETS",
    "N_SCORED",
    "SaliencyError",
    "Track",
    "chance_share",
    "gap_standard_error",
    "is_masked_pair",
    "localisation_scores",
    "newest_pair",
    "shallower_plain",
    "track",
    "twin_groups",
]
