"""Saliency: where a deep plain net that degraded looks, against its residual twin (Grad-CAM and friends)."""

import math

import streamlit as st

from resnet_viz import localisation, saliency, ui
from resnet_viz.data import DatasetUnavailable
from resnet_viz.data.images import (
    ACCEPTED_EXTENSIONS,
    ACCEPTED_FORMATS,
    ImageError,
    load_image,
    sample_images,
)
from resnet_viz.figures import saliency as saliency_figures
from resnet_viz.pretrained import PretrainedUnavailable
from resnet_viz.runs import RunStore, RunStoreError
from resnet_viz.text import saliency as text_saliency
from resnet_viz.ui import saliency as ui_sal

ui.page_setup("saliency")

st.title("Where does each network look?")
st.caption(
    "Grad-CAM weights the last block's feature maps by how much the chosen class's score depends on them "
    "(Selvaraju et al. 2017). Here: a deep plain net that degraded against its residual twin, on shapes whose "
    "outline is known, so where each one looks can be measured, not only seen."
)

N_SAMPLES = 12  # test images offered as samples; on shapes they come with the object's mask
store = RunStore()
groups = ui.run_groups(store)
pair_key = localisation.newest_pair(groups)
controls, view = st.columns([1, 3], gap="large")

with controls:
    st.subheader("Networks")
    options = list(groups) + list(ui_sal.PRETRAINED_CHOICES)
    if st.session_state.get("sal_nets") not in options:  # first visit, or its runs were deleted
        st.session_state.sal_nets = pair_key  # the lesson's pair when there is one; else nothing chosen
    which = st.selectbox(
        "Trained twins or a pretrained net",
        options,
        key="sal_nets",
        placeholder="Choose networks",
        format_func=lambda k: ui_sal.PRETRAINED_CHOICES.get(k, k),
        help="Runs trained on the other pages appear here once finished, with what they were trained on.",
    )

nets: list[ui_sal.Net] = []
try:
    if which in groups:
        steps = store.snapshot_steps(groups[which][0].run_id)
        step = None
        if len(steps) > 1:
            step = controls.select_slider(
                "Weights after training step",
                steps,
                value=steps[-1],
                key="sal_step",
                help="Snapshots kept during training: see the map form as the net learns",
            )
            step = None if step == steps[-1] else step
        nets = [ui_sal.run_net(store, info, step) for info in groups[which]]
    elif which is not None:
        nets = [ui_sal.pretrained_net(which, progress_in=view)]
except (PretrainedUnavailable, RunStoreError, DatasetUnavailable, OSError) as exc:
    view.error(f"These networks cannot be loaded: {exc}", icon=":material/error:")

masked = which in groups and localisation.is_masked_pair(groups[which])
with controls:
    st.subheader("Image")
    source = st.segmented_control("Source", ["sample", "upload"], default="sample", key="sal_source")
    image, mask = None, None
    if source == "upload":
        up = st.file_uploader(f"Photo ({ACCEPTED_FORMATS})", type=list(ACCEPTED_EXTENSIONS), key="sal_upload")
        if up is not None:
            try:
                image = load_image(up.getvalue())
            except ImageError as exc:
                st.error(str(exc), icon=":material/broken_image:")
    elif nets and nets[0].data is not None:  # the nets' own test images: the domain they know
        data = ui_sal.dataset(nets[0].data)
        labels = [f"test #{i} ({data.classes[int(data.y_test[i])]})" for i in range(min(N_SAMPLES, len(data.y_test)))]
        i = labels.index(st.selectbox("Test image", labels, key=f"sal_sample_{nets[0].data.name}"))
        image = ui_sal.test_picture(data, i)
        mask = data.mask_test[i].numpy() if data.mask_test is not None else None
    elif nets:
        photos = sample_images()
        image = photos[st.selectbox("Photo", list(photos), key="sal_photo")]
    method = st.selectbox("Method", saliency.METHODS, format_func=saliency.METHOD_TITLES.get, key="sal_method")
    try:
        layer_names = [n for n, _ in saliency.layer_choices(nets[0].model)] if nets else []
    except saliency.SaliencyError:  # an MLP has no feature map: saliency and integrated gradients still apply
        layer_names = []
    layer = st.selectbox(
        "Layer",
        layer_names,
        index=max(0, len(layer_names) - 1),
        key="sal_layer",
        disabled=method not in saliency.LAYER_METHODS,
        help="Grad-CAM's feature maps: by default the last block of the last stage",
    )
    classes = nets[0].classes if nets else ()
    target = st.selectbox("Class", ["top-1 of each net", *classes], key="sal_target")
    st.subheader("Display")
    opacity = st.slider(
        "Map opacity",
        0.0,
        1.0,
        0.8,
        0.05,
        key="sal_opacity",
        help="Opacity of the strongest attribution; weaker ones fade out, zero is transparent",
    )
    shared = st.toggle(
        "Shared colour scale",
        True,
        key="sal_shared",
        help="On: one scale for all panels, so a stronger map looks stronger. Off: each panel to "
        "its own maximum, to compare where, not how strongly.",
    )
    raw = st.toggle("Maps only", False, key="sal_raw", help="The maps without the image under them")

