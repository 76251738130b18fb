"""Saliency: where does each network look? Grad-CAM and friends, plain vs residual side by side."""

import math

import numpy as np
import streamlit as st
import torch
from PIL import Image

from resnet_viz import saliency, saliency_plots
from resnet_viz.config import DataConfig
from resnet_viz.data import DatasetUnavailable
from resnet_viz.images import (
    ACCEPTED_EXTENSIONS,
    ACCEPTED_FORMATS,
    ImageError,
    load_image,
    sample_images,
)
from resnet_viz.pretrained import PretrainedUnavailable
from resnet_viz.runs import RunStore, RunStoreError
from resnet_viz.ui import saliency as ui_sal

st.title("Where does each network look?")
st.caption(
    "Grad-CAM weights the last block's feature maps by how much the chosen class's score depends on "
    "them (Selvaraju et al. 2017). Compare a plain net with its residual twin on the same image, or "
    "look through a pretrained ImageNet ResNet."
)

N_SHAPES = 12  # generated shapes test images offered as samples (they come with a ground-truth mask)
store = RunStore()
controls, view = st.columns([1, 3], gap="large")

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
    else:
        photos = sample_images()
        shapes = ui_sal.dataset(DataConfig(name="shapes"))
        names = list(photos) + [f"shapes test #{i} ({shapes.classes[int(shapes.y_test[i])]})" for i in range(N_SHAPES)]
        pick = st.selectbox("Sample", names, key="sal_sample")
        if pick in photos:
            image = photos[pick]
        else:
            i = names.index(pick) - len(photos)
            pixels = shapes.unstandardise(shapes.x_test[i : i + 1])[0].permute(1, 2, 0).numpy()  # (32, 32, 3)
            image = Image.fromarray((pixels.clip(0, 1) * 255).round().astype(np.uint8))
            mask = shapes.mask_test[i].numpy()  # (32, 32) bool: where the shape is

    st.subheader("Networks")
    groups = ui_sal.run_groups(store)
    options = list(groups) + list(ui_sal.PRETRAINED_CHOICES)
    which = st.selectbox("Trained twins or a pretrained net", options, key="sal_nets",
                         format_func=lambda k: ui_sal.PRETRAINED_CHOICES.get(k, k),
                         help="Runs trained on the other pages appear here once finished.")  # fmt: skip
    step = None
    if which in groups:
        steps = store.snapshot_steps(groups[which][0].run_id)
        if len(steps) > 1:
            step = st.select_slider("Weights after training step", steps, value=steps[-1], key="sal_step",
                                    help="Snapshots kept during training: see the map form as the net learns")  # fmt: skip
            step = None if step == steps[-1] else step
    method = st.selectbox("Method", saliency.METHODS, format_func=saliency.METHOD_TITLES.get, key="sal_method")

nets: list[ui_sal.Net] = []
try:
    if which in groups:
        nets = [ui_sal.run_net(store, info, step) for info in groups[which]]
    elif which is not None:
        nets = [ui_sal.pretrained_net(which)]
except (PretrainedUnavailable, RunStoreError, DatasetUnavailable, OSError) as exc:
    view.error(f"These networks cannot be loaded: {exc}", icon=":material/error:")

with controls:
    try:
        layer_names = [n for n, _ in saliency.layer_choices(nets[0].model)] if nets else []
    except saliency.SaliencyError:  # an MLP has no feature map: saliency and integrated gradients still apply
        layer_names = []
    layer = st.selectbox("Layer", layer_names, index=max(0, len(layer_names) - 1), key="sal_layer",
                         disabled=method not in saliency.LAYER_METHODS,
                         help="Grad-CAM's feature maps: by default the last block of the last stage")  # fmt: skip
    classes = nets[0].classes if nets else ()
    target = st.selectbox("Class", ["top-1 of each net", *classes], key="sal_target")
    st.subheader("Display")
    opacity = st.slider("Map opacity", 0.0, 1.0, 0.5, 0.05, key="sal_opacity")
    shared = st.toggle("One colour scale for all panels", True, key="sal_shared")
    raw = st.toggle("Raw maps (no image)", False, key="sal_raw")

with view:
    if image is None:
        st.info("Upload a photo or pick a sample on the left.", icon=":material/image:")
    elif not nets:
        st.info("No finished runs yet: train twins on **Train & compare**, or pick a pretrained net.",
                icon=":material/model_training:")  # fmt: skip
    else:
        shown, maps, tops = [], [], []
        try:
            for net in nets:
                x, picture = ui_sal.model_input(net, image)
                tgt = None if target == "top-1 of each net" else net.classes.index(target)
                cam, top = saliency.explain(net.model, x, method=method, layer=layer, target=tgt, frozen=True)
                shown.append(picture)
                maps.append(cam.numpy())
                tops.append([(net.classes[i], p) for i, p in top])
        except saliency.SaliencyError as exc:
            st.error(str(exc), icon=":material/error:")
        if len(maps) == len(nets):
            st.plotly_chart(saliency_plots.overlay_figure(shown, maps, [n.label for n in nets], opacity=opacity,
                                                          shared=shared, raw=raw,
                                                          title=f"{saliency.METHOD_TITLES[method]}"),
                            key="sal_overlay")  # fmt: skip
            cols = st.columns(len(nets))
            for col, net, top, picture, m in zip(cols, nets, tops, shown, maps):
                with col:
                    st.markdown(f"**{net.label}**: top-{len(top)} predictions")
                    st.dataframe([{"class": c, "probability": round(p, 3)} for c, p in top], hide_index=True)
                    if mask is not None:
                        cam = saliency.resize_map(torch.as_tensor(m), mask.shape)
                        share, inside = saliency.localisation_score(cam, torch.as_tensor(mask))
                        st.metric("Map energy inside the shape", "-" if math.isnan(share) else f"{100 * share:.0f}%",
                                  help="share of the map's total inside the ground-truth mask")  # fmt: skip
                        st.caption(f"Map maximum {'inside' if inside else 'outside'} the shape.")
                    scaled = saliency_plots.scale_maps([m], shared=False)[0]
                    st.download_button("Overlay (PNG)", saliency_plots.overlay_png(picture, scaled, opacity=opacity),
                                       file_name=f"{net.label}-{method}.png", mime="image/png",
                                       key=f"png-{net.label}", icon=":material/download:")  # fmt: skip
            on_shapes = which in groups and all(n.data is not None and n.data.name == "shapes" for n in nets)
            if on_shapes and st.button("Score on 100 shapes test images", key="sal_score"):
                data = ui_sal.dataset(nets[0].data)
                try:
                    rows = []
                    for net in nets:
                        energy, hits = saliency.mean_localisation(net.model, data.x_test[:100], data.mask_test[:100],
                                                                  method=method, layer=layer)  # fmt: skip
                        rows.append({"network": net.label, "energy inside the shape %": round(100 * energy, 1),
                                     "maximum inside %": round(100 * hits, 1)})  # fmt: skip
                    st.dataframe(rows, hide_index=True)
                except saliency.SaliencyError as exc:
                    st.error(str(exc), icon=":material/error:")
