"""Two test-time experiments on a trained network: deleting blocks, and measuring layer responses.

Lesion study (Veit et al. 2016, "Residual Networks Behave Like Ensembles of Relatively Shallow
Networks"): a deleted block passes its input on through its shortcut alone, y = shortcut(x)
instead of y = x + F(x). Unrolled, a residual net of n blocks is a sum over 2^n paths; deleting
one block removes only the paths through its F, so accuracy should fall gently. A plain net has a
single path, which deleting any block cuts.

Layer responses (He et al. 2016, §4.2 and Fig. 7): the std of each 3x3 layer's output after BN and
before the addition/nonlinearity. Residual functions are expected to sit closer to zero than the
layers of a plain net, which must carry the whole signal.

The sentences that say what these numbers show are in resnet_viz.text.lesion.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import math
import random
import statistics
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from ..engine.models import Block, ShortcutA

Progress = Callable[[int, int], None]
MAX_DEFAULT_KS = 10  # at most this many values of k by default: each costs `draws` evaluations
SAME_SHARE = 0.02  # shares of intact accuracy kept within 2 points of each other read as "about the same"
SAME_RESPONSE = 0.05  # mean response stds within 5% of the larger read as "about equally strong"


# --------------------------------------------------------------------------------------------
# Deleting blocks


def _skip_path(block: nn.Module) -> nn.Module | None:
    """What a deleted block computes instead of its full output; None if it cannot be deleted.

    Residual blocks keep their own shortcut (identity, option A or the option-B projection).
    Veit et al. delete residual blocks only; to compare, a plain block is skipped "the same way
    where shapes allow": y = x, and where it changes resolution and channels, the parameter-free
    option-A map (strided identity, zero-padded channels; He et al. 2016 §4.2) so the net still
    runs. An MLP's first block maps pixels to `width` and has no such map, so it is not lesionable.
    """
    shortcut = getattr(block, "shortcut", None)
    if shortcut is not None:
        return shortcut
    if not getattr(block, "downsamples", False):
        return nn.Identity()
    if isinstance(block, Block):
        first, second = block.convs
        return ShortcutA(first.in_channels, second.out_channels, first.stride[0])
    return None


def lesionable_blocks(model: nn.Module) -> list[tuple[str, nn.Module, bool]]:
    """(name, block, downsampling) for each block that can be deleted, in depth order;
    downsampling: the block changes resolution or channels (its skip path is not y = x)."""
    if not hasattr(model, "probe_blocks"):
        raise TypeError(f"{type(model).__name__} does not list its blocks (probe_blocks); use models.build_model")
    return [
        (name, block, bool(block.downsamples)) for name, block in model.probe_blocks() if _skip_path(block) is not None
    ]


@contextlib.contextmanager
def deleted(model: nn.Module, names: Iterable[str]) -> Iterator[nn.Module]:
    """Inside the with-block each named block computes y = shortcut(x) instead of its output.

    A post-activation block computes act(F(x) + shortcut(x)); deleted, it returns shortcut(x) with
    no activation. Veit et al. (§4, post-activation ResNets with a ReLU after the addition) replace
    a deleted block's output by its input, y = x, and only the bare shortcut does that. After a
    ReLU net's stem every block input is already >= 0, so ReLU(x) = x for identity and option-A
    shortcuts: the choice matters only for option-B projections (whose BN output can be negative)
    and for tanh/sigmoid nets. How plain blocks are skipped: see :func:`_skip_path`.

    The blocks' own `forward` is swapped for the skip path (restored in `finally`, also when the
    body raises), rather than hooking the output: nothing of a deleted block runs, so a model in
    train mode keeps its BN running statistics, and hooks on the block still see what it returns.
    """
    wanted = list(dict.fromkeys(names))  # unique, in order
    blocks = {name: block for name, block, _ in lesionable_blocks(model)}
    unknown = [name for name in wanted if name not in blocks]
    if unknown:
        raise KeyError(f"not lesionable blocks of this model: {', '.join(unknown)}; choose from {', '.join(blocks)}")
    saved: list[tuple[nn.Module, Any]] = []
    try:
        for name in wanted:
            block = blocks[name]
            skip = _skip_path(block)
            previous = block.__dict__.get("forward")  # a forward patched by someone else comes back too
            block.forward = skip.__call__  # type: ignore[method-assign,union-attr]
            saved.append((block, previous))
        yield model
    finally:
        for block, previous in reversed(saved):
            del block.forward  # instance attribute only: the class's forward is visible again
            if previous is not None:
                block.forward = previous


# --------------------------------------------------------------------------------------------
# The lesion study


@dataclass(frozen=True)
class BlockLesion:
    name: str  # e.g. "blocks.3"
    acc: float  # test accuracy (fraction) with this one block deleted
    downsampling: bool  # the block changes resolution/channels: deleted through option A or its shortcut


@dataclass(frozen=True)
class RandomLesion:
    k: int  # blocks deleted at once
    mean_acc: float  # mean test accuracy (fraction) over the draws
    std_acc: float  # population std over the draws (0 when only one subset of k blocks exists)
    draws: int  # subsets evaluated; not in the JSON document (0 after from_dict when absent)


@dataclass(frozen=True)
class LesionResult:
    baseline_acc: float  # test accuracy (fraction) with every block in place
    blocks: tuple[BlockLesion, ...]  # one per lesionable block, depth order
    random: tuple[RandomLesion, ...]  # one per k, increasing

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline_acc": self.baseline_acc,
            "blocks": [{"name": b.name, "acc": b.acc, "downsampling": b.downsampling} for b in self.blocks],
            "random": [{"k": r.k, "mean_acc": r.mean_acc, "std_acc": r.std_acc} for r in self.random],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LesionResult:
        return cls(
            baseline_acc=float(data["baseline_acc"]),
            blocks=tuple(BlockLesion(str(b["name"]), float(b["acc"]), bool(b["downsampling"])) for b in data["blocks"]),
            random=tuple(
                RandomLesion(int(r["k"]), float(r["mean_acc"]), float(r["std_acc"]), int(r.get("draws", 0)))
                for r in data.get("random", [])
            ),
        )


def default_ks(n: int) -> list[int]:
    """1..n for up to MAX_DEFAULT_KS blocks, else MAX_DEFAULT_KS values spread evenly from 1 to n
    (deleting every block shows what the stem and head alone achieve through the shortcuts)."""
    if n <= MAX_DEFAULT_KS:
        return list(range(1, n + 1))
    return sorted({round(1 + i * (n - 1) / (MAX_DEFAULT_KS - 1)) for i in range(MAX_DEFAULT_KS)})


def _subsets(pool: Sequence[str], k: int, draws: int, seed: int) -> list[tuple[str, ...]]:
    """Every k-subset when there are no more than `draws` of them (an exact mean), else `draws`
    uniform random ones. Each k has its own generator, so asking for other ks changes nothing."""
    if math.comb(len(pool), k) <= draws:
        return list(itertools.combinations(pool, k))
    rng = random.Random(seed * 1_000_003 + k)
    order = {name: i for i, name in enumerate(pool)}
    return [tuple(sorted(rng.sample(list(pool), k), key=order.__getitem__)) for _ in range(draws)]


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int) -> float:
    # float32 on every device (no autocast): the lesion numbers are the reference, not a speed test.
    correct = 0
    for i in range(0, len(x), batch):
        correct += int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
    return correct / max(1, len(x))


def lesion_study(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    ks: Sequence[int] | None = None,
    draws: int = 10,
    seed: int = 0,
    include_downsampling: bool = False,
    on_progress: Progress | None = None,
    batch: int = 1000,
) -> LesionResult:
    """Veit et al. 2016 §4 on (x, y): accuracy with each block deleted in turn (downsampling ones
    too, marked), then with k random blocks deleted at once, `draws` draws per k.

    Random deletions draw from the blocks that keep the resolution unless `include_downsampling`
    (Veit et al. delete only those: a downsampling block's projection is not an identity path).
    Default ks: see :func:`default_ks`. Runs on a private copy in eval mode; `model` is untouched.
    """
    if draws < 1:
        raise ValueError(f"draws must be positive; got {draws}")
    work = copy.deepcopy(model).eval()
    device = next(work.parameters()).device
    x, y = x.to(device), y.to(device)
    entries = lesionable_blocks(work)
    pool = [name for name, _, down in entries if include_downsampling or not down]
    ks = default_ks(len(pool)) if ks is None else sorted({int(k) for k in ks})
    bad = [k for k in ks if not 1 <= k <= len(pool)]
    if bad:
        raise ValueError(f"k must lie in 1..{len(pool)} (blocks that may be deleted); got {bad}")
    subsets = {k: _subsets(pool, k, draws, seed) for k in ks}
    total = 1 + len(entries) + sum(len(s) for s in subsets.values())
    done = 0

    def evaluate(names: Iterable[str]) -> float:
        nonlocal done
        with deleted(work, names):
            acc = _accuracy(work, x, y, batch)
        done += 1
        if on_progress is not None:
            on_progress(done, total)
        return acc

    with torch.inference_mode():
        baseline = evaluate([])
        blocks = tuple(BlockLesion(name, evaluate([name]), down) for name, _, down in entries)
        rand = []
        for k, chosen in subsets.items():
            accs = [evaluate(names) for names in chosen]
            rand.append(RandomLesion(k, statistics.fmean(accs), statistics.pstdev(accs), len(accs)))
    return LesionResult(baseline, blocks, tuple(rand))


# --------------------------------------------------------------------------------------------
# Layer responses


def _response_sites(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(3x3 conv name, module whose output is that layer's response), in depth order.

    Post-activation nets: the module right after the conv in its Sequential, the BN (He et al.
    2016 Fig. 7: after BN, before the ReLU and the addition), or nn.Identity when bn=False, whose
    output is the conv's. Pre-activation nets: the conv's own output. No BN follows a pre-act
    block's second conv (its output F(x) goes straight into the addition) and the stem conv has
    none either, so every 3x3 layer is measured the same way, before any BN.
    """
    preact = bool(getattr(getattr(model, "cfg", None), "preact", False))
    sites = []
    for parent_name, parent in model.named_modules():
        if not isinstance(parent, nn.Sequential):
            continue
        children = list(parent.named_children())
        for i, (child_name, child) in enumerate(children):
            if not (isinstance(child, nn.Conv2d) and child.kernel_size == (3, 3)):
                continue
            name = f"{parent_name}.{child_name}" if parent_name else child_name
            nxt = children[i + 1][1] if i + 1 < len(children) else None
            after = not preact and isinstance(nxt, (nn.BatchNorm2d, nn.Identity))
            sites.append((name, nxt if after else child))
    return sites


class _RunningStd:
    """Population std of everything seen, merged batch by batch (Chan et al. 1979) in float64,
    so a set too large for one forward pass gives the same number as one pass."""

    def __init__(self) -> None:
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def add(self, t: torch.Tensor) -> None:
        t = t.detach().double()
        nb = t.numel()
        mb = float(t.mean())
        m2b = float(((t - mb) ** 2).sum())
        n = self.n + nb
        delta = mb - self.mean
        self.mean += delta * nb / n
        self.m2 += m2b + delta * delta * self.n * nb / n
        self.n = n

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.n) if self.n else float("nan")


