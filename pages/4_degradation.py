"""Degradation explorer: training error vs depth for plain and residual nets (He et al. 2016, Figs. 1, 6)."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.degradation.sweep import PAPER_SCALE
from resnet_viz.engine.config import ConfigError
from resnet_viz.engine.data import DATASETS, WEB_DATASETS
from resnet_viz.engine.runs import RunStore
from resnet_viz.i18n import N_, _
from resnet_viz.teaching import glossary
from resnet_viz.teaching.settings import SWEEP_BOUNDS, SWEEP_LINK, SWEEP_RECIPE_FIELDS
from resnet_viz.ui import degradation as ui_sweep
from resnet_viz.ui import links

# Option labels of the widgets: the option values stay the keys the URL and the sweep use.
KIND_LABEL = {"plain": N_("plain"), "residual": N_("residual")}
BUDGET_LABEL = {"steps": N_("steps"), "epochs": N_("epochs")}

ui.page_setup("degradation")

st.title(_("Deeper is not better: the degradation problem"))
st.caption(
    _(
        "He et al. (2016, Fig. 1 and §4.2) found on CIFAR-10 that a 56-layer *plain* network reaches a **higher "
        "training error** than a 20-layer one, while the residual networks' test error fell with depth up to 110 "
        "layers (Table 6; ResNet-1202 was worse, 7.93% vs 6.43% test error, which the paper attributes to "
        "overfitting). Train "
        "both kinds at several depths here and check it on your own runs: same seed, same batches, same budget "
        "for every model."
    )
)

# The sweep's settings live in the URL (sw_* keys): links.read seeds the widgets from a shared link
# and says which values it dropped and why; links.write puts the widgets' values back.
links.read(SWEEP_LINK, "degradation")

B = SWEEP_BOUNDS
keep = {"persist_state": "session"}  # the values survive a visit to another page
if ui.cuda_available():
    with st.container(border=True):
        st.markdown(
            _(
                "**A GPU is available.** The paper-scale preset trains CIFAR-10 (when downloaded) at "
                "width 16, batch 128 with crop + flip, depths 20/32/44/56, on a compressed schedule: {epochs} "
                "epochs, where the paper trained for 64k iterations (about 164 epochs)."
            ).format(epochs=PAPER_SCALE.train.epochs)
        )
        st.button(
            _("Load the paper-scale preset"),
            key="sweep_preset",
            on_click=ui_sweep.load_preset,
            args=(PAPER_SCALE,),
        )

controls, view = st.columns(ui.CONTROLS_VIEW, gap="large")
with controls:
    st.subheader(_("Sweep"))
    dataset = st.selectbox(
        _("Dataset"),
        WEB_DATASETS,
        format_func=lambda k: _(DATASETS[k].title),
        key="sw_dataset",
        placeholder=ui.placeholder(WEB_DATASETS),
        on_change=links.use_dataset_recipe,
        args=(SWEEP_LINK, SWEEP_RECIPE_FIELDS),
        help=_("Each dataset opens with its own depths, steps, width and learning rate"),
        **keep,
    )
    if dataset == "digits":
        st.caption(
            _(
                "On the 8x8 digits the last stage works on a 2x2 map where zero padding fills most of every "
                "3x3 kernel: a depth comparison here partly measures padding. Shapes (32x32) avoid it."
            )
        )
    depths = st.multiselect(
        _("Depths (6n+2 layers)"),
        B["depths"].values,
        key="sw_depths",
        help=glossary.help("6n+2"),
        placeholder=ui.placeholder(B["depths"].values, many=True),
        **keep,
    )
    kinds = st.pills(
        _("Models"),
        B["kinds"].values,
        selection_mode="multi",
        format_func=lambda k: _(KIND_LABEL[k]),
        key="sw_kinds",
        help=glossary.help("twins"),
        **keep,
    )
    budget = st.segmented_control(
        _("Budget per model"),
        B["budget"].values,
        format_func=lambda b: _(BUDGET_LABEL[b]),
        key="sw_budget",
        **keep,
    )
    amount = st.number_input(_("Steps or epochs"), B["amount"].lo, B["amount"].hi, key="sw_amount", **keep)
    n_seeds = st.slider(
        _("Seeds"),
        B["seeds"].lo,
        B["seeds"].hi,
        key="sw_seeds",
        help=_("seeds 0, 1, ...: init and batch order"),
        **keep,
    )
    with st.expander(_("More settings")):
        width = st.select_slider(_("Width (stage-1 channels)"), B["width"].values, key="sw_width", **keep)
        lr = st.number_input(_("Learning rate"), B["lr"].lo, B["lr"].hi, format="%.4f", key="sw_lr", **keep)
        batch = st.select_slider(_("Batch size"), B["batch_size"].values, key="sw_batch", **keep)
        augment = st.toggle(_("Augment (crop + flip)"), key="sw_augment", **keep)
        warmup = st.number_input(
            _("Warm-up steps at lr/10 for depth 110 (paper: 400)"),
            B["warmup"].lo,
            B["warmup"].hi,
            key="sw_warmup",
            **keep,
        )

chosen = SWEEP_LINK.from_widgets(
    {
        "sw_dataset": dataset,
        "sw_depths": depths,
        "sw_kinds": kinds,
        "sw_budget": budget,
        "sw_amount": amount,
        "sw_seeds": n_seeds,
        "sw_width": width,
        "sw_lr": lr,
        "sw_batch": batch,
        "sw_augment": augment,
        "sw_warmup": warmup,
    }
)
links.write(SWEEP_LINK, "degradation", chosen)
try:
    sweep = chosen.sweep_config()
except ConfigError as exc:
    sweep = None
    controls.error(str(exc))

owner, store = ui.owner_key(), RunStore()
busy = ui_sweep.running("sweep", owner)
with controls:
    st.button(
        _("Run sweep"),
        key="sweep_run",
        type="primary",
        icon=":material/play_arrow:",
        disabled=sweep is None or busy,
        on_click=ui_sweep.submit,
        args=(sweep, owner, store, "sweep"),
        help=_(
            "Trains only the runs of these settings that the run store lacks: a finished or diverged run with "
            "the same settings and seed is reused, whoever trained it"
        ),
    )
    a, b = st.columns(2)
    a.button(
        _("Re-run"),
        key="sweep_rerun",
        icon=":material/replay:",
        disabled=sweep is None or busy,
        on_click=ui_sweep.submit,
        args=(sweep, owner, store, "sweep"),
        kwargs={"force": True},
        help=_(
            "Trains every run of these settings again, even those already in the run store; the new runs are "
            "shown, and the earlier ones stay in the store"
        ),
    )
    b.button(
        _("Stop"),
        key="sweep_stop",
        icon=":material/stop:",
        disabled=not busy,
        on_click=ui_sweep.stop,
        args=("sweep", owner),
    )

with view:
    ui_sweep.progress("sweep", sweep, store, chart_key="sweep_live")
    results = ui_sweep.results_view(sweep, store, live=ui_sweep.active("sweep")) if sweep is not None else []
    ui_sweep.difficulty_panel(results)
    ui_sweep.exercises(results)
    ui_sweep.paper_reference()
