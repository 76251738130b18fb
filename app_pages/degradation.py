"""Degradation explorer: training error vs depth for plain and residual nets (He et al. 2016, Figs. 1, 6)."""

import streamlit as st

from resnet_viz import glossary, ui
from resnet_viz.config import (
    ConfigError,
    DataConfig,
    ModelConfig,
    TrainConfig,
    valid_cifar_depths,
)
from resnet_viz.data import DATASETS
from resnet_viz.runs import RunStore
from resnet_viz.sweep import DEMO, PAPER_SCALE, SweepConfig
from resnet_viz.ui import sweep as ui_sweep

st.title("Deeper is not better: the degradation problem")
st.caption(
    "He et al. (2016, Fig. 1 and §4.2) found on CIFAR-10 that a 56-layer *plain* network reaches a **higher "
    "training error** than a 20-layer one, while residual networks improved with depth up to 110 layers "
    "(ResNet-1202 was worse, 7.93% vs 6.43% test error, which the paper attributes to overfitting). Train "
    "both kinds at several depths here and check it on your own runs: same seed, same batches, same budget "
    "for every model."
)

D = DEMO
bind = {"bind": "query-params", "persist_state": "session"}
if ui.cuda_available():
    with st.container(border=True):
        st.markdown("**A GPU is available.** The paper-scale preset trains CIFAR-10 (when downloaded) at "
                    "width 16, batch 128 with crop + flip, depths 20/32/44/56, on a compressed schedule.")  # fmt: skip
        st.button("Load the paper-scale preset", on_click=ui_sweep.load_preset, args=(PAPER_SCALE,))

controls, view = st.columns([1, 3], gap="large")
with controls:
    st.subheader("Sweep")
    dataset = st.selectbox("Dataset", list(DATASETS), format_func=lambda k: DATASETS[k].title, key="sw_dataset", **bind)
    if dataset == "digits":
        st.caption("On the 8x8 digits the last stage works on a 2x2 map where zero padding fills most of every "
                   "3x3 kernel: a depth comparison here partly measures padding. Shapes (32x32) avoid it.")  # fmt: skip
    depths = st.multiselect("Depths (6n+2 layers)", valid_cifar_depths(110), default=list(D.depths),
                            key="sw_depths", help=glossary.help("6n+2"), **bind)  # fmt: skip
    kinds = st.pills("Models", ["plain", "residual"], default=list(D.kinds), selection_mode="multi", key="sw_kinds",
                     help=glossary.help("twins"), **bind)  # fmt: skip
    budget = st.segmented_control("Budget per model", ["steps", "epochs"], default="steps", key="sw_budget", **bind)
    amount = st.number_input("Steps or epochs", 1, 100_000, D.train.steps, key="sw_amount", **bind)
    n_seeds = st.slider("Seeds", 1, 5, len(D.seeds), key="sw_seeds", help="seeds 0, 1, ...: init and batch order",
                        **bind)  # fmt: skip
    with st.expander("More settings"):
        width = st.select_slider("Width (stage-1 channels)", [4, 8, 16, 32], D.model.width, key="sw_width", **bind)
        lr = st.number_input("Learning rate", 1e-4, 10.0, D.train.lr, format="%.4f", key="sw_lr", **bind)
        batch = st.select_slider("Batch size", [16, 32, 64, 128, 256], D.train.batch_size, key="sw_batch", **bind)
        augment = st.toggle("Augment (crop + flip)", D.data.augment, key="sw_augment", **bind)
        warmup = st.number_input("Warm-up steps at lr/10 for depth 110 (paper: 400)", 0, 10_000, 0,
                                 key="sw_warmup", **bind)  # fmt: skip

try:
    epochs = float(amount) if budget == "epochs" else None
    sweep = SweepConfig(
        depths=tuple(depths), kinds=tuple(kinds or ()), seeds=tuple(range(n_seeds)),
        model=ModelConfig(width=width), data=DataConfig(name=dataset, augment=augment),
        train=TrainConfig(steps=int(amount) if epochs is None else D.train.steps, epochs=epochs, batch_size=batch,
                          lr=lr, probe_every=D.train.probe_every),
        deep_warmup_steps=int(warmup),
    )  # fmt: skip
except ConfigError as exc:
    sweep = None
    controls.error(str(exc))

owner, store = ui.owner_key(), RunStore()
busy = ui_sweep.running("sweep", owner)
with controls:
    st.button("Run sweep", type="primary", icon=":material/play_arrow:", disabled=sweep is None or busy,
              on_click=ui_sweep.submit, args=(sweep, owner, store, "sweep"),
              help="Trains only the runs not already in the run store")  # fmt: skip
    a, b = st.columns(2)
    a.button("Re-run", icon=":material/replay:", disabled=sweep is None or busy, on_click=ui_sweep.submit,
             args=(sweep, owner, store, "sweep"), kwargs={"force": True}, help="Train every run again")  # fmt: skip
    b.button("Stop", icon=":material/stop:", disabled=not busy, on_click=ui_sweep.stop, args=("sweep", owner))

with view:
    ui_sweep.progress("sweep", sweep, store, chart_key="sweep_live")
    results = ui_sweep.results_view(sweep, store, live=ui_sweep.active("sweep")) if sweep is not None else []
    ui_sweep.difficulty_panel(results)
    ui_sweep.exercises()
    ui_sweep.paper_reference()
