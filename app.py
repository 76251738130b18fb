"""ResNet Lab, `streamlit run app.py`: the home page (what the lab is for, how it measures, which
pages exist, the device in use). The other pages are pages/<n>_<key>.py, listed in resnet_viz.ui.PAGES."""

import dataclasses

import streamlit as st

from resnet_viz import ui
from resnet_viz.degradation.sweep import DEMO
from resnet_viz.engine.runs import RunStore
from resnet_viz.i18n import _
from resnet_viz.teaching import atlas
from resnet_viz.ui import degradation as ui_sweep

ui.page_setup("home")

st.title("ResNet Lab")
st.markdown(
    _(
        "Why do residual connections let very deep networks train? This lab is built to check the "
        "two answers from the papers against **live measurements** on networks you train yourself, "
        "not against animations."
    )
)

left, right = st.columns(2, gap="large")
with left:
    st.subheader(_("1. Vanishing and exploding gradients"))
    st.markdown(
        _(
            "Backpropagation multiplies the gradient by one Jacobian per layer, so in a plain stack "
            "(sigmoid MLPs, no normalisation, a poor initialisation) its size can shrink or grow "
            "geometrically with depth. A residual block adds its input back to its output:"
        )
    )
    st.latex(
        r"y = x + \mathcal{F}(x) \quad\Longrightarrow\quad "
        r"\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}"
        r"\left(1 + \frac{\partial \mathcal{F}}{\partial x}\right)"
    )
    st.markdown(
        _(
            "The **1** (the identity) gives the gradient a direct route back to every earlier layer. The "
            "branch's term can cancel part of it or inflate it, but it is unlikely to cancel it exactly for "
            "every sample (He et al. 2016b)."
        )
    )
    st.caption(
        _(
            "This holds exactly for pre-activation blocks, where nothing follows the addition. The original "
            "block, the lab's default, applies a ReLU after it, y = ReLU(x + F(x)); choose *Pre-activation "
            "blocks* on Train & compare for the clean identity path."
        )
    )
with right:
    st.subheader(_("2. The degradation problem"))
    st.markdown(
        _(
            "With BatchNorm, a deep plain network's gradients do not vanish (at initialisation they even "
            "explode toward the input), yet He et al. (2016, Fig. 1 and §4.2) found on CIFAR-10 a 56-layer "
            "plain net reaching a *higher training error* than a 20-layer one, while ResNet-56 trained "
            "*better* than ResNet-20 (Table 6: 6.97% vs 8.75% test error). Since training error is worse, "
            "this is an optimisation difficulty, not overfitting."
        )
    )
    st.markdown(
        _(
            "Here every comparison trains **twins**: a plain and a residual network of the same "
            "depth (with the default parameter-free shortcut, also the same parameter count), from "
            "the same seed, on the identical sequence of batches, so any difference comes from the "
            "skip connection alone."
        )
    )
    st.markdown(
        _(
            "Why degradation is surprising: a deeper net could copy a shallower one and make its extra "
            "layers identities, so its training error should be no higher (He et al. 2016, §3.1), yet the "
            "solvers the paper used found no solution as good (§1). The paper's hypothesis: a residual block "
            "only has to push $\\mathcal{F}$ toward 0, which may be easier than fitting an identity with a "
            "stack of nonlinear layers (§3.1). *Beyond the textbook* measures how close to the identity "
            "trained blocks are."
        )
    )

st.divider()
st.subheader(_("See degradation in under a minute"))
st.markdown(
    _(
        "One click trains four networks on scikit-learn's handwritten digits, in lockstep on identical "
        "batches: **plain-20, plain-56, residual-20 and residual-56** (width {width}, "
        "{steps} steps each). Watch whether the deep plain net falls behind while its residual twin keeps up."
    ).format(width=DEMO.model.width, steps=DEMO.train.steps)
)
owner, store = ui.owner_key(), RunStore()
busy = ui_sweep.running("demo", owner)
button, seed_box = st.columns([1, 3], vertical_alignment="bottom")
seed = seed_box.selectbox(
    _("Seed (init and batch order)"),
    atlas.DEMO_SWEEP.seeds,  # the seeds the reference atlas holds the demo for
    key="demo_seed",
    width=220,
    placeholder=ui.placeholder(atlas.DEMO_SWEEP.seeds),
)
demo = dataclasses.replace(DEMO, seeds=(seed,))
button.button(
    _("Run the demo"),
    type="primary",
    icon=":material/play_arrow:",
    disabled=busy,
    on_click=ui_sweep.submit,
    args=(demo, owner, store, "demo"),
    kwargs={"force": True},
    key="demo_run",
)
ui_sweep.demo_view(demo, store, "demo")

st.divider()
st.subheader(_("Pages"))
others = [p for p in ui.PAGES if p.key != "home"]
if others:
    for page in others:
        st.page_link(page.path, label=_(page.title), icon=page.icon)
        st.caption(_(page.summary))
else:
    st.markdown(_("This is the only page so far; the `resnet-viz` command line trains and compares models."))

st.subheader(_("Device"))
st.markdown(_("Training here runs on: **{device}**").format(device=ui.device_label()))
