"""Anatomy of a ResNet: stage tables, block sketches and three common mistakes, measured on the models.

Two families. CIFAR: depth 6n+2, basic blocks, widths w, 2w, 4w (He et al. 2016 §4.2; parameter
counts in Table 6), built by :func:`resnet_viz.engine.models.build_model`. ImageNet: torchvision's
resnet18/34 (basic blocks) and resnet50/101/152 (bottlenecks), the architectures of He et al. 2016
Table 1, built with ``weights=None``. Nothing on the page is typed in: parameter counts are summed
over the modules, output sizes are read by forward hooks, and the block diagram lists the layers
a traced forward pass of the real block calls. The sentences about the stems and the shortcut
options are whole templates in resnet_viz.text.anatomy, so the page only displays them.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch
import torchvision
from torch import nn
from torchvision.models.resnet import Bottleneck

from ..engine.config import ConfigError, ModelConfig, Shortcut
from ..engine.models import Add, Block, ShortcutA, build_model, count_params
from ..i18n import N_, _

Family = Literal["cifar", "imagenet"]
BlockKind = Literal["post", "pre", "bottleneck"]
PoolVerdict = Literal["ok", "partial", "error", "wrong_shape"]

FAMILIES: tuple[str, ...] = ("cifar", "imagenet")
IMAGENET_DEPTHS: tuple[int, ...] = (18, 34, 50, 101, 152)  # torchvision's factories, He et al. 2016 Table 1
NATIVE_SIZE: dict[str, int] = {"cifar": 32, "imagenet": 224}  # the input each family was designed for
# Short enough for a row of buttons; text.anatomy.block_caption cites the papers. Marked here,
# translated where shown (the page's buttons).
BLOCK_KINDS: dict[str, str] = {
    "post": N_("basic, post-activation"),
    "pre": N_("basic, pre-activation"),
    "bottleneck": N_("bottleneck"),
}
FIXED_POOL = 7  # the window of the tutorials' nn.AvgPool2d(7): ImageNet's last map at 224x224 input


@dataclass(frozen=True)
class NetSpec:
    family: Family = "cifar"  # "cifar": 6n+2 nets of resnet_viz.engine.models; "imagenet": torchvision's resnetXX
    depth: int = 20  # weighted layers: cifar 6n+2 (8, 14, 20, ...); imagenet 18, 34, 50, 101 or 152
    width: int = 16  # cifar: channels of stage 1 (paper: 16); imagenet nets are fixed at 64
    shortcut: Shortcut = "A"  # cifar: "A" parameter-free or "B" 1x1 projection; torchvision always projects
    residual: bool = True  # cifar only: False builds the plain twin

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ConfigError(f"family must be one of {', '.join(FAMILIES)}; got {self.family!r}")
        if self.family == "cifar":
            ModelConfig(arch="cifar", depth=self.depth, width=self.width, shortcut=self.shortcut)  # validates
        elif self.depth not in IMAGENET_DEPTHS:
            raise ConfigError(f"ImageNet depth must be one of {', '.join(map(str, IMAGENET_DEPTHS))}; got {self.depth}")

    @property
    def name(self) -> str:
        """e.g. "ResNet-20 (option A)", "plain-20", "ResNet-50", in the learner's language (the
        shortcut option is words: "ResNet-20（选项 A）" in Chinese); a sentence or title shows it."""
        if self.family == "imagenet":
            return f"ResNet-{self.depth}"
        if not self.residual:
            return f"plain-{self.depth}"
        return _("ResNet-{depth} (option {shortcut})").format(depth=self.depth, shortcut=self.shortcut)

    @property
    def input_size(self) -> int:
        return NATIVE_SIZE[self.family]


def build(spec: NetSpec, *, device: str | torch.device = "meta") -> nn.Module:
    """The real model of `spec`. On the meta device by default: counts and shapes need no weight
    values, and the same constructors and forward code then run without allocating (or randomly
    initialising) ResNet-152's 60M weights."""
    with torch.device(device):
        if spec.family == "imagenet":
            return getattr(torchvision.models, f"resnet{spec.depth}")(weights=None)
        return build_model(
            ModelConfig(
                arch="cifar",
                depth=spec.depth,
                width=spec.width,
                residual=spec.residual,
                shortcut=spec.shortcut,
                in_channels=3,
                image_size=32,
                num_classes=10,
            )
        )


