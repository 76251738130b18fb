"""Theory and gradient flow: why the identity path keeps the gradient alive, measured at initialisation."""

import streamlit as st

from resnet_viz import theory_plots
from resnet_viz.config import (
    ACTIVATIONS,
    INITS,
    ConfigError,
    ModelConfig,
    valid_cifar_depths,
)
from resnet_viz.ui import theory as ui_th

st.title("Why the identity path keeps the gradient alive")
st.caption("Everything on this page is measured at initialisation, on the spot: no training needed.")

st.subheader("1. The algebra")
left, right = st.columns(2, gap="large")
with left:
    st.markdown("A **residual block** adds its input $x_l$ to what its layers compute, $\\mathcal{F}$:")
    st.latex(r"x_{l+1} = x_l + \mathcal{F}(x_l, W_l)")
    st.markdown("Stacking blocks from $l$ to $L$ unrolls into a sum (He et al. 2016b, eq. 4):")
    st.latex(r"x_L = x_l + \sum_{i=l}^{L-1} \mathcal{F}(x_i, W_i)")
    st.markdown("so the chain rule gives (eq. 5):")
    st.latex(r"\frac{\partial \mathcal{L}}{\partial x_l} = \frac{\partial \mathcal{L}}{\partial x_L}"
             r"\Big(1 + \frac{\partial}{\partial x_l}\sum_{i=l}^{L-1} \mathcal{F}(x_i, W_i)\Big)")  # fmt: skip
with right:
    st.markdown(
        "$\\mathcal{L}$ is the loss, $x_l$ the input of block $l$, $W_l$ its weights. The **1** carries the "
        "gradient at the top, $\\partial\\mathcal{L}/\\partial x_L$, straight back to every earlier block, "
        "whatever the layers do; the sum can only add to it, and it is unlikely to cancel it exactly."
    )
    st.markdown("In a **plain** stack, $x_{i+1} = f_i(x_i)$, the gradient is a product of one Jacobian per layer:")
    st.latex(r"\frac{\partial \mathcal{L}}{\partial x_l} = \frac{\partial \mathcal{L}}{\partial x_L}"
             r"\prod_{i=l}^{L-1} \frac{\partial f_i}{\partial x_i}")  # fmt: skip
    st.markdown("If each factor is a bit below 1 it vanishes geometrically with depth; a bit above, it explodes.")

st.subheader("2. A chain you can tune")
a, b, c = st.columns(3)
depth = a.slider("Layers L", 1, 100, 30, key="th_chain_depth")
gain = b.slider("Gain per layer g", 0.1, 3.0, 0.9, 0.05, key="th_chain_gain")
slope = c.select_slider("Activation slope", [0.25, 0.5, 1.0], 1.0, key="th_chain_slope",
                        format_func=lambda s: {0.25: "0.25 (sigmoid's maximum)", 0.5: "0.5", 1.0: "1 (ReLU, active)"}[s],
                        help="the activation's derivative, taken as a constant along the chain")  # fmt: skip
plain, residual = ui_th.chain(depth, gain, slope)
st.plotly_chart(theory_plots.chain_figure(plain, residual), key="th_chain")
st.caption(f"Computed with torch autograd on the actual chain: at the input, the plain chain's gradient is "
           f"{plain[0]:.3g} and the residual chain's {residual[0]:.3g} (each relative to 1 at the output).")  # fmt: skip

st.subheader("3. Real networks at initialisation")
st.markdown("One batch of the digits, forward and backward, no update: the gradient each layer would receive.")
c1, c2, c3, c4 = st.columns(4)
arch = c1.segmented_control("Network", ["cifar", "mlp"], default="cifar", key="th_arch",
                            format_func={"cifar": "CIFAR-style conv net", "mlp": "MLP"}.get)  # fmt: skip
arch = arch or "cifar"
depth_options = valid_cifar_depths(110) if arch == "cifar" else [2, 5, 10, 20, 30, 50]
default_depths = [20, 56] if arch == "cifar" else [20]
depths = c1.multiselect("Depths", depth_options, default=default_depths, key=f"th_depths_{arch}")
kinds = c2.pills("Models", ["plain", "residual"], default=["plain", "residual"], selection_mode="multi",
                 key="th_kinds")  # fmt: skip
alpha = c2.slider("Skip strength alpha of the residual model", 0.0, 1.0, 1.0, 0.05, key="th_alpha",
                  help="y = F(x) + alpha x: 0 is a plain net, 1 a residual one")  # fmt: skip
bn = c3.toggle("BatchNorm", arch == "cifar", key=f"th_bn_{arch}")
activation = c3.selectbox("Activation", ACTIVATIONS, index=ACTIVATIONS.index("relu" if arch == "cifar" else "sigmoid"),
                          key=f"th_act_{arch}")  # fmt: skip
init = c4.selectbox("Init", INITS, index=INITS.index("kaiming" if arch == "cifar" else "xavier"), key=f"th_init_{arch}")
kind = c4.segmented_control("Gradient view", ["rms", "norm", "rel"], default="rms", key="th_kind",
                            format_func={"rms": "RMS per weight", "norm": "L2 norm", "rel": "relative to weight"}.get,
                            help="RMS by default: a raw norm grows with the layer's size")  # fmt: skip

cfgs: list[ModelConfig] = []
try:
    for d in depths:
        for k in kinds or []:
            cfgs.append(ModelConfig(arch=arch, depth=d, width=8 if arch == "cifar" else 64, residual=k == "residual",
                                    alpha=alpha, bn=bn, activation=activation, init=init))  # fmt: skip
except ConfigError as exc:
    st.error(str(exc))
if not cfgs:
    st.info("Choose at least one depth and one model.")
else:
    profiles = ui_th.profiles(tuple(cfgs))
    ui_th.predict_then_reveal(profiles)
    if ui_th.revealed(profiles):
        left, right = st.columns(2)
        left.plotly_chart(theory_plots.profile_figure(profiles, kind=kind or "rms"), key="th_profile")
        right.plotly_chart(theory_plots.act_std_figure(profiles), key="th_act")
        lines = ui_th.sentences(profiles)
        if lines:
            st.markdown("\n".join(f"- {line}" for line in lines))

st.subheader("4. Shattered gradients")
st.markdown(
    "Balduzzi et al. (2017): a fully connected ReLU net from one number to one number. Its derivative "
    "df/dx along 256 evenly spaced inputs is smooth for a shallow net; in a deep plain net it looks like "
    "white noise, while a residual net's stays correlated from one input to the next."
)
sh_depth = st.select_slider("Depth of the scalar nets", [2, 10, 24, 50], 50, key="th_shatter_depth")
st.plotly_chart(theory_plots.shattered_figure(ui_th.shattered(sh_depth)), key="th_shatter")
