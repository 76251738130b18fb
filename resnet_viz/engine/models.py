"""Plain and residual networks that differ in one line.

The CIFAR-style net follows He et al. 2016 §4.2: a 3x3 stem, three stages of n two-layer blocks
at widths w, 2w, 4w (the first block of stages 2 and 3 halves the resolution), global average
pooling and a linear head: 6n+2 weighted layers. Every activation site is its own module and the
residual addition goes through :class:`Add`, so forward/backward hooks (probes, captum) see each
site exactly once; nothing runs in place, so a hook never sees a value that was overwritten.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ConfigError, ModelConfig

_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def make_activation(name: str) -> nn.Module:
    return _ACTIVATIONS[name]()  # never in place: hooks must see the value before it is overwritten


class Add(nn.Module):
    """y = branch + alpha * identity: the residual addition as a module so hooks can find it."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, branch: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        if self.alpha == 1.0:
            return branch + identity
        return branch + self.alpha * identity

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class ShortcutA(nn.Module):
    """Option A (He et al. 2016 §4.2): strided identity with zero-padded extra channels, no parameters."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.stride, self.pad = stride, out_ch - in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C + pad, H/s, W/s)
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.pad)) if self.pad else x


def _norm(ch: int, bn: bool) -> nn.Module:
    return nn.BatchNorm2d(ch) if bn else nn.Identity()


def _conv3x3(in_ch: int, out_ch: int, stride: int, bn: bool) -> nn.Conv2d:
    # With BN a conv bias is redundant (BN's shift replaces it); without BN it is the only shift.
    return nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=not bn)


class Block(nn.Module):
    """Two 3x3 convs F(x); with ``residual`` the output is F(x) + alpha * shortcut(x).

    Post-activation (He et al. 2016):  x -> conv-BN-act-conv-BN -> (+ x) -> act
    Pre-activation  (He et al. 2016b): x -> BN-act-conv-BN-act-conv -> (+ x)
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: int,
        *,
        residual: bool,
        alpha: float = 1.0,
        shortcut: str = "A",
        preact: bool = False,
        bn: bool = True,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.preact = preact
        if preact:
            self.F = nn.Sequential(
                _norm(in_ch, bn),
                make_activation(activation),
                _conv3x3(in_ch, out_ch, stride, bn),
                _norm(out_ch, bn),
                make_activation(activation),
                _conv3x3(out_ch, out_ch, 1, bn),
            )
            self.act = nn.Identity()  # the identity path stays clean all the way (He et al. 2016b)
        else:
            self.F = nn.Sequential(
                _conv3x3(in_ch, out_ch, stride, bn),
                _norm(out_ch, bn),
                make_activation(activation),
                _conv3x3(out_ch, out_ch, 1, bn),
                _norm(out_ch, bn),
            )
            self.act = make_activation(activation)
        self.shortcut: nn.Module | None = None
        if residual:
            self.shortcut = _make_shortcut(in_ch, out_ch, stride, shortcut, bn)
            self.add = Add(alpha)
        self.downsamples = stride != 1 or in_ch != out_ch

    @property
    def residual(self) -> bool:
        return self.shortcut is not None

    @property
    def last_norm(self) -> nn.Module:
        """The BN closing the branch (post-act) or the one before the last conv (pre-act)."""
        return self.F[4] if not self.preact else self.F[3]

    @property
    def convs(self) -> tuple[nn.Conv2d, nn.Conv2d]:
        return (self.F[0], self.F[3]) if not self.preact else (self.F[2], self.F[5])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.F(x)
        if self.shortcut is not None:  # the one line that separates a residual net from a plain one
            out = self.add(out, self.shortcut(x))
        return self.act(out)


def _make_shortcut(in_ch: int, out_ch: int, stride: int, option: str, bn: bool) -> nn.Module:
    if stride == 1 and in_ch == out_ch:
        return nn.Identity()
    if option == "A":
        return ShortcutA(in_ch, out_ch, stride)
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=not bn), _norm(out_ch, bn))


class _Net(nn.Module):
    """What every network here offers probes and captum: a features/head split, its weighted
    layers in depth order, and its blocks (each with a `residual` flag)."""

    blocks: nn.Sequential

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def probe_layers(self) -> list[tuple[str, nn.Module]]:
        return _weighted_layers(self)

    def probe_blocks(self) -> list[tuple[str, nn.Module]]:
        return [(f"blocks.{i}", b) for i, b in enumerate(self.blocks)]


