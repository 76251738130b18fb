"""What the anatomy page's measurements show, in words: the stems, the shortcut options' parameter
counts, and the three common mistakes of widely read tutorials (a bottleneck without `expansion`,
a fixed AvgPool2d(7), the shortcut's 1 written into dL/dW).

`resnet_viz.anatomy.nets` and `resnet_viz.anatomy.mistakes` build and measure the networks; every
sentence here is one whole template (see `resnet_viz.text`) filled with their numbers, and a
zero, a NaN or an inf becomes words, never an exception.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..anatomy.nets import FIXED_POOL, Anatomy, BlockSketch, NetSpec, ShortcutCost, StemContrast, millions
from . import N_, _
from .numbers import count, fraction, num, percent, ratio, share

if TYPE_CHECKING:  # anatomy_lessons imports this module for its exercises' outcomes
    from ..anatomy.mistakes import BackwardCheck, ExpansionDemo, PoolCheck

Shape = tuple[int, ...]


def _shape(s: Shape) -> str:
    """A tensor shape without the batch, as the page writes it: 3×224×224."""
    return "×".join(map(str, s))


# How the first stage's map compares with the input's, per side.
_STEM: dict[str, str] = {
    "smaller": N_(
        "{net} stem: {input} input → {steps}. The first stage works at {height}×{width} with {channels} channels, "
        "{factor} times smaller per side."
    ),
    "same": N_(
        "{net} stem: {input} input → {steps}. The first stage works at {height}×{width} with {channels} channels, "
        "the input's own size."
    ),
    "other": N_(
        "{net} stem: {input} input → {steps}. The first stage works at {height}×{width} with {channels} channels."
    ),
}


def stem_sentence(spec: NetSpec, trace: tuple[tuple[str, Shape], ...]) -> str:
    """The stem's layers with their measured outputs (`anatomy.stem_trace`), and how much smaller
    the first stage's map is than the input."""
    if len(trace) < 2 or len(trace[0][1]) != 3 or len(trace[-1][1]) != 3:
        return _("{net} stem: no layer output was measured.").format(net=spec.name)
    (_name, (_c, h, _w)), (_last, (oc, oh, ow)) = trace[0], trace[-1]
    key = "smaller" if 0 < oh < h else "same" if oh == h else "other"
    # Layer labels (already in the learner's language, `anatomy.describe`) and shapes; the colon is the language's.
    step = _("{layer}: {shape}")
    steps = " → ".join(step.format(layer=layer, shape=_shape(s)) for layer, s in trace[1:])
    return _(_STEM[key]).format(
        net=spec.name,
        input=_shape(trace[0][1]),
        steps=steps,
        height=oh,
        width=ow,
        channels=oc,
        factor=h // oh if oh else 0,
    )


def shortcut_sentence(c: ShortcutCost) -> str:
    """The parameters of the plain twin and of options A and B: option A owns no weights, so the
    first two are the same number."""
    fill = {
        "depth": c.depth,
        "width": c.width,
        "plain": count(c.plain),
        "option_a": count(c.option_a),
        "projections": c.projections,
        "extra": count(c.extra),
        "extra_share": percent(ratio(c.extra, c.option_a)),
        "option_b": count(c.option_b),
    }
    # Always equal (ShortcutCost refuses anything else): option A's shortcuts own no weights.
    template = _(
        "ResNet-{depth} at width {width}: the plain twin has {plain} parameters and the option-A net the same "
        "number, {option_a} (option A owns no weights). Option B's {projections} projection shortcuts add "
        "{extra} ({extra_share}), for {option_b} in all."
    )
    return template.format(**fill)


