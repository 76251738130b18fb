"""Beyond the textbook: loss-landscape slices, a lesion study with the ensemble view, near-identity
blocks and layer responses of trained twins, with exercises graded from the learner's measurements."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.analysis import saved as analysis
from resnet_viz.engine.runs import RunStore
from resnet_viz.figures import analysis as analysis_figures
from resnet_viz.i18n import _
from resnet_viz.teaching import analysis as teaching_analysis
from resnet_viz.text.construction import identity_sentences
from resnet_viz.text.landscape import landscape_sentences
from resnet_viz.text.lesion import ensemble_sentences, lesion_sentences, path_sentences, response_sentences
from resnet_viz.ui import analysis as ui_an
from resnet_viz.ui import exercises as ui_ex
from resnet_viz.ui import reference as ui_ref

ui.page_setup("analysis")

st.title(_("Beyond the textbook"))
st.caption(
    _(
        "Four views of a trained plain/residual pair from the run store, side by side on one scale: the loss "
        "around the trained weights (Li et al. 2018), what happens when blocks are deleted at test time "
        "(Veit et al. 2016), how near each block is to the identity (He et al. 2016, §3.1), and how strongly "
        "each layer responds (He et al. 2016, Fig. 7)."
    )
)

own = RunStore()
groups = ui.run_groups(own)
reference_groups, reference_store, manifest = ui_ref.pair()  # the atlas's pair: offered after the learner's own
if not groups and not reference_groups:
    st.info(
        _("No finished runs yet: train twins on **Train & compare** or run the demo on **Home**, then come back."),
        icon=":material/model_training:",
    )
    st.stop()
options = list(groups) + list(reference_groups)
pick = st.selectbox(
    _("Trained runs"),
    options,
    key="an_runs",
    placeholder=ui.placeholder(options),
    format_func=lambda key: ui.group_label(groups[key]) if key in groups else ui_ref.group_title(reference_groups[key]),
    help=_("twins trained by one press are shown together"),
)
reference = pick in reference_groups
store = reference_store if reference else own  # the reference's store is read, never written
runs = {info.label: info for info in (reference_groups if reference else groups)[pick]}
if reference:
    ui_ref.pair_label(manifest, action=_("train twins on **Train & compare**, then pick them above"))
if any(info.model.arch != "cifar" for info in runs.values()):
    st.warning(_("These views need the convolutional (6n+2) networks; pick another run."), icon=":material/info:")
    st.stop()
plain, residual = ui_an.pair(runs)
names = (plain, residual)
both = plain is not None and residual is not None
keep = not reference  # what is computed on the reference stays in this session


def shown(exercise, number: int) -> bool:
    """Whether a tab's measurement may be drawn: always on the learner's own runs; on the
    reference once its exercise (number `number` above) is committed or the reference asked for."""
    if not reference or ui_ref.released(exercise):
        return True
    ui_ref.gate(exercise, len(runs), number=number, above=True)
    return False


exercise_box = st.container()  # filled last, once every tab has read its measurements
exercises = (
    teaching_analysis.LESION_EXERCISE,
    teaching_analysis.LANDSCAPE_EXERCISE,
    teaching_analysis.IDENTITY_EXERCISE,
)
tab_names = [_("Loss landscape"), _("Lesion study"), _("Near-identity blocks"), _("Layer responses")]
# On the reference, before any prediction, the page opens on the one measurement no exercise asks about.
hidden = reference and not any(ui_ref.released(ex) for ex in exercises)
landscape_tab, lesion_tab, identity_tab, response_tab = st.tabs(tab_names, default=tab_names[3] if hidden else None)
slices: dict = {}
lesions: dict = {}
identity: dict = {}

with landscape_tab:
    if shown(teaching_analysis.LANDSCAPE_EXERCISE, 2):
        a, b, c, d = st.columns(4)
        grid = a.select_slider(_("Grid (points per axis)"), [5, 11, 21, 31, 41], analysis.DEFAULT_GRID, key="an_grid")
        span = b.slider(_("Range (± along each direction)"), 0.1, 2.0, analysis.DEFAULT_SPAN, 0.1, key="an_span")
        dims = (
            c.segmented_control(
                _("Slice"),
                [1, 2],
                default=analysis.DEFAULT_DIMS,
                format_func=lambda n: _("{n}-D").format(n=n),
                key="an_dims",
            )
            or 2
        )
        seed = d.number_input(_("Direction seed"), 0, 10_000, 0, key="an_seed")
        log = a.toggle(
            _("Log loss"),
            True,
            key="an_log",
            help=_("the loss far from the weights dwarfs the basin on a linear scale"),
        )
        surface = b.toggle(_("3-D surface"), False, key="an_surface", disabled=dims == 1)
        split = (
            "test"  # the slices' loss is the test split's (Li et al. plotted the training loss: the sentences say so)
        )
        slice_name = analysis.landscape_name(dims, grid, span, int(seed), split)
        slices = ui_an.saved(store, runs, slice_name, "landscape")
        missing = [label for label, s in slices.items() if s is None]
        if missing:
            if keep:
                text = _("{count} evaluations of the test split per network; the results are kept with the runs.")
            else:
                text = _("{count} evaluations of the test split per network; kept in this session only.")
            st.caption(text.format(count=grid**dims))
            if st.button(_("Compute the slices"), type="primary", icon=":material/landscape:", key="an_compute"):
                st.button(_("Cancel"), key="an_cancel")  # any press reruns the page, which ends the computation
                if ui_an.compute_slices(
                    store, runs, missing, grid=grid, span=span, dims=dims, seed=int(seed), keep=keep
                ):
                    st.rerun()
        else:
            st.plotly_chart(analysis_figures.landscape_figure(slices, log=log, surface=surface), key="an_landscape")
            if both:
                depths = {runs[plain].model.depth, runs[residual].model.depth}
                ui_an.bullets(
                    landscape_sentences(
                        slices[plain],
                        slices[residual],
                        names,
                        split=split,
                        depth=depths.pop() if len(depths) == 1 else None,
                    )
                )

with lesion_tab:
    missing = ["?"]  # the ensemble sentences below need both studies
    if shown(teaching_analysis.LESION_EXERCISE, 1):
        draws = st.slider(_("Random draws per number of deleted blocks"), 1, 20, analysis.DEFAULT_DRAWS, key="an_draws")
        lesion_name = analysis.lesion_name(draws, 0)
        lesions = ui_an.saved(store, runs, lesion_name, "lesion")
        missing = [label for label, r in lesions.items() if r is None]
        if missing:
            st.caption(
                _("Each block deleted in turn on the test split, then k random blocks at once; kept with the runs.")
                if keep
                else _(
                    "Each block deleted in turn on the test split, then k random blocks at once; kept in this session only."
                )
            )
            pressed = st.button(
                _("Run the lesion study"), type="primary", icon=":material/content_cut:", key="an_lesion_run"
            )
            if pressed and ui_an.compute_lesions(store, runs, missing, draws=draws, keep=keep):
                st.rerun()
        else:
            st.plotly_chart(analysis_figures.lesion_figure(lesions), key="an_lesion")
            st.plotly_chart(analysis_figures.random_lesion_figure(lesions), key="an_random")
            if both:
                ui_an.bullets(lesion_sentences(lesions[plain], lesions[residual], names))
    if residual is not None:
        st.subheader(_("The ensemble view"))
        dist, downsampling = ui_an.unravelled(runs[residual].model)
        st.plotly_chart(analysis_figures.path_length_figure(dist, residual, plain_name=plain), key="an_paths")
        st.caption(
            " ".join(
                path_sentences(
                    dist, residual, downsampling=downsampling, shortcut=runs[residual].model.shortcut, plain_name=plain
                )
            )
        )
        if both and not missing:
            ui_an.bullets(ensemble_sentences(lesions[plain], lesions[residual], names))

with identity_tab:
    st.markdown(
        _(
            "**Why degradation is surprising** (He et al. 2016, §3.1): a deeper net could copy a shallower one and "
            "make its extra layers identity mappings; that constructed net has the shallower one's training error, "
            "so the deeper net should do no worse. That plain nets do worse suggests solvers struggle to fit an "
            "identity with several nonlinear layers. A residual block learns F(x) = H(x) − x instead: to become an "
            "identity it only has to push F toward 0. Measured here on the trained pair: how large each block's "
            "branch F(x) is next to its input, and how far each whole block's output is from its input."
        )
    )
    if shown(teaching_analysis.IDENTITY_EXERCISE, 3):
        identity_name = analysis.near_identity_name(analysis.NEAR_IDENTITY_IMAGES)
        identity = ui_an.saved(store, runs, identity_name, "near-identity")
        missing = [label for label, r in identity.items() if r is None]
        if missing:
            st.caption(
                (
                    _(
                        "One pass over the first {images} test images per network, with forward hooks "
                        "on every block's branch, shortcut and output; kept with the runs."
                    )
                    if keep
                    else _(
                        "One pass over the first {images} test images per network, with forward hooks "
                        "on every block's branch, shortcut and output; kept in this session only."
                    )
                ).format(images=f"{analysis.NEAR_IDENTITY_IMAGES:,}")
            )
            pressed = st.button(
                _("Measure the blocks"), type="primary", icon=":material/straighten:", key="an_identity_run"
            )
            if pressed and ui_an.compute_near_identity(store, runs, missing, keep=keep):
                st.rerun()
        else:
            st.plotly_chart(analysis_figures.near_identity_figure(identity), key="an_identity")
            if both:
                ui_an.bullets(identity_sentences(identity[plain], identity[residual], names))

with response_tab:
    responses = ui_an.responses(store, runs)  # a run that cannot be measured is left out, with the reason
    if responses:
        st.plotly_chart(analysis_figures.responses_figure(responses), key="an_responses")
    if both and plain in responses and residual in responses:
        ui_an.bullets(response_sentences(responses[plain], responses[residual], names))

with exercise_box:
    items = teaching_analysis.exercise_items(
        names, ui_an.ordered(lesions, runs), ui_an.ordered(slices, runs), ui_an.ordered(identity, runs)
    )
    ui_ex.show(ui_ref.ungraded_if_peeked(items) if reference else items)