class CifarResNet(_Net):
    """Depth 6n+2 network for small images (He et al. 2016 §4.2), plain or residual."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        n, w = (cfg.depth - 2) // 6, cfg.width
        # Stem: post-act nets normalise+activate here; pre-act nets defer that to the first block.
        self.stem = nn.Sequential(_conv3x3(cfg.in_channels, w, 1, cfg.bn))
        if not cfg.preact:
            self.stem.append(_norm(w, cfg.bn))
            self.stem.append(make_activation(cfg.activation))
        blocks: list[Block] = []
        in_ch = w
        for stage, out_ch in enumerate((w, 2 * w, 4 * w)):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(
                    Block(
                        in_ch,
                        out_ch,
                        stride,
                        residual=cfg.residual,
                        alpha=cfg.alpha,
                        shortcut=cfg.shortcut,
                        preact=cfg.preact,
                        bn=cfg.bn,
                        activation=cfg.activation,
                    )
                )
                in_ch = out_ch
        self.blocks = nn.Sequential(*blocks)
        # Pre-act nets end with BN-act so the head sees a normalised map (He et al. 2016b, Fig. 4).
        self.final = (
            nn.Sequential(_norm(in_ch, cfg.bn), make_activation(cfg.activation)) if cfg.preact else nn.Identity()
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(in_ch, cfg.num_classes)
        init_weights(self, cfg)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) -> last conv map (B, 4w, H/4, W/4), the Grad-CAM layer's output."""
        return self.final(self.blocks(self.stem(x)))

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.pool(feats), 1))  # (B, 4w) -> (B, classes)


class MLPBlock(nn.Module):
    """Linear-(BN)-act; with ``residual`` the output is act(...) + alpha * x (same width in and out)."""

    def __init__(self, in_f: int, out_f: int, *, residual: bool, alpha: float, bn: bool, activation: str) -> None:
        super().__init__()
        self.F = nn.Sequential(
            nn.Linear(in_f, out_f), nn.BatchNorm1d(out_f) if bn else nn.Identity(), make_activation(activation)
        )
        self.shortcut: nn.Module | None = None
        if residual and in_f == out_f:
            self.shortcut = nn.Identity()
            self.add = Add(alpha)
        self.downsamples = in_f != out_f

    @property
    def residual(self) -> bool:
        return self.shortcut is not None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.F(x)
        if self.shortcut is not None:  # the same one line as in Block
            out = self.add(out, self.shortcut(x))
        return out


class MLP(_Net):
    """The classic vanishing-gradient demo: `depth` hidden layers of `width` units on flattened pixels."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        in_f = cfg.in_channels * cfg.image_size * cfg.image_size
        # The first block maps pixels to `width` and cannot carry an identity path.
        self.blocks = nn.Sequential(
            *[
                MLPBlock(
                    in_f if i == 0 else cfg.width,
                    cfg.width,
                    residual=cfg.residual,
                    alpha=cfg.alpha,
                    bn=cfg.bn,
                    activation=cfg.activation,
                )
                for i in range(cfg.depth)
            ]
        )
        self.head = nn.Linear(cfg.width, cfg.num_classes)
        init_weights(self, cfg)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(torch.flatten(x, 1))  # (B, C, H, W) -> (B, width)

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        return self.head(feats)


def _weighted_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Conv/linear layers in forward (depth) order; named_modules follows definition order, which
    here is the forward order except option-B projections, listed right after their block's convs."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def init_weights(model: nn.Module, cfg: ModelConfig) -> None:
    """Apply cfg.init. Twins built after the same torch.manual_seed get identical weights, because
    a shortcut of option A owns no parameters and so draws nothing from the generator."""
    if cfg.init != "default":
        gain = nn.init.calculate_gain(cfg.activation)
        for m in model.modules():
            # The head keeps PyTorch's default (as in torchvision): a ReLU-gain init there makes the
            # initial logits so large that SGD at lr 0.1 can stall at chance (seen on `shapes`).
            if not isinstance(m, (nn.Conv2d, nn.Linear)) or m is model.head:
                continue
            if cfg.init == "xavier":
                nn.init.xavier_normal_(m.weight, gain=gain)
            elif isinstance(m, nn.Conv2d) and cfg.activation == "relu":  # torchvision's choice for convs
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            else:  # kaiming, and fixup's starting point (Zhang et al. 2019 §3)
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity=cfg.activation)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    if cfg.init == "fixup":
        _fixup(model)
    if cfg.zero_init_last_bn and cfg.bn and isinstance(model, CifarResNet):
        for block in model.blocks:
            nn.init.zeros_(block.last_norm.weight)  # each block starts as its shortcut (Goyal et al. 2017)


def _fixup(model: nn.Module) -> None:
    """Fixup (Zhang et al. 2019): scale each branch's first layer by L^(-1/2) (m=2 layers per branch)
    and start its last layer and the classifier at zero, so every residual block begins as the
    identity and the output variance does not grow with depth, without normalisation."""
    blocks = list(getattr(model, "blocks", []))
    if not blocks:
        return
    scale = len(blocks) ** -0.5
    for block in blocks:
        if isinstance(block, Block):
            first, last = block.convs
            with torch.no_grad():
                first.weight.mul_(scale)
            nn.init.zeros_(last.weight)
        elif isinstance(block, MLPBlock) and block.residual:
            with torch.no_grad():
                block.F[0].weight.mul_(scale)
    nn.init.zeros_(model.head.weight)
    nn.init.zeros_(model.head.bias)


def build_model(cfg: ModelConfig) -> nn.Module:
    """The only model factory pages, CLI and tests use."""
    if cfg.arch == "cifar":
        return CifarResNet(cfg)
    if cfg.arch == "mlp":
        return MLP(cfg)
    raise ConfigError(f"unknown arch {cfg.arch!r}")


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