def _parts(spec: NetSpec, model: nn.Module) -> list[tuple[str, str, list[nn.Module], int | None]]:
    """(key, name, modules in forward order, blocks or None) for each row of the stage table.

    The names are shown, so they are in the learner's language (callers that cache them key the
    cache on the language); the keys are stable."""
    if spec.family == "cifar":
        n = (spec.depth - 2) // 6
        blocks = list(model.blocks)
        stages = [(f"stage{s + 1}", _("stage {n}").format(n=s + 1), blocks[s * n : (s + 1) * n], n) for s in range(3)]
        # `final` is BN-ReLU for pre-act nets (He et al. 2016b): it belongs with the pooling, before the head.
        return [
            ("stem", _("stem"), [model.stem], None),
            *stages,
            ("pool", _("global average pool"), [model.final, model.pool], None),
            ("head", _("head (linear)"), [model.head], None),
        ]
    layers = [model.layer1, model.layer2, model.layer3, model.layer4]
    # Paper names (Table 1): conv1 + the max pool of conv2_x form the stem; conv2_x..conv5_x are the stages.
    stages = [
        (f"stage{i}", _("stage {n} (conv{conv}_x)").format(n=i, conv=i + 1), [layer], len(layer))
        for i, layer in enumerate(layers, 1)
    ]
    return [
        ("stem", _("stem (conv1 + max pool)"), [model.conv1, model.bn1, model.relu, model.maxpool], None),
        *stages,
        ("pool", _("global average pool"), [model.avgpool], None),
        ("head", _("head (linear)"), [model.fc], None),
    ]


@contextlib.contextmanager
def _hooked(modules: list[nn.Module], record: list[tuple[nn.Module, tuple[int, ...]]]) -> Iterator[None]:
    """Record (module, output shape without the batch) for each call; the handles always go."""
    handles = [
        m.register_forward_hook(lambda mod, _i, out: record.append((mod, tuple(out.shape[1:])))) for m in modules
    ]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _forward(model: nn.Module, size: int, channels: int = 3) -> None:
    device = next(model.parameters()).device
    model.eval()  # BN uses its running statistics: a batch of one is fine
    with torch.no_grad():
        model(torch.zeros(1, channels, size, size, device=device))


@dataclass(frozen=True)
class StageRow:
    key: str  # "stem", "stage1".., "pool", "head": stable across families, used to grade exercises
    name: str  # shown, e.g. "stage 4 (conv5_x)"
    out_shape: tuple[int, ...]  # measured after this part: (C, H, W), or (classes,) after the head
    blocks: int | None  # residual blocks in a stage; None for stem, pool and head
    params: int  # parameters of this part's modules

    @property
    def size(self) -> str:
        return f"{self.out_shape[1]}×{self.out_shape[2]}" if len(self.out_shape) == 3 else "—"


@dataclass(frozen=True)
class Anatomy:
    spec: NetSpec
    input_size: int  # pixels per side of the dummy input the shapes were measured with
    rows: tuple[StageRow, ...]

    @property
    def total(self) -> int:
        return sum(r.params for r in self.rows)

    def row(self, key: str) -> StageRow:
        return next(r for r in self.rows if r.key == key)


def anatomy(spec: NetSpec, input_size: int | None = None) -> Anatomy:
    """The stage table of `spec`: a forward pass of the real model reports each part's output."""
    model = build(spec)
    size = input_size or spec.input_size
    parts = _parts(spec, model)
    counted = [p for _, _, mods, _ in parts for m in mods for p in m.parameters()]
    if len({id(p) for p in counted}) != len(counted) or len(counted) != len(list(model.parameters())):
        raise RuntimeError(f"the stage split of {spec.name} misses or repeats a parameter")  # the table would lie
    record: list[tuple[nn.Module, tuple[int, ...]]] = []
    with _hooked([mods[-1] for _, _, mods, _ in parts], record):
        _forward(model, size)
    shapes = {id(mod): shape for mod, shape in record}
    rows = tuple(
        StageRow(key, name, shapes[id(mods[-1])], blocks, sum(p.numel() for m in mods for p in m.parameters()))
        for key, name, mods, blocks in parts
    )
    return Anatomy(spec, size, rows)


