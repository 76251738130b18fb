"""Train & compare: a plain net and its residual twin on identical batches, measured live."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.engine.config import ConfigError
from resnet_viz.engine.data import DATASETS, WEB_DATASETS
from resnet_viz.engine.runner import job_queue
from resnet_viz.engine.runs import RunStore
from resnet_viz.i18n import N_, _
from resnet_viz.teaching import glossary
from resnet_viz.teaching.settings import LIVE_BOUNDS, LIVE_LINK, RECIPE_FIELDS
from resnet_viz.ui import classroom as ui_class
from resnet_viz.ui import links
from resnet_viz.ui import live as ui_live

ui.page_setup("live")

# Option values stay the keys (the URL and the configs read them); the screen shows these words.
MODEL_CHOICES = {"both": N_("both"), "plain": N_("plain"), "residual": N_("residual")}
INIT_CHOICES = {"default": N_("default")}  # kaiming, xavier and fixup are names, shown as they are

st.title(_("Plain vs residual, live"))
st.caption(
    _(
        "Both networks start from the same seed and see the identical sequence of batches; the only difference "
        "is the shortcut: y = ReLU(F(x) + x) in the default (post-activation) block, y = F(x) + x with "
        "pre-activation blocks. With option A shortcuts the twins have the same parameters; option B adds 1x1 "
        "convolutions where the shape changes."
    )
)

# Classroom mode: this browser's part of the class experiment fills the widgets in (once per session).
part = ui_class.assigned_part()
# Settings live in the URL, so a shared link reopens this configuration: links.read seeds the
# widgets from it (and says which values it dropped and why), links.write puts them back.
links.read(LIVE_LINK, "live")

B = LIVE_BOUNDS
part_slot = st.container()
keep = {"persist_state": "session"}  # the values survive a visit to another page
controls, view = st.columns(ui.CONTROLS_VIEW, gap="large")
with controls:
    st.subheader(_("Setup"))
    dataset = st.selectbox(
        _("Dataset"),
        WEB_DATASETS,
        format_func=lambda k: _(DATASETS[k].title),
        key="dataset",
        placeholder=ui.placeholder(WEB_DATASETS),
        on_change=links.use_dataset_recipe,
        args=(LIVE_LINK, RECIPE_FIELDS),
        help=_(
            "Each dataset opens with its own depth, width, steps and learning rate: "
            "those under which the twins show the lesson in a few minutes"
        ),
        **keep,
    )
    depth = st.select_slider(
        _("Depth (6n+2 layers)"), B["depth"].values, key="depth", help=glossary.help("6n+2"), **keep
    )
    models = st.segmented_control(
        _("Models"),
        list(MODEL_CHOICES),
        format_func=lambda k: _(MODEL_CHOICES[k]),
        key="models",
        help=glossary.help("twins"),
        **keep,
    )
    steps = st.number_input(_("Steps"), B["steps"].lo, B["steps"].hi, step=50, key="steps", **keep)
    lr = st.number_input(_("Learning rate"), B["lr"].lo, B["lr"].hi, format="%.5f", key="lr", **keep)
    seed = st.number_input(_("Seed"), B["seed"].lo, B["seed"].hi, key="seed", **keep)
    with st.expander(_("More settings")):
        width = st.select_slider(_("Width (stage-1 channels)"), B["width"].values, key="width", **keep)
        bn = st.toggle(_("BatchNorm"), key="bn", help=glossary.help("BatchNorm"), **keep)
        activation = st.selectbox(
            _("Activation"),
            B["activation"].values,
            key="activation",
            placeholder=ui.placeholder(B["activation"].values),
            **keep,
        )
        init = st.selectbox(
            _("Init"),
            B["init"].values,
            format_func=lambda k: _(INIT_CHOICES[k]) if k in INIT_CHOICES else k,
            key="init",
            placeholder=ui.placeholder(B["init"].values),
            help=_(
                "fixup: for residual nets without BatchNorm (it "
                "zeroes each block's last layer, so it is refused for plain nets)"
            ),
            **keep,
        )
        optimizer = st.selectbox(
            _("Optimizer"),
            B["optimizer"].values,
            key="optimizer",
            placeholder=ui.placeholder(B["optimizer"].values),
            **keep,
        )
        batch_size = st.select_slider(_("Batch size"), B["batch_size"].values, key="batch_size", **keep)
        epochs = st.number_input(_("Epochs (0: use steps)"), B["epochs"].lo, B["epochs"].hi, key="epochs", **keep)
        shortcut = st.radio(
            _("Shortcut"),
            B["shortcut"].values,
            horizontal=True,
            key="shortcut",
            help=glossary.help("option A shortcut") + " " + glossary.help("option B shortcut"),
            **keep,
        )
        preact = st.toggle(_("Pre-activation blocks"), key="preact", help=glossary.help("pre-activation"), **keep)
        alpha = st.slider(
            _("Skip strength alpha (residual twin)"),
            B["alpha"].lo,
            B["alpha"].hi,
            step=0.05,
            key="alpha",
            help=glossary.help("skip strength alpha"),
            **keep,
        )
        augment = st.toggle(_("Augment (crop + flip)"), key="augment", **keep)
        warmup = st.number_input(
            _("Warm-up steps at lr/10"),
            B["warmup"].lo,
            B["warmup"].hi,
            step=10,
            key="warmup",
            help=_(
                "A gentle start: this many steps at lr/10 before the full rate (He et al. 2016 "
                "§4.2 warm ResNet-110 up at 0.01 until training error is below 80%, about "
                "400 iterations)"
            ),
            **keep,
        )

if dataset == "digits":
    controls.caption(
        _(
            "On the 8x8 digits the last stage works on a 2x2 map where zero padding fills most of every 3x3 "
            "kernel: a depth comparison here partly measures padding. Shapes (32x32) avoid it."
        )
    )
chosen = LIVE_LINK.from_widgets(
    {
        "dataset": dataset,
        "depth": depth,
        "width": width,
        "models": models,
        "bn": bn,
        "activation": activation,
        "init": init,
        "optimizer": optimizer,
        "lr": lr,
        "batch_size": batch_size,
        "steps": steps,
        "epochs": epochs,
        "seed": seed,
        "shortcut": shortcut,
        "preact": preact,
        "alpha": alpha,
        "augment": augment,
        "warmup": warmup,
    }
)
links.write(LIVE_LINK, "live", chosen)
settings = chosen
try:
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

with part_slot:  # above the settings it names, drawn once they are read
    ui_class.part_box(part, settings)
with controls:
    start_col, stop_col = st.columns(2)
    start_col.button(
        _("Train"),
        key="train_button",
        type="primary",
        icon=":material/play_arrow:",
        disabled=settings is None or running,
        on_click=ui_live.start_job,
        args=(settings, owner, store),
    )
    stop_col.button(
        _("Stop"),
        key="stop_button",
        icon=":material/stop:",
        disabled=not running,
        on_click=ui_live.stop_job,
        args=(job_id, owner),
    )

with view:
    ui_live.live_view(job_id, store, settings)

ui_live.run_list(store, current=snap.run_ids if snap else ())
