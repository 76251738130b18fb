"""Streamlit pieces of the anatomy page: cached measurements, the stage table and the glossary.

Every value cached here is a frozen dataclass computed from a model built on the spot, so
``st.cache_data`` (a private copy per caller) is safe; nothing is cached that a session could change.
"""

from __future__ import annotations

import streamlit as st

from resnet_viz import anatomy, glossary
from resnet_viz import anatomy_lessons as lessons
from resnet_viz.anatomy import Anatomy, BlockSketch, NetSpec, ShortcutCost
from resnet_viz.anatomy_lessons import BackwardCheck, ExpansionDemo, PoolCheck
from resnet_viz.text import anatomy as anatomy_text


@st.cache_data(max_entries=64, show_spinner="Building the network and measuring its stages...")
def stage_anatomy(spec: NetSpec) -> Anatomy:
    return anatomy.anatomy(spec)


@st.cache_data(max_entries=16, show_spinner=False)
def block(kind: str, residual: bool) -> BlockSketch:
    return anatomy.block_sketch(kind, residual)  # type: ignore[arg-type]


@st.cache_data(max_entries=16, show_spinner=False)
def _stem_trace(spec: NetSpec) -> tuple[tuple[str, tuple[int, ...]], ...]:
    return anatomy.stem_trace(spec)


def stem(spec: NetSpec) -> str:
    # The measurement is cached, the sentence is not: it is built in the learner's language when shown.
    return anatomy_text.stem_sentence(spec, _stem_trace(spec))


@st.cache_data(max_entries=16, show_spinner=False)
def _stem_contrast(cifar: NetSpec, imagenet: NetSpec) -> anatomy.StemContrast:
    return anatomy.stem_contrast(cifar, imagenet)


def stem_contrast(cifar: NetSpec, imagenet: NetSpec) -> str:
    return anatomy_text.stem_contrast(_stem_contrast(cifar, imagenet))


@st.cache_data(max_entries=64, show_spinner="Counting option A, option B and the plain twin...")
def shortcut(depth: int, width: int) -> ShortcutCost:
    return anatomy.shortcut_cost(depth, width)


@st.cache_data(max_entries=1, show_spinner=False)
def expansion() -> ExpansionDemo:
    return lessons.expansion_demo()


@st.cache_data(max_entries=128, show_spinner="Measuring the last feature map...")
def pool(spec: NetSpec, size: int) -> PoolCheck:
    return lessons.pool_check(spec, size)


@st.cache_data(max_entries=1, show_spinner=False)
def backward() -> BackwardCheck:
    return lessons.backward_check()


def stage_table(anat: Anatomy) -> None:
    st.dataframe(
        anatomy.table(anat),
        hide_index=True,
        column_config={"blocks": st.column_config.NumberColumn(help=glossary.help("stage"))},
    )


def glossary_expander() -> None:
    with st.expander("Glossary: the words this app uses", icon=":material/menu_book:"):
        st.markdown("\n".join(f"- **{term}**: {text}" for term, text in glossary.entries()))