@contextlib.contextmanager
def _recording(sites: Sequence[tuple[str, nn.Module]]) -> Iterator[list[_RunningStd]]:
    stats = [_RunningStd() for _ in sites]
    handles = []
    try:
        for (_, module), stat in zip(sites, stats):
            handles.append(module.register_forward_hook(lambda _m, _i, out, stat=stat: stat.add(out)))
        yield stats
    finally:
        for h in handles:
            h.remove()


def layer_responses(model: nn.Module, x: torch.Tensor, *, batch: int = 500) -> list[tuple[str, float]]:
    """(conv name, std of its response) for every 3x3 conv, in depth order, over all of x.

    The std is over every image, channel and position at once (population std), in eval mode (BN
    running statistics). What counts as the response: see :func:`_response_sites`. Option-B 1x1
    projections are not 3x3 layers and are left out, as in the paper; an MLP has none: [].
    """
    sites = _response_sites(model)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        with _recording(sites) as stats, torch.inference_mode():
            for i in range(0, len(x), batch):
                model(x[i : i + batch].to(device))
    finally:
        model.train(was_training)
    return [(name, stat.std) for (name, _), stat in zip(sites, stats)]


def mean_response(rows: Sequence[tuple[str, float]]) -> float | None:
    """The mean response std over a net's 3x3 layers; None when there are none or one is not finite."""
    vals = [float(v) for _, v in rows]
    if not vals or not all(math.isfinite(v) for v in vals):
        return None
    try:
        return statistics.fmean(vals)
    except OverflowError:  # the sum of stds near 1e308 overflows: no mean to report
        return None


def quieter(
    plain: Sequence[tuple[str, float]], residual: Sequence[tuple[str, float]]
) -> Literal["plain", "residual", "same"] | None:
    """Whose layers respond less on average (He et al. 2016, Fig. 7: the residual net's); "same"
    when the means lie within SAME_RESPONSE of the larger; None when a mean is undefined."""
    mp, mr = mean_response(plain), mean_response(residual)
    if mp is None or mr is None:
        return None
    if abs(mr - mp) <= SAME_RESPONSE * max(abs(mp), abs(mr)):
        return "same"
    return "residual" if mr < mp else "plain"
