"""Beyond the textbook: loss-landscape slices, a lesion study and layer responses of trained twins."""

import numpy as np
import streamlit as st

from resnet_viz import analysis, analysis_plots
from resnet_viz.landscape import Slice, SliceCancelled
from resnet_viz.lesion import lesion_sentences, response_sentences
from resnet_viz.runs import RunStore, RunStoreError
from resnet_viz.ui import saliency as ui_sal

st.title("Beyond the textbook")
st.caption(
    "Three views of a trained plain/residual pair from the run store, side by side on one scale: the loss "
    "around the trained weights (Li et al. 2018), what happens when blocks are deleted at test time "
    "(Veit et al. 2016), and how strongly each layer responds (He et al. 2016, Fig. 7)."
)

store = RunStore()
groups = ui_sal.run_groups(store)
if not groups:
    st.info("No finished runs yet: train twins on **Train & compare** or run the demo on **Home**, then come back.",
            icon=":material/model_training:")  # fmt: skip
    st.stop()
pick = st.selectbox("Trained runs", list(groups), key="an_runs", help="twins trained by one press are shown together")
runs = {info.label: info for info in groups[pick]}
if any(info.model.arch != "cifar" for info in runs.values()):
    st.warning("These views need the convolutional (6n+2) networks; pick another run.", icon=":material/info:")
    st.stop()

landscape_tab, lesion_tab, response_tab = st.tabs(["Loss landscape", "Lesion study", "Layer responses"])

with landscape_tab:
    a, b, c, d = st.columns(4)
    grid = a.select_slider("Grid (points per axis)", [5, 11, 21, 31, 41], 11, key="an_grid")
    span = b.slider("Range (± along each direction)", 0.1, 2.0, 1.0, 0.1, key="an_span")
    dims = c.segmented_control("Slice", [1, 2], default=2, format_func=lambda n: f"{n}-D", key="an_dims") or 2
    seed = d.number_input("Direction seed", 0, 10_000, 0, key="an_seed")
    log = a.toggle("Log loss", True, key="an_log", help="the loss far from the weights dwarfs the basin on a linear scale")
    surface = b.toggle("3-D surface", False, key="an_surface", disabled=dims == 1)
    names = {label: analysis.landscape_name(dims, grid, span, int(seed), "test") for label in runs}
    saved = {label: store.load_analysis(info.run_id, names[label]) for label, info in runs.items()}
    missing = [label for label, doc in saved.items() if doc is None]
    if missing:
        st.caption(f"{grid ** dims} evaluations of the test split per network; the results are kept with the runs.")
    if missing and st.button("Compute the slices", type="primary", icon=":material/landscape:", key="an_compute"):
        st.button("Cancel", key="an_cancel")  # any press reruns the page, which ends the computation below
        bar = st.progress(0.0)
        try:
            for i, label in enumerate(missing):
                def progress(done: int, total: int, i: int = i, label: str = label) -> None:
                    bar.progress((i + done / total) / len(missing), text=f"{label}: {done}/{total} points")

                analysis.run_landscape(store, runs[label].run_id, grid=grid, span=span, dims=dims, seed=int(seed),
                                       on_progress=progress)  # fmt: skip
        except (SliceCancelled, RunStoreError, ValueError) as exc:
            st.error(f"The slice was not computed: {exc}", icon=":material/error:")
        st.rerun()
    if not missing:
        slices = {label: Slice.from_dict(doc) for label, doc in saved.items()}
        st.plotly_chart(analysis_plots.landscape_figure(slices, log=log, surface=surface), key="an_landscape")
        st.markdown(" · ".join(f"{label}: loss {s.center[0]:.3f} at the trained weights, up to "
                               f"{float(np.nanmax(s.loss)):.3g} within ±{span:g}" for label, s in slices.items()))  # fmt: skip

with lesion_tab:
    draws = st.slider("Random draws per number of deleted blocks", 1, 20, 10, key="an_draws")
    results = {}
    with st.spinner("Deleting blocks one by one on the test split..."):
        for label, info in runs.items():
            results[label] = analysis.run_lesion(store, info.run_id, draws=draws)
    st.plotly_chart(analysis_plots.lesion_figure(results), key="an_lesion")
    st.plotly_chart(analysis_plots.random_lesion_figure(results), key="an_random")
    plain = [r for label, r in results.items() if label.startswith("plain")]
    residual = [r for label, r in results.items() if label.startswith("residual")]
    if plain and residual:
        lines = lesion_sentences(plain[0], residual[0])
        st.markdown("\n".join(f"- {line}" for line in lines))

with response_tab:
    responses = {label: analysis.run_responses(store, info.run_id) for label, info in runs.items()}
    st.plotly_chart(analysis_plots.responses_figure(responses), key="an_responses")
    plain = [v for label, v in responses.items() if label.startswith("plain")]
    residual = [v for label, v in responses.items() if label.startswith("residual")]
    if plain and residual:
        st.markdown("\n".join(f"- {line}" for line in response_sentences(plain[0], residual[0])))
