"""Theory and gradient flow: why the identity path keeps the gradient alive, measured at initialisation."""

import math

import streamlit as st

from resnet_viz import ui
from resnet_viz.engine.config import ACTIVATIONS, INITS, ConfigError, ModelConfig, valid_cifar_depths
from resnet_viz.figures import theory as theory_figures
from resnet_viz.i18n import N_, _
from resnet_viz.teaching import glossary
from resnet_viz.text import theory as text_theory
from resnet_viz.theory import flow as theory
from resnet_viz.ui import theory as ui_th

ui.page_setup("theory")

ARCH_LABELS = {"cifar": N_("CIFAR-style conv net"), "mlp": N_("MLP")}
DATA_LABELS = {"digits": N_("digits (8x8)"), "shapes": N_("shapes (32x32)")}
KIND_LABELS = {"plain": N_("plain"), "residual": N_("residual")}
CHAIN_ACT_LABELS = {"linear": N_("linear")}
VIEW_LABELS = {
    "flow": N_("dL/dx per block"),
    "rms": N_("per weight: RMS"),
    "norm": N_("per weight: L2 norm"),
    "rel": N_("per weight: relative"),
}

st.title(_("Why the identity path keeps the gradient alive"))
st.caption(_("Everything on this page is measured at initialisation, on the spot: no training needed."))

st.subheader(_("1. The algebra"))
left, right = st.columns(2, gap="large")
with left:
    st.markdown(_("A **residual block** adds its input $x_l$ to what its layers compute, $\\mathcal{F}$:"))
    st.latex(r"x_{l+1} = x_l + \mathcal{F}(x_l, W_l)")
    st.markdown(_("Stacking blocks from $l$ to $L$ unrolls into a sum (He et al. 2016b, eq. 4):"))
    st.latex(r"x_L = x_l + \sum_{i=l}^{L-1} \mathcal{F}(x_i, W_i)")
    st.markdown(_("so the chain rule gives (eq. 5):"))
    st.latex(
        r"\frac{\partial \mathcal{L}}{\partial x_l} = \frac{\partial \mathcal{L}}{\partial x_L}"
        r"\Big(1 + \frac{\partial}{\partial x_l}\sum_{i=l}^{L-1} \mathcal{F}(x_i, W_i)\Big)"
    )
with right:
    st.markdown(
        _(
            "$\\mathcal{L}$ is the loss, $x_l$ the input of block $l$, $W_l$ its weights. The **1** carries the "
            "gradient at the top, $\\partial\\mathcal{L}/\\partial x_L$, straight back to every earlier block. "
            "The sum's term can cancel part of it or inflate it; He et al. (2016b) argue only that it is unlikely "
            "to be exactly $-1$ for every sample of a batch, so the gradient is unlikely to vanish."
        )
    )
    st.markdown(_("In a **plain** stack, $x_{i+1} = f_i(x_i)$, the gradient is a product of one Jacobian per layer:"))
    st.latex(
        r"\frac{\partial \mathcal{L}}{\partial x_l} = \frac{\partial \mathcal{L}}{\partial x_L}"
        r"\prod_{i=l}^{L-1} \frac{\partial f_i}{\partial x_i}"
    )
    st.markdown(_("If each factor is a bit below 1 it vanishes geometrically with depth; a bit above, it explodes."))
st.info(_(ui_th.EXACT_ONLY_FOR_PREACT), icon=":material/info:")

st.subheader(_("2. A chain you can tune"))
st.markdown(
    _(
        "L random layers of width 128, $W \\sim \\mathcal{N}(0, g^2/n)$, plain $x \\leftarrow \\varphi(Wx)$ "
        "against residual $x \\leftarrow x + \\beta\\,\\varphi(Wx)$, the same weights for both; the gradient at "
        "every layer is computed by torch autograd on the actual chain."
    )
)
a, b, c, d = st.columns(4)
depth = a.slider(_("Layers L"), 1, 100, 30, key="th_chain_depth")
gain = b.slider(
    _("Gain per layer g"),
    0.1,
    3.0,
    0.9,
    0.05,
    key="th_chain_gain",
    help=_("Each W is drawn with standard deviation g/√n: g is how strongly one layer scales its input."),
)
chain_act = c.selectbox(
    _("Activation φ"),
    theory.CHAIN_ACTIVATIONS,
    key="th_chain_act",
    placeholder=ui.placeholder(theory.CHAIN_ACTIVATIONS),
    format_func=lambda a: _(CHAIN_ACT_LABELS[a]) if a in CHAIN_ACT_LABELS else a,
)
beta_choice = d.radio(
    _("Branch scale β"),
    ["1/√L", "1"],
    horizontal=True,
    key="th_chain_beta",
    help=_("How much each residual branch is scaled before it is added."),
)
beta = 1.0 if beta_choice == "1" else 1.0 / math.sqrt(depth)
plain, residual = ui_th.chain(depth, gain, beta, chain_act)
st.plotly_chart(theory_figures.chain_figure(plain, residual, beta_label=beta_choice), key="th_chain")
st.caption(text_theory.chain_sentence(plain, residual, beta=beta, depth=depth, gain=gain) + " " + _(ui_th.CHAIN_WHY))

