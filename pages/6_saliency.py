"""Saliency: where a deep plain net looks, against its residual twin (Grad-CAM and friends)."""

import math

import streamlit as st

from resnet_viz import ui
from resnet_viz.engine.data import DatasetUnavailable
from resnet_viz.engine.data.images import (
    ACCEPTED_EXTENSIONS,
    ACCEPTED_FORMATS,
    ImageError,
    load_image,
    sample_images,
    sample_title,
)
from resnet_viz.engine.runs import RunStore, RunStoreError
from resnet_viz.figures import saliency as saliency_figures
from resnet_viz.i18n import _
from resnet_viz.saliency import localisation
from resnet_viz.saliency import maps as saliency
from resnet_viz.saliency.pretrained import PretrainedUnavailable
from resnet_viz.text import saliency as text_saliency
from resnet_viz.ui import reference as ui_ref
from resnet_viz.ui import saliency as ui_sal

ui.page_setup("saliency")

st.title(_("Where does each network look?"))
st.caption(
    _(
        "Grad-CAM (Selvaraju et al. 2017, eqs. 1-2) weights each feature map of the last block (or of the block "
        "chosen under Layer) by the global average of the gradient of the class score, taken before the softmax, "
        "with respect to that map; the weighted sum goes through a ReLU, which keeps only positive evidence for "
        "the class. Here: a deep plain net against its residual twin of the same depth, on shapes whose outline "
        "is known, so where each one looks can be measured, not only seen."
    )
)

N_SAMPLES = 12  # test images offered as samples; on shapes they come with the object's mask
own = RunStore()
own_groups = ui.run_groups(own)
pair_key = localisation.newest_pair(own_groups)
reference_groups, reference_store, manifest = ui_ref.pair()  # the atlas's pair: read-only, labelled
groups = {**own_groups, **reference_groups}
controls, view = st.columns(ui.CONTROLS_VIEW, gap="large")


def title(key: str) -> str:
    if key in reference_groups:
        return ui_ref.group_title(reference_groups[key])
    return ui.group_label(own_groups[key]) if key in own_groups else ui_sal.pretrained_title(key)


with controls:
    st.subheader(_("Networks"))
    options = list(groups) + list(ui_sal.PRETRAINED_CHOICES)
    if st.session_state.get("sal_nets") not in options:  # first visit, or its runs were deleted
        # the lesson's pair when there is one; else the reference pair; else nothing chosen
        st.session_state.sal_nets = pair_key or localisation.newest_pair(reference_groups)
    which = st.selectbox(
        _("Trained twins or a pretrained net"),
        options,
        key="sal_nets",
        placeholder=_("Choose networks"),
        format_func=title,
        help=_("Runs trained on the other pages appear here once finished, with what they were trained on."),
    )
    if which in groups:  # the whole label: the narrow box cuts it after the names
        st.caption(title(which))

store = reference_store if which in reference_groups else own  # the reference's store is read, never written
nets: list[ui_sal.Net] = []
try:
    if which in groups:
        steps = store.snapshot_steps(groups[which][0].run_id)
        step = None
        if len(steps) > 1:
            step = controls.select_slider(
                _("Weights after training step"),
                steps,
                value=steps[-1],
                key="sal_step",
                help=_("Snapshots kept during training: see the map form as the net learns"),
            )
            step = None if step == steps[-1] else step
        nets = [ui_sal.run_net(store, info, step) for info in groups[which]]
    elif which is not None:
        nets = [ui_sal.pretrained_net(which, progress_in=view)]
except (PretrainedUnavailable, RunStoreError, DatasetUnavailable, OSError) as exc:
    view.error(_("These networks cannot be loaded: {error}").format(error=exc), icon=":material/error:")