def expansion_sentence(d: ExpansionDemo) -> str:
    """What torchvision's `expansion` does to the head, and what a block class without it raises."""
    fill = {"bottleneck": d.bottleneck, "basic": d.basic, "error": d.missing_error}
    if len(d.head_in) != 2:  # the demo measures two heads: ResNet-34's (basic) and ResNet-50's (bottleneck)
        return _(
            "torchvision's Bottleneck declares expansion = {bottleneck} and BasicBlock expansion = {basic}. Built "
            "from a block class without the attribute, torchvision's ResNet stops at once: `{error}`."
        ).format(**fill)
    (basic_name, basic_in), (bottleneck_name, bottleneck_in) = d.head_in.items()
    return _(
        "torchvision's Bottleneck declares expansion = {bottleneck} and BasicBlock expansion = {basic}; the network "
        "multiplies each stage's width by it, so {bottleneck_net}'s head reads {bottleneck_in} features where "
        "{basic_net}'s reads {basic_in}. Built from a block class without the attribute, torchvision's ResNet stops "
        "at once: `{error}`."
    ).format(
        **fill, bottleneck_net=bottleneck_name, bottleneck_in=bottleneck_in, basic_net=basic_name, basic_in=basic_in
    )


# What the tutorials' fixed AvgPool2d(7) does with the last stage's map, by PoolCheck.verdict.
_FIXED_POOL: dict[str, str] = {
    "error": N_("AvgPool2d({window}) raises: `{error}`."),
    "wrong_shape": N_(
        "AvgPool2d({window}) gives {pooled}, so the head receives {received} features instead of {expected}: `{error}`."
    ),
    "partial": N_(
        "AvgPool2d({window}) runs without complaint but averages only the top-left {window}×{window} window, "
        "{share} of the map, and drops the rest."
    ),
    "ok": N_("AvgPool2d({window}) covers the map exactly, as it was designed to."),
}


def pool_sentence(p: PoolCheck) -> str:
    """The last stage's map at the input size, what AvgPool2d(7) made of it, and the adaptive pool."""
    c, h, w = p.final_map
    pooled = p.fixed_out or (0, 0, 0)
    received = 1
    for n in pooled:
        received *= n
    middle = _(_FIXED_POOL[p.verdict]).format(
        window=FIXED_POOL,
        error=p.error or "",
        pooled=_shape(pooled),
        received=count(received),
        expected=count(c),
        share=share(ratio(FIXED_POOL**2, h * w)),
    )
    return " ".join(
        [
            _("{net} at {size}×{size}: the last stage outputs {channels} channels at {height}×{width}.").format(
                net=p.net, size=p.input_size, channels=c, height=h, width=w
            ),
            middle,
            _("AdaptiveAvgPool2d(1) gives {channels}×1×1 at any size.").format(channels=c),
        ]
    )


def backward_sentence(b: BackwardCheck) -> str:
    """Residual vs plain block, same weights and dL/dy: dL/dW agree, dL/dx differs by exactly dL/dy.
    For this block's own weights only: in a whole net the 1 changes the dL/dy of earlier blocks."""
    fill = {
        "channels": b.channels,
        "rms": num(b.upstream_rms),
        "weight_gap": fraction(b.weight_gap),
        "identity_gap": fraction(b.identity_gap),
    }
    if b.weight_gap == 0:
        template = _(
            "Measured with autograd on a {channels}-channel pre-activation block, residual and plain, same weights, "
            "same input, same dL/dy (RMS {rms}): their dL/dW are identical, while dL/dx(residual) − dL/dx(plain) "
            "equals dL/dy to within {identity_gap}. The shortcut's 1 lives in dL/dx: it adds nothing to this block's own "
            "dL/dW for a given dL/dy, but in a whole net it changes the dL/dy that reaches every earlier block, and "
            "with it their dL/dW."
        )
    else:
        template = _(
            "Measured with autograd on a {channels}-channel pre-activation block, residual and plain, same weights, "
            "same input, same dL/dy (RMS {rms}): their dL/dW differ by at most {weight_gap}, while dL/dx(residual) "
            "− dL/dx(plain) equals dL/dy to within {identity_gap}. The shortcut's 1 lives in dL/dx: it adds nothing "
            "to this block's own dL/dW for a given dL/dy, but in a whole net it changes the dL/dy that reaches every "
            "earlier block, and with it their dL/dW."
        )
    return template.format(**fill)