st.subheader(_("3. Real networks at initialisation"))
st.markdown(_("One batch forward and backward, no update: the gradient each block and layer would receive."))
c1, c2, c3, c4 = st.columns(4)
arch = c1.segmented_control(
    _("Network"),
    ["cifar", "mlp"],
    default="cifar",
    key="th_arch",
    format_func=lambda a: _(ARCH_LABELS[a]),
)
arch = arch or "cifar"
depth_options = valid_cifar_depths(110) if arch == "cifar" else [2, 5, 10, 20, 30, 50]
default_depths = [20, 56] if arch == "cifar" else [20]
depths = c1.multiselect(
    _("Depths"),
    depth_options,
    default=default_depths,
    key=f"th_depths_{arch}",
    placeholder=ui.placeholder(depth_options, many=True),
    help=glossary.help("6n+2") if arch == "cifar" else None,
)
kinds = c2.pills(
    _("Models"),
    ["plain", "residual"],
    default=["plain", "residual"],
    selection_mode="multi",
    key="th_kinds",
    format_func=lambda k: _(KIND_LABELS[k]),
    help=glossary.help("twins"),
)
alpha = c2.slider(
    _("Skip strength alpha of the residual model"),
    0.0,
    2.0,
    1.0,
    0.05,
    key="th_alpha",
    help=glossary.help("skip strength alpha"),
)
data_name = c3.segmented_control(
    _("Data"),
    ["digits", "shapes"],
    default="digits",
    key="th_data",
    format_func=lambda d: _(DATA_LABELS[d]),
)
data_name = data_name or "digits"
bn = c3.toggle(_("BatchNorm"), arch == "cifar", key=f"th_bn_{arch}")
activation = c3.selectbox(
    _("Activation"),
    ACTIVATIONS,
    index=ACTIVATIONS.index("relu" if arch == "cifar" else "sigmoid"),
    key=f"th_act_{arch}",
    placeholder=ui.placeholder(ACTIVATIONS),
)
init = c4.selectbox(
    _("Init"),
    INITS,
    index=INITS.index("kaiming" if arch == "cifar" else "xavier"),
    key=f"th_init_{arch}",
    format_func=ui.init_title,
    placeholder=ui.placeholder(INITS),
)
kind = c4.selectbox(
    _("Gradient view"),
    ["flow", "rms", "norm", "rel"],
    key="th_kind",
    placeholder=ui.placeholder(VIEW_LABELS),
    format_func=lambda v: _(VIEW_LABELS[v]),
    help=glossary.help("dL/dx") + " " + glossary.help("RMS per weight"),
)
if arch == "cifar" and data_name == "digits":
    st.caption(_(ui_th.DIGITS_CAVEAT))

cfgs: list[ModelConfig] = []
try:
    for d in depths:
        for k in kinds or []:
            cfgs.append(
                ModelConfig(
                    arch=arch,
                    depth=d,
                    width=8 if arch == "cifar" else 64,
                    residual=k == "residual",
                    alpha=alpha,
                    bn=bn,
                    activation=activation,
                    init=init,
                )
            )
except ConfigError as exc:
    st.error(str(exc))
if not cfgs:
    st.info(_("Choose at least one depth and one model."))
    profiles = []
else:
    profiles = ui_th.profiles(tuple(cfgs), data_name)
    ui_th.predict_then_reveal(profiles)
    if ui_th.revealed(profiles):
        left, right = st.columns(2)
        if (kind or "flow") == "flow":
            left.plotly_chart(theory_figures.flow_figure(profiles), key="th_profile")
        else:
            left.plotly_chart(theory_figures.profile_figure(profiles, kind=kind), key="th_profile")
        right.plotly_chart(theory_figures.act_std_figure(profiles), key="th_act")
        lines = ui_th.sentences(profiles)
        if lines:
            st.markdown("\n".join(f"- {line}" for line in lines))

st.subheader(_("4. Shattered gradients"))
st.markdown(
    _(
        "After Balduzzi et al. (2017): a fully connected ReLU net from one number to one number, 200 units wide "
        "(here with BatchNorm before every ReLU), differentiated at 256 evenly spaced inputs. They found df/dx "
        "smooth for a shallow net, like white noise for a deep plain net, and still correlated from one input to "
        "the next for a residual net; the chart measures the same on this page's nets."
    )
)
s1, s2 = st.columns(2)
sh_depth = s1.select_slider(_("Depth of the scalar nets"), [2, 10, 24, 50], 50, key="th_shatter_depth")
sh_scale = s2.toggle(
    _("Scale residual branches by 1/√depth"),
    True,
    key="th_shatter_scale",
    help=_("Off: every branch is added at full strength; the derivative grows but stays correlated."),
)
st.plotly_chart(theory_figures.shattered_figure(ui_th.shattered(sh_depth, sh_scale)), key="th_shatter")

st.subheader(_("5. Exercises"))
ui_th.exercises(profiles if cfgs else [], residual, beta)
