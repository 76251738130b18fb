"""Train & compare: a plain net and its residual twin on identical batches, measured live."""

import streamlit as st

from resnet_viz import glossary, ui
from resnet_viz.config import ACTIVATIONS, INITS, OPTIMIZERS, ConfigError, valid_cifar_depths
from resnet_viz.data import DATASETS
from resnet_viz.runner import job_queue
from resnet_viz.runs import RunStore
from resnet_viz.settings import TwinSettings, from_query

st.title("Plain vs residual, live")
st.caption(
    "Both networks start from the same seed and see the identical sequence of batches; the only difference "
    "is the shortcut: y = ReLU(F(x) + x) in the default (post-activation) block, y = F(x) + x with "
    "pre-activation blocks. With option A shortcuts the twins have the same parameters; option B adds 1x1 "
    "convolutions where the shape changes."
)

# Settings live in the URL (bind="query-params"), so a shared link reopens this configuration.
# Streamlit drops invalid URL values silently; say which ones and why.
_, url_problems = from_query(st.query_params.to_dict())
for problem in url_problems:
    st.warning(problem, icon=":material/link_off:")

D = TwinSettings()
bind = {"bind": "query-params", "persist_state": "session"}
controls, view = st.columns([1, 3], gap="large")
with controls:
    st.subheader("Setup")
    dataset = st.selectbox("Dataset", list(DATASETS), format_func=lambda k: DATASETS[k].title, key="dataset", **bind)
    depth = st.select_slider("Depth (6n+2 layers)", valid_cifar_depths(110), value=D.depth, key="depth",
                             help=glossary.help("6n+2"), **bind)  # fmt: skip
    models = st.segmented_control("Models", ["both", "plain", "residual"], default=D.models, key="models",
                                  help=glossary.help("twins"), **bind)  # fmt: skip
    steps = st.number_input("Steps", 1, 100_000, D.steps, step=50, key="steps", **bind)
    lr = st.number_input("Learning rate", 1e-5, 10.0, D.lr, format="%.4f", key="lr", **bind)
    seed = st.number_input("Seed", 0, 10_000, D.seed, key="seed", **bind)
    with st.expander("More settings"):
        width = st.select_slider("Width (stage-1 channels)", [4, 8, 16, 32, 64], D.width, key="width", **bind)
        bn = st.toggle("BatchNorm", D.bn, key="bn", help=glossary.help("BatchNorm"), **bind)
        activation = st.selectbox("Activation", ACTIVATIONS, key="activation", **bind)
        init = st.selectbox("Init", INITS, key="init", help="fixup: for residual nets without BatchNorm (it zeroes "
                            "each block's last layer, so it is refused for plain nets)", **bind)  # fmt: skip
        optimizer = st.selectbox("Optimizer", OPTIMIZERS, key="optimizer", **bind)
        batch_size = st.select_slider("Batch size", [16, 32, 64, 128, 256, 512], D.batch_size, key="batch_size", **bind)
        epochs = st.number_input("Epochs (0: use steps)", 0.0, 1000.0, D.epochs, key="epochs", **bind)
        shortcut = st.radio("Shortcut", ["A", "B"], horizontal=True, key="shortcut",
                            help=glossary.help("option A shortcut") + " " + glossary.help("option B shortcut"),
                            **bind)  # fmt: skip
        preact = st.toggle("Pre-activation blocks", D.preact, key="preact", help=glossary.help("pre-activation"), **bind)
        alpha = st.slider("Skip strength alpha (residual twin)", 0.0, 2.0, D.alpha, 0.05, key="alpha",
                          help=glossary.help("skip strength alpha"), **bind)  # fmt: skip
        augment = st.toggle("Augment (crop + flip)", D.augment, key="augment", **bind)

if dataset == "digits":
    controls.caption(
        "On the 8x8 digits the last stage works on a 2x2 map where zero padding fills most of every 3x3 "
        "kernel: a depth comparison here partly measures padding. Shapes (32x32) avoid it."
    )
try:
    settings = TwinSettings(
        dataset=dataset, depth=depth, width=width, models=models or D.models, bn=bn, activation=activation,
        init=init, optimizer=optimizer, lr=lr, batch_size=batch_size, steps=int(steps), epochs=epochs,
        seed=int(seed), shortcut=shortcut, preact=preact, alpha=alpha, augment=augment,
    )  # fmt: skip
    settings.validate()
except ConfigError as exc:
    settings = None
    controls.error(str(exc))

queue, owner, store = job_queue(), ui.owner_key(), RunStore()
# The job id rides in the URL too: a refreshed tab reconnects to the run it started. Train and
# Stop act in on_click callbacks, which run before this script, so this run already draws the
# new job and the right buttons (no second rerun between the press and the first chart).
job_id = st.query_params.get("job") or st.session_state.get("job")
snap = queue.snapshot(job_id) if job_id else None
mine = snap is not None and queue.get(job_id).owner == owner
running = snap is not None and snap.active and mine

with controls:
    start_col, stop_col = st.columns(2)
    start_col.button("Train", type="primary", icon=":material/play_arrow:", disabled=settings is None or running,
                     on_click=ui.start_job, args=(settings, owner, store))  # fmt: skip
    stop_col.button("Stop", icon=":material/stop:", disabled=not running, on_click=ui.stop_job, args=(job_id, owner))

with view:
    ui.live_view(job_id, store)

ui.run_list(store, current=snap.run_ids if snap else ())