def summary(anat: Anatomy) -> str:
    """The net's parameter count, where most of it sits, and what leaves the last stage."""
    big = max(anat.rows, key=lambda r: r.params)
    last = anat.row(f"stage{sum(r.blocks is not None for r in anat.rows)}")
    return _(
        "{net} has {total} parameters ({millions}); {biggest} holds {big} of them ({share}). A {size}×{size} input "
        "leaves the last stage with {channels} channels at {last_size}."
    ).format(
        net=anat.spec.name,
        total=count(anat.total),
        millions=millions(anat.total),
        biggest=big.name,
        big=count(big.params),
        share=percent(ratio(big.params, anat.total)),
        size=anat.input_size,
        channels=last.out_shape[0],
        last_size=last.size,
    )


def source_note(anat: Anatomy) -> str:
    """Where the model comes from and which table of the paper to compare it with."""
    if anat.spec.family == "imagenet":
        template = _(
            "Built by torchvision's resnet{depth}(weights=None), nothing downloaded, and measured with a {size}×{size} "
            "input. The stage layout is that of He et al. 2016, Table 1; torchvision projects the shortcut (option B) "
            "where the shape changes."
        )
    else:
        template = _(
            "Built by this app's own build_model and measured with a {size}×{size} input. Rounded as the paper rounds, "
            "{millions}: He et al. 2016, Table 6 lists the counts of the option-A nets at width 16, and §4.2 describes "
            "the 6n+2 architecture."
        )
    return template.format(depth=anat.spec.depth, size=anat.input_size, millions=millions(anat.total))


def block_caption(s: BlockSketch) -> str:
    """What the drawn block computes, and what follows its addition."""
    if not s.residual:
        return _(
            "Plain: {formula}. The same layers with the shortcut edge removed; the output is whatever the layers "
            "compute."
        ).format(formula=s.formula)
    if s.kind == "pre":
        return _(
            "Pre-activation: {formula}. Nothing follows the addition, so the identity path stays clean from block to "
            "block: within a stage, where every shortcut is an identity, x_L = x_l + Σ F(x_i) holds exactly (He et "
            "al. 2016b, eq. 4). At a stage boundary option A's zero-padding or option B's projection takes the place "
            "of x_l, and the sum holds no more."
        ).format(formula=s.formula)
    if s.kind == "bottleneck":
        return _(
            "Post-activation: {formula}. A {after} follows the addition, so the shortcut passes through it at every "
            "block (He et al. 2016). The 1×1 convs narrow {wide} channels to {narrow} and widen them back: expansion "
            "{expansion}."
        ).format(
            formula=s.formula, after=s.after_add[0], wide=s.channels[1], narrow=s.channels[0], expansion=s.expansion
        )
    return _(
        "Post-activation: {formula}. A {after} follows the addition, so the shortcut passes through it at every block "
        "(He et al. 2016)."
    ).format(formula=s.formula, after=s.after_add[0])


def stem_contrast(c: StemContrast) -> str:
    """What the ImageNet stem would do to a CIFAR-sized image."""
    return _(
        "Fed a {size}×{size} CIFAR image, {net}'s stem would shrink it to {height}×{width} before the first block, and "
        "{stage} would see {stage_size}. So the CIFAR nets keep the full resolution in the stem and halve it only in "
        "the first block of each later stage."
    ).format(
        size=c.size,
        net=c.imagenet,
        height=c.after_stem[0],
        width=c.after_stem[1],
        stage=c.last_stage,
        stage_size=c.last_size,
    )


__all__ = [
    "backward_sentence",
    "block_caption",
    "expansion_sentence",
    "pool_sentence",
    "shortcut_sentence",
    "source_note",
    "stem_contrast",
    "stem_sentence",
    "summary",
]
