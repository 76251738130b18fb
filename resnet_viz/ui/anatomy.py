"""Streamlit pieces of the anatomy page: cached measurements, the stage table and the glossary.

Every value cached here is a frozen dataclass computed from a model built on the spot, so
``st.cache_data`` (a private copy per caller) is safe; nothing is cached that a session could change.
A cached value that holds words (part names, layer labels) is keyed on the learner's language too.
"""

from __future__ import annotations

import streamlit as st

from resnet_viz.anatomy import mistakes as lessons
from resnet_viz.anatomy import nets as anatomy
from resnet_viz.anatomy.mistakes import BackwardCheck, ExpansionDemo, PoolCheck
from resnet_viz.anatomy.nets import Anatomy, BlockSketch, NetSpec, ShortcutCost
from resnet_viz.i18n import N_, _, language
from resnet_viz.teaching import glossary
from resnet_viz.text import anatomy as anatomy_text

# Spinners are shown through `_()` at the call, in the learner's language (a decorator's text would
# be fixed at import).
_BUILDING = N_("Building the network and measuring its stages...")
_COUNTING = N_("Counting option A, option B and the plain twin...")
_MEASURING = N_("Measuring the last feature map...")

# The stage table's columns: key of `anatomy.table` -> the heading shown.
_COLUMNS: dict[str, str] = {
    "part": N_("part"),
    "output size": N_("output size"),
    "channels / outputs": N_("channels / outputs"),
    "blocks": N_("blocks"),
    "parameters": N_("parameters"),
    "share": N_("share"),
}


@st.cache_data(max_entries=64, show_spinner=False)
def _stage_anatomy(spec: NetSpec, lang: str) -> Anatomy:  # lang: the part names are in it
    return anatomy.anatomy(spec)


def stage_anatomy(spec: NetSpec) -> Anatomy:
    with st.spinner(_(_BUILDING)):
        return _stage_anatomy(spec, language())


@st.cache_data(max_entries=16, show_spinner=False)
def _block(kind: str, residual: bool, lang: str) -> BlockSketch:  # lang: the layer labels are in it
    return anatomy.block_sketch(kind, residual)  # type: ignore[arg-type]


def block(kind: str, residual: bool) -> BlockSketch:
    return _block(kind, residual, language())


@st.cache_data(max_entries=16, show_spinner=False)
def _stem_trace(spec: NetSpec, lang: str) -> tuple[tuple[str, tuple[int, ...]], ...]:  # lang: layer labels
    return anatomy.stem_trace(spec)


def stem(spec: NetSpec) -> str:
    # The measurement is cached, the sentence is not: it is built in the learner's language when shown.
    return anatomy_text.stem_sentence(spec, _stem_trace(spec, language()))


@st.cache_data(max_entries=16, show_spinner=False)
def _stem_contrast(cifar: NetSpec, imagenet: NetSpec, lang: str) -> anatomy.StemContrast:  # lang: a stage name
    return anatomy.stem_contrast(cifar, imagenet)


def stem_contrast(cifar: NetSpec, imagenet: NetSpec) -> str:
    return anatomy_text.stem_contrast(_stem_contrast(cifar, imagenet, language()))


@st.cache_data(max_entries=64, show_spinner=False)
def _shortcut(depth: int, width: int) -> ShortcutCost:
    return anatomy.shortcut_cost(depth, width)


def shortcut(depth: int, width: int) -> ShortcutCost:
    with st.spinner(_(_COUNTING)):
        return _shortcut(depth, width)


@st.cache_data(max_entries=1, show_spinner=False)
def expansion() -> ExpansionDemo:
    return lessons.expansion_demo()


@st.cache_data(max_entries=128, show_spinner=False)
def _pool(spec: NetSpec, size: int, lang: str) -> PoolCheck:  # lang: the check holds the net's name
    return lessons.pool_check(spec, size)


def pool(spec: NetSpec, size: int) -> PoolCheck:
    with st.spinner(_(_MEASURING)):
        return _pool(spec, size, language())


@st.cache_data(max_entries=1, show_spinner=False)
def backward() -> BackwardCheck:
    return lessons.backward_check()


def stage_table(anat: Anatomy) -> None:
    # The data keeps its English keys; only the headings shown are translated.
    columns: dict[str, object] = {key: _(label) for key, label in _COLUMNS.items()}
    columns["blocks"] = st.column_config.NumberColumn(_(_COLUMNS["blocks"]), help=glossary.help("stage"))
    st.dataframe(anatomy.table(anat), hide_index=True, column_config=columns)  # type: ignore[arg-type]


def glossary_expander() -> None:
    with st.expander(_("Glossary: the words this app uses"), icon=":material/menu_book:"):
        # `_()` is the identity for a definition the glossary already gave in the learner's language.
        st.markdown("\n".join(f"- **{_(term)}**: {_(text)}" for term, text in glossary.entries()))