masked = which in groups and localisation.is_masked_pair(groups[which])
with controls:
    st.subheader(_("Image"))
    source = st.segmented_control(
        _("Source"),
        list(ui_sal.SOURCES),
        default="sample",
        key="sal_source",
        format_func=lambda k: _(ui_sal.SOURCES[k]),
    )
    image, mask = None, None
    if source == "upload":
        up = st.file_uploader(
            _("Photo ({formats})").format(formats=_(ACCEPTED_FORMATS)), type=list(ACCEPTED_EXTENSIONS), key="sal_upload"
        )
        if up is not None:
            try:
                image = load_image(up.getvalue())
            except ImageError as exc:
                st.error(str(exc), icon=":material/broken_image:")
    elif nets and nets[0].data is not None:  # the nets' own test images: the domain they know
        data = ui_sal.dataset(nets[0].data)
        n_shown = min(N_SAMPLES, len(data.y_test))
        # The options stay English (the widget's value survives a language switch); the learner reads them
        # in their language.
        labels = [f"test #{i} ({data.classes[int(data.y_test[i])]})" for i in range(n_shown)]
        titles = {
            label: _("test #{i} ({label})").format(i=i, label=_(data.classes[int(data.y_test[i])]))
            for i, label in enumerate(labels)
        }
        i = labels.index(
            st.selectbox(
                _("Test image"),
                labels,
                key=f"sal_sample_{nets[0].data.name}",
                format_func=titles.get,
                placeholder=_("Choose a test image"),
            )
        )
        image = ui_sal.test_picture(data, i)
        mask = data.mask_test[i].numpy() if data.mask_test is not None else None
    elif nets:
        photos = sample_images()
        image = photos[
            st.selectbox(
                _("Photo"), list(photos), key="sal_photo", format_func=sample_title, placeholder=_("Choose a photo")
            )
        ]
    method = st.selectbox(
        _("Method"),
        saliency.METHODS,
        format_func=lambda m: _(saliency.METHOD_TITLES[m]),
        key="sal_method",
        placeholder=_("Choose a method"),
    )
    try:
        layer_names = [n for n, _block in saliency.layer_choices(nets[0].model)] if nets else []
    except saliency.SaliencyError:  # an MLP has no feature map: saliency and integrated gradients still apply
        layer_names = []
    # The box keeps its value by key: one opened with no nets (None), or on nets with other blocks, would
    # keep showing that stale choice once nets with blocks appear. Their last block is the default then.
    if layer_names and st.session_state.get("sal_layer") not in layer_names:
        st.session_state.sal_layer = layer_names[-1]
    layer = st.selectbox(
        _("Layer"),
        layer_names,
        key="sal_layer",
        # With no nets (or an MLP) there is no block to offer: the box says so rather than "choose".
        placeholder=_("Choose a layer") if layer_names else _("No block with a feature map"),
        disabled=method not in saliency.LAYER_METHODS,
        help=_("Grad-CAM's feature maps: by default the last block of the last stage"),
    )
    classes = nets[0].classes if nets else ()
    target = st.selectbox(
        _("Class"),
        [ui_sal.TOP1, *classes],
        key="sal_target",
        placeholder=_("Choose a class"),
        format_func=lambda c: _(ui_sal.TOP1_TITLE) if c == ui_sal.TOP1 else _(c),  # a class name: shapes are marked
    )
    st.subheader(_("Display"))
    opacity = st.slider(
        _("Map opacity"),
        0.0,
        1.0,
        0.8,
        0.05,
        key="sal_opacity",
        help=_("Opacity of the strongest attribution; weaker ones fade out, zero is transparent"),
    )
    shared = st.toggle(
        _("Shared colour scale"),
        True,
        key="sal_shared",
        help=_(
            "On: one scale for all panels, so a stronger map looks stronger. Off: each panel to "
            "its own maximum, to compare where, not how strongly."
        ),
    )
    raw = st.toggle(_("Maps only"), False, key="sal_raw", help=_("The maps without the image under them"))

