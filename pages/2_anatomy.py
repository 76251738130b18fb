"""Anatomy of a ResNet: stages, the block and its code, stems, shortcut options and three common mistakes."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.anatomy import nets as anatomy
from resnet_viz.anatomy.nets import BLOCK_KINDS, IMAGENET_DEPTHS, NetSpec
from resnet_viz.engine.config import valid_cifar_depths
from resnet_viz.figures import anatomy as anatomy_figures
from resnet_viz.i18n import _
from resnet_viz.teaching import anatomy as teaching_anatomy
from resnet_viz.teaching import glossary
from resnet_viz.text import anatomy as anatomy_text
from resnet_viz.ui import PAPER_URL, PREACT_PAPER_URL
from resnet_viz.ui import anatomy as ui_an
from resnet_viz.ui import exercises as ui_ex

ui.page_setup("anatomy")

st.title(_("Anatomy of a ResNet"))
st.caption(
    _(
        "Every number on this page is counted or measured on the models themselves, built on the spot: the CIFAR "
        "nets from this app's own code, the ImageNet nets from torchvision with `weights=None` (nothing downloaded)."
    )
)

st.subheader(_("1. Pick a network"))
family = (
    st.segmented_control(
        _("Family"),
        ["cifar", "imagenet"],
        default="cifar",
        key="an_family",
        format_func={"cifar": _("CIFAR-10 (depth 6n+2)"), "imagenet": _("ImageNet (ResNet-18 to 152)")}.get,
        help=glossary.help("stage"),
    )
    or "cifar"
)
left, right = st.columns(2, gap="large")
with left:
    st.markdown(
        _("**CIFAR-10 nets** ([He et al. 2016]({paper}), §4.2): stem, three stages of basic blocks, head.").format(
            paper=PAPER_URL
        )
    )
    depth = st.select_slider(
        _("Depth 6n+2"), [*valid_cifar_depths(110), 1202], 20, key="an_depth", help=glossary.help("6n+2")
    )
    width = st.select_slider(
        _("Width of stage 1 (the paper: 16)"), [8, 16, 32, 64], 16, key="an_width", help=glossary.help("stage")
    )
    shortcut = (
        st.segmented_control(
            _("Shortcut where the shape changes"),
            ["A", "B"],
            default="A",
            key="an_shortcut",
            format_func={"A": _("option A (zero-pad)"), "B": _("option B (1×1 projection)")}.get,
            help=glossary.help("option A shortcut") + " " + glossary.help("option B shortcut"),
        )
        or "A"
    )
with right:
    st.markdown(
        _(
            "**ImageNet nets** ([He et al. 2016]({paper}), Table 1): basic blocks up to 34 layers, bottlenecks from 50."
        ).format(paper=PAPER_URL)
    )
    im_depth = st.select_slider(
        _("ImageNet ResNet"),
        IMAGENET_DEPTHS,
        IMAGENET_DEPTHS[0],
        key="an_im_depth",
        format_func=lambda d: f"ResNet-{d}",
        help=glossary.help("bottleneck"),
    )

cifar_spec = NetSpec("cifar", depth, width, shortcut)
im_spec = NetSpec("imagenet", im_depth)
spec = cifar_spec if family == "cifar" else im_spec
anat = ui_an.stage_anatomy(spec)
st.markdown(anatomy_text.summary(anat))
table_col, chart_col = st.columns([3, 2])
with table_col:
    ui_an.stage_table(anat)
    st.caption(anatomy_text.source_note(anat))
chart_col.plotly_chart(anatomy_figures.stage_params_figure(anat), key="an_params")

st.subheader(_("2. The block"))
fitting = "bottleneck" if spec.family == "imagenet" and spec.depth >= 50 else "post"
a, b = st.columns([3, 2])
kind = (
    a.segmented_control(
        _("Block"),
        list(BLOCK_KINDS),
        default=fitting,
        key=f"an_block_{fitting}",
        format_func=lambda k: _(BLOCK_KINDS[k]),
        help=glossary.help("post-activation") + " " + glossary.help("pre-activation"),
    )
    or fitting
)
residual = b.toggle(
    _("Identity shortcut (off: the plain block)"), True, key="an_residual", help=glossary.help("identity shortcut")
)
sketch = ui_an.block(kind, residual)
diagram_col, code_col = st.columns(2, gap="large")
with diagram_col:
    st.plotly_chart(anatomy_figures.block_figure(sketch), key="an_block_fig")
    st.caption(anatomy_text.block_caption(sketch))
with code_col:
    st.markdown(
        _(
            "The basic block as this app runs it, `resnet_viz.engine.models.Block` ([He et al. 2016]({paper}); "
            "pre-activation: [He et al. 2016b]({preact_paper})). A plain block skips one line only: `{line}`."
        ).format(paper=PAPER_URL, preact_paper=PREACT_PAPER_URL, line=anatomy.residual_line())
    )
    st.code(anatomy.block_source(), language="python", wrap_lines=True)

st.subheader(_("3. Stems: ImageNet shrinks at once, CIFAR does not"))
a, b = st.columns(2, gap="large")
a.markdown(ui_an.stem(cifar_spec), help=glossary.help("stem"))
b.markdown(ui_an.stem(im_spec), help=glossary.help("stem"))
st.markdown(ui_an.stem_contrast(cifar_spec, im_spec))

st.subheader(_("4. Shortcut options A and B"))
cost = ui_an.shortcut(depth, width)
st.markdown(anatomy_text.shortcut_sentence(cost), help=glossary.help("twins"))
st.markdown(
    _(
        "Option A keeps plain and residual twins the same size, so a comparison of the two measures the shortcut "
        "and nothing else. He et al. 2016, Table 3 compares options A, B and C (projections on every shortcut) on "
        "ImageNet: they differ by small margins, so projections are not essential for addressing degradation, and "
        "identity shortcuts are kept wherever the shapes match."
    )
)

st.subheader(_("5. Common mistakes in widely read tutorials"))
with st.container(border=True):
    st.markdown(
        _(
            "**1. A bottleneck without `expansion`.** The block class must say how much wider its output is "
            "than its inner convs; the network code reads it to size the next stage and the head."
        )
    )
    st.markdown(anatomy_text.expansion_sentence(ui_an.expansion()), help=glossary.help("expansion"))
    st.markdown(
        _(
            "**2. A fixed `nn.AvgPool2d(7)` before the head.** Its window fits the last map of one input size "
            "only; global average pooling, `nn.AdaptiveAvgPool2d(1)`, fits any size."
        )
    )
    size = st.select_slider(
        _("Input size (pixels per side) for the network picked above"),
        [32, 64, 96, 128, 160, 192, 224, 256, 320, 448],
        224,
        key="an_pool_size",
        help=glossary.help("global average pooling"),
    )
    check = ui_an.pool(spec, size)
    st.markdown(anatomy_text.pool_sentence(check))
    st.markdown(
        _(
            "**3. A backward pass written with the shortcut's 1 in dL/dW.** The identity has no weights; "
            "its 1 belongs to the gradient that flows to the block's input (He et al. 2016b, eq. 5, here for one "
            "block: L = l + 1). A block's own dL/dW has no 1, but the 1 changes the gradient that reaches every "
            "earlier block, and so their dL/dW:"
        )
    )
    st.latex(
        r"\frac{\partial \mathcal{L}}{\partial x_l} = \frac{\partial \mathcal{L}}{\partial x_{l+1}}"
        r"\Big(1 + \frac{\partial \mathcal{F}(x_l)}{\partial x_l}\Big), \qquad "
        r"\frac{\partial \mathcal{L}}{\partial W_l} = \frac{\partial \mathcal{L}}{\partial x_{l+1}}"
        r"\frac{\partial \mathcal{F}(x_l, W_l)}{\partial W_l}"
    )
    st.markdown(anatomy_text.backward_sentence(ui_an.backward()), help=glossary.help("dL/dx"))

ui_ex.show(teaching_anatomy.exercises(cost, shortcut, anat, check))
ui_an.glossary_expander()