def millions(n: int) -> str:
    """The paper's rounding: two decimals below a million (0.27M), one above (1.7M, 25.6M)."""
    return f"{n / 1e6:.2f}M" if n < 1e6 else f"{n / 1e6:.1f}M"


def table(anat: Anatomy) -> list[dict[str, object]]:
    """Rows for st.dataframe, a total row last."""
    # Text columns: a part without blocks shows a dash, never the word None.
    rows: list[dict[str, object]] = [
        {
            "part": r.name,
            "output size": r.size,
            "channels / outputs": str(r.out_shape[0]),
            "blocks": "—" if r.blocks is None else str(r.blocks),
            "parameters": f"{r.params:,}",
            "share": f"{100 * r.params / anat.total:.1f}%",
        }
        for r in anat.rows
    ]
    blocks = sum(r.blocks or 0 for r in anat.rows)
    rows.append(
        {
            "part": _("total"),
            "output size": "",
            "channels / outputs": "",
            "blocks": str(blocks),
            "parameters": f"{anat.total:,}",
            "share": "100.0%",
        }
    )
    return rows


# -- the block ---------------------------------------------------------------------------------


def describe(m: nn.Module) -> str:
    """A layer as the diagram labels it, read from the module's own settings, in the learner's language."""
    if isinstance(m, nn.Conv2d):
        k, s = m.kernel_size, m.stride[0]
        fill = {"height": k[0], "width": k[1], "cin": m.in_channels, "cout": m.out_channels, "stride": s}
        if s > 1:
            return _("{height}×{width} conv, {cin}→{cout}, stride {stride}").format(**fill)
        return _("{height}×{width} conv, {cin}→{cout}").format(**fill)
    if isinstance(m, nn.MaxPool2d):
        return _("{size}×{size} max pool, stride {stride}").format(size=m.kernel_size, stride=m.stride)
    if isinstance(m, nn.BatchNorm2d):
        return "BN"
    return type(m).__name__  # ReLU, Tanh, ...


@dataclass(frozen=True)
class BlockSketch:
    kind: str  # a key of BLOCK_KINDS
    residual: bool  # whether the identity shortcut edge exists; nothing else differs
    branch: tuple[str, ...]  # layers of F(x) in the order a forward pass calls them
    after_add: tuple[str, ...]  # layers between the addition and the block's output
    channels: tuple[int, int]  # (inner width of the first conv, block output channels)

    @property
    def expansion(self) -> int:
        return self.channels[1] // self.channels[0]

    @property
    def formula(self) -> str:
        inner = "x + F(x)" if self.residual else "F(x)"
        return f"y = {self.after_add[0]}({inner})" if self.after_add else f"y = {inner}"


def _trace(block: nn.Module, x: torch.Tensor) -> list[nn.Module]:
    """Leaf modules in the order the forward pass calls them (a shared ReLU appears each time)."""
    record: list[tuple[nn.Module, tuple[int, ...]]] = []
    leaves = [m for m in block.modules() if not list(m.children())]
    with _hooked(leaves, record), torch.no_grad():
        block.eval()(x)
    return [m for m, _ in record if not isinstance(m, (nn.Identity, ShortcutA))]


