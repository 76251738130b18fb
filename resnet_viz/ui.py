"""Streamlit helpers shared by the pages: the page registry, the sidebar, cached read-only lookups.

The only module of the package that imports streamlit (tests/test_imports.py checks the rest).
``st.cache_resource`` is shared by every session, so only read-only values are cached here.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from resnet_viz import __version__
from resnet_viz.devices import describe_device, select_device

PAPER_URL = "https://arxiv.org/abs/1512.03385"  # He et al. 2016, Deep Residual Learning
PREACT_PAPER_URL = "https://arxiv.org/abs/1603.05027"  # He et al. 2016b, Identity Mappings


@dataclass(frozen=True)
class PageInfo:
    path: str  # page script, relative to app.py
    title: str  # shown in the navigation menu and on the home page
    icon: str  # Streamlit icon: an emoji or ":material/name:"
    summary: str  # one sentence for the home page: what a learner does there


# The app's pages in menu order; the first is the default. app.py builds st.navigation from
# this list and the home page lists the others, so a new page is one entry here.
PAGES: tuple[PageInfo, ...] = (
    PageInfo("pages/home.py", "Home", ":material/home:", "What the lab is for and how it measures."),
)


@st.cache_resource(show_spinner=False)
def device_label() -> str:
    """Description of the device ``auto`` training uses, e.g. "CPU, 2 threads (torch 2.14.1)"."""
    return describe_device(select_device("auto"))


def sidebar() -> None:
    """Shared sidebar, drawn by app.py under the navigation menu on every page."""
    with st.sidebar:
        st.caption(f"Device: **{device_label()}**")
        with st.expander("About ResNet Lab", icon=":material/info:"):
            st.markdown(
                f"Version {__version__}. Plain and residual networks trained side by side on "
                "identical batches, measured while they learn.\n\n"
                f"Papers: [Deep Residual Learning]({PAPER_URL}) (He et al. 2016), "
                f"[Identity Mappings in Deep Residual Networks]({PREACT_PAPER_URL}) (He et al. 2016b).\n\n"
                "Command line: `resnet-viz train --help`."
            )