with view:
    if pair_key is None:
        st.info(
            f"No pair trained on shapes yet. The lesson here needs one: {ui_sal.pair_text()}, trained together "
            f"on identical batches (the server estimates about {ui_sal.pair_minutes():.0f} min). Or pick other "
            "networks on the left.",
            icon=":material/model_training:",
        )
        job_id = st.session_state.get("sal_job")
        st.button(
            "Train the shapes pair",
            type="primary",
            icon=":material/play_arrow:",
            key="sal_train",
            disabled=job_id is not None,
            on_click=ui_sal.train_pair,
            args=(ui.owner_key(), store),
        )
        if st.session_state.get("sal_refused"):
            st.error(st.session_state.sal_refused, icon=":material/block:")
        if job_id is not None:
            ui.fragment(ui_sal.pair_progress, run_every=1.0)(job_id)
    if not nets:
        st.stop()
    if image is None:
        st.info("Upload a photo or pick a sample on the left.", icon=":material/image:")
        st.stop()
    if source == "upload" and nets[0].data is not None:
        st.warning(ui_sal.upload_sentence(nets[0]), icon=":material/info:")
    shown, maps, tops = [], [], []
    try:
        for net in nets:
            x, picture = ui_sal.model_input(net, image)
            tgt = None if target == "top-1 of each net" else net.classes.index(target)
            cam, top = ui_sal.explain(net, x, method=method, layer=layer, target=tgt)
            shown.append(picture)
            maps.append(cam.numpy())
            tops.append([(net.classes[i], p) for i, p in top])
    except saliency.SaliencyError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()
    st.plotly_chart(
        saliency_figures.overlay_figure(
            shown,
            maps,
            [n.label for n in nets],
            opacity=opacity,
            shared=shared,
            raw=raw,
            masks=mask,
            title=saliency.METHOD_TITLES[method],
        ),
        key="sal_overlay",
    )
    for col, net, top, m in zip(st.columns(len(nets)), nets, tops, maps):
        with col:
            st.markdown(f"**{net.label}**: top-{len(top)} predictions")
            st.dataframe([{"class": c, "probability": round(p, 3)} for c, p in top], hide_index=True)
            if mask is not None:
                share, inside = ui_sal.score_on_mask(m, mask)
                st.metric(
                    "Map energy inside the shape",
                    "-" if math.isnan(share) else f"{100 * share:.0f}%",
                    help="share of the map's total inside the ground-truth mask",
                )
                st.caption(
                    "This map is all zero: it points nowhere."
                    if math.isnan(share)
                    else f"Map maximum {'inside' if inside else 'outside'} the shape."
                )


# Below the two columns, at the page's full width: the panels get room to be read.
st.subheader("One net at full size")
pick = st.segmented_control("Net", [n.label for n in nets], default=nets[-1].label, key="sal_detail") or nets[-1].label
k = [n.label for n in nets].index(pick)
top_value = ui_sal.strongest(maps) if shared else None
st.plotly_chart(
    saliency_figures.detail_figure(
        shown[k], maps[k], f"{pick}: {saliency.METHOD_TITLES[method]}", opacity=opacity, mask=mask, top=top_value
    ),
    key="sal_detail_fig",
)
scaled = saliency_figures.scale_maps([maps[k]], shared=False)[0]
st.download_button(
    "Overlay (PNG)",
    saliency_figures.overlay_png(shown[k], scaled, opacity=opacity),
    file_name=f"{pick}-{method}.png",
    mime="image/png",
    key="sal_png",
    icon=":material/download:",
)

if masked:
    st.subheader(f"Where they look, over training ({localisation.N_SCORED} test images)")
    runs = groups[which]
    score_layer = layer if method in saliency.LAYER_METHODS else None
    try:
        tracks = ui_sal.tracks(str(store.root), tuple(r.run_id for r in runs), ui_sal.stamps(runs), score_layer)
    except (RunStoreError, DatasetUnavailable, saliency.SaliencyError, OSError) as exc:
        st.error(f"The snapshots cannot be scored: {exc}", icon=":material/error:")
        st.stop()
    data = ui_sal.dataset(runs[0].data)
    chance = localisation.chance_share(data.mask_test[: localisation.N_SCORED])
    st.plotly_chart(
        saliency_figures.localisation_figure(
            {t.label: list(t.steps) for t in tracks},
            {t.label: list(t.energy) for t in tracks},
            {t.label: list(t.peak) for t in tracks},
            chance=chance,
        ),
        key="sal_tracks",
    )
    st.caption(
        f"Scored with Grad-CAM at {score_layer or 'the last block'} on test images 0-"
        f"{localisation.N_SCORED - 1}, for each class the net chose."
    )
    for sentence in text_saliency.localisation_reading(tracks, chance, localisation.N_SCORED, len(data.classes)):
        st.markdown(f"- {sentence}")