def block_sketch(kind: BlockKind, residual: bool = True) -> BlockSketch:
    """The layers of a real block, traced: resnet_viz's Block (basic) or torchvision's Bottleneck."""
    if kind == "bottleneck":
        block: nn.Module = Bottleneck(256, 64)  # stage 1 of ResNet-50: 256 in, 64 inside, 256 out
        calls = _trace(block, torch.zeros(1, 256, 8, 8))
        # torchvision has no Add module: `out += identity` comes right after bn3, then the ReLU.
        split = max(i for i, m in enumerate(calls) if isinstance(m, nn.BatchNorm2d)) + 1
        branch, after = calls[:split], calls[split:]
    else:
        block = Block(64, 64, 1, residual=residual, preact=kind == "pre")
        calls = _trace(block, torch.zeros(1, 64, 8, 8))
        inside = {id(m) for m in block.F.modules()}
        branch = [m for m in calls if id(m) in inside]
        after = [m for m in calls if id(m) not in inside and not isinstance(m, Add)]
    convs = [m for m in branch if isinstance(m, nn.Conv2d)]
    return BlockSketch(
        kind,
        residual,
        tuple(map(describe, branch)),
        tuple(map(describe, after)),
        (convs[0].out_channels, convs[-1].out_channels),
    )


def block_source() -> str:
    """The source of resnet_viz.engine.models.Block, exactly as the app runs it."""
    return inspect.getsource(Block)


def residual_line() -> str:
    """The line of Block.forward that adds the shortcut: the only one a plain block skips."""
    return next(line.strip() for line in inspect.getsource(Block.forward).splitlines() if "self.add(" in line)


# -- stems and shortcuts -----------------------------------------------------------------------


def stem_trace(spec: NetSpec, input_size: int | None = None) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """("input", (C, H, W)) then each conv and pooling layer of the stem with its measured output."""
    model = build(spec)
    stem = _parts(spec, model)[0][2]
    leaves = [m for part in stem for m in part.modules() if isinstance(m, (nn.Conv2d, nn.MaxPool2d))]
    record: list[tuple[nn.Module, tuple[int, ...]]] = []
    size = input_size or spec.input_size
    with _hooked(leaves, record):
        _forward(model, size)
    return (("input", (3, size, size)), *[(describe(m), shape) for m, shape in record])


@dataclass(frozen=True)
class StemContrast:
    """What the ImageNet stem would do to a CIFAR-sized image, measured by feeding it one."""

    imagenet: str  # the ImageNet net's name, e.g. "ResNet-18"
    size: int  # the CIFAR image's side
    after_stem: tuple[int, int]  # (H, W) of the map the ImageNet stem leaves
    last_stage: str  # the ImageNet net's last stage, e.g. "stage4"
    last_size: str  # the map that stage would see, e.g. "1×1"


def stem_contrast(cifar: NetSpec, imagenet: NetSpec) -> StemContrast:
    size = cifar.input_size
    (_, (_, sh, sw)), last = stem_trace(imagenet, size)[-1], anatomy(imagenet, size).rows[-3]
    return StemContrast(imagenet.name, size, (sh, sw), last.name, last.size)


@dataclass(frozen=True)
class ShortcutCost:
    depth: int  # CIFAR depth 6n+2
    width: int  # stage-1 channels
    plain: int  # parameters of the plain twin
    option_a: int  # residual, option A
    option_b: int  # residual, option B
    projections: int  # option-B 1x1 projection shortcuts (one per stage change)

    def __post_init__(self) -> None:
        # Option A's shortcuts (identity, strided zero-padding) own no weights, so the option-A net
        # and its plain twin have the same parameters (tests/test_anatomy.py proves it on the
        # built models): a different count is a bug, not something to put into words.
        if self.plain != self.option_a:
            raise ValueError(
                f"the plain twin ({self.plain}) and the option-A net ({self.option_a}) must have the same "
                "parameter count: option A owns no weights"
            )

    @property
    def extra(self) -> int:
        return self.option_b - self.option_a

    @property
    def extra_pct(self) -> float:
        return 100 * self.extra / self.option_a


def shortcut_cost(depth: int, width: int = 16) -> ShortcutCost:
    counts = {
        k: count_params(build(NetSpec("cifar", depth, width, s, residual=r)))
        for k, s, r in (("plain", "A", False), ("a", "A", True), ("b", "B", True))
    }
    model_b = build(NetSpec("cifar", depth, width, "B"))
    projections = sum(isinstance(b.shortcut, nn.Sequential) for b in model_b.blocks)
    return ShortcutCost(depth, width, counts["plain"], counts["a"], counts["b"], projections)