with view:
    if which in reference_groups:
        ui_ref.pair_label(
            manifest,
            action=_("press **Train the shapes pair** below (about {minutes} min)").format(
                minutes=f"{ui_sal.pair_minutes():.0f}"
            ),
        )
    elif pair_key is None:
        st.info(ui_sal.no_pair_sentence(), icon=":material/model_training:")
    if pair_key is None:
        job_id = st.session_state.get("sal_job")
        st.button(
            _("Train the shapes pair"),
            type="primary",
            icon=":material/play_arrow:",
            key="sal_train",
            disabled=job_id is not None,
            on_click=ui_sal.train_pair,
            args=(ui.owner_key(), own),  # the learner's store, never the atlas
        )
        if st.session_state.get("sal_refused"):
            st.error(st.session_state.sal_refused, icon=":material/block:")
        if job_id is not None:
            ui.fragment(ui_sal.pair_progress, run_every=1.0)(job_id)
    if not nets:
        st.stop()
    if image is None:
        st.info(_("Upload a photo or pick a sample on the left."), icon=":material/image:")
        st.stop()
    if source == "upload" and nets[0].data is not None:
        st.warning(ui_sal.upload_sentence(nets[0]), icon=":material/info:")
    shown, maps, tops = [], [], []
    try:
        for net in nets:
            x, picture = ui_sal.model_input(net, image)
            tgt = None if target == ui_sal.TOP1 else net.classes.index(target)
            cam, top = ui_sal.explain(net, x, method=method, layer=layer, target=tgt)
            shown.append(picture)
            maps.append(cam.numpy())
            tops.append([(_(net.classes[i]), p) for i, p in top])
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
            title=_(saliency.METHOD_TITLES[method]),
        ),
        key="sal_overlay",
    )
    for col, net, top, m in zip(st.columns(len(nets)), nets, tops, maps):
        with col:
            st.markdown(_("**{label}**: top-{k} predictions").format(label=net.label, k=len(top)))
            column, probability = _("class"), _("probability")
            st.dataframe([{column: c, probability: round(p, 3)} for c, p in top], hide_index=True)
            if mask is not None:
                share, inside = ui_sal.score_on_mask(m, mask)
                st.metric(
                    _("Map energy inside the shape"),
                    "-" if math.isnan(share) else f"{100 * share:.0f}%",
                    help=_("share of the map's total inside the ground-truth mask"),
                )
                if math.isnan(share):
                    st.caption(_("This map is all zero: it points nowhere."))
                elif inside:
                    st.caption(_("Map maximum inside the shape."))
                else:
                    st.caption(_("Map maximum outside the shape."))


# Below the two columns, at the page's full width: the panels get room to be read.
st.subheader(_("One net at full size"))
pick = (
    st.segmented_control(_("Net"), [n.label for n in nets], default=nets[-1].label, key="sal_detail") or nets[-1].label
)
k = [n.label for n in nets].index(pick)
top_value = ui_sal.strongest(maps) if shared else None
st.plotly_chart(
    saliency_figures.detail_figure(
        shown[k],
        maps[k],
        _("{net}: {method}").format(net=pick, method=_(saliency.METHOD_TITLES[method])),
        opacity=opacity,
        mask=mask,
        top=top_value,
    ),
    key="sal_detail_fig",
)
scaled = saliency_figures.scale_maps([maps[k]], shared=False)[0]
st.download_button(
    _("Overlay (PNG)"),
    saliency_figures.overlay_png(shown[k], scaled, opacity=opacity),
    file_name=f"{pick}-{method}.png",
    mime="image/png",
    key="sal_png",
    icon=":material/download:",
)

if masked:
    st.subheader(_("Where they look, over training ({n} test images)").format(n=localisation.N_SCORED))
    runs = groups[which]
    score_layer = layer if method in saliency.LAYER_METHODS else None
    try:
        tracks = ui_sal.tracks(str(store.root), tuple(r.run_id for r in runs), ui_sal.stamps(runs), score_layer)
    except (RunStoreError, DatasetUnavailable, saliency.SaliencyError, OSError) as exc:
        st.error(_("The snapshots cannot be scored: {error}").format(error=exc), icon=":material/error:")
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
    if score_layer:
        scored = _(
            "Scored with Grad-CAM at {layer} on test images 0-{last}, each image's map for the class the net chose "
            "for it (its top-1)."
        )
    else:
        scored = _(
            "Scored with Grad-CAM at the last block on test images 0-{last}, each image's map for the class the net "
            "chose for it (its top-1)."
        )
    st.caption(scored.format(layer=score_layer, last=localisation.N_SCORED - 1))
    # Degradation compares the plain net with a shallower plain net trained alike, not with its twin: the
    # store's finished runs are searched for one.
    plain_run = next(r for r in runs if not r.model.residual)
    shallower = localisation.shallower_plain(plain_run, [r for group in groups.values() for r in group])
    for sentence in text_saliency.localisation_reading(
        tracks, chance, localisation.N_SCORED, len(data.classes), shallower=shallower
    ):
        st.markdown(f"- {sentence}")
    if shallower is None:
        st.page_link("pages/4_degradation.py", label=_("Degradation explorer"), icon=":material/arrow_forward:")
