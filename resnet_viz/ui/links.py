"""A page's settings in its URL, bound by hand: `resnet_viz.teaching.settings` reads the link, this module
seeds the widgets from it before they are drawn and writes the URL from them afterwards.

Why not Streamlit's ``bind="query-params"`` (pinned 1.67): a bound selectbox writes its *label*
to the URL, so ``format_func`` put "Shapes (generated, with masks)" in every shared link and a
hand-written ``?dataset=shapes`` was dropped; out-of-range values (``lr=1e9``, ``seed=-1``) were
dropped without a word, whole-number strings like ``steps=1e3`` were applied while the page said
they were ignored, and ``?steps=inf`` on an integer number_input raised OverflowError inside
Streamlit. With one parser the page and what it says about the link always agree.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from resnet_viz.i18n import N_, _
from resnet_viz.teaching.links import Link, LinkSpec
from resnet_viz.text.numbers import listing

# A recipe field and its value as the dataset toast names it (settings field -> template).
_FIELD_WORDS: dict[str, str] = {
    "depth": N_("depth {value}"),
    "depths": N_("depths {value}"),
    "width": N_("width {value}"),
    "steps": N_("steps {value}"),
    "amount": N_("amount {value}"),
    "lr": N_("lr {value}"),
    "warmup": N_("warmup {value}"),
}


def _seen(page: str) -> dict[str, list[str] | None]:
    """What this page last wrote to (or read from) the URL, per key, in this session."""
    return st.session_state.setdefault(f"_link_seen:{page}", {})


def read(spec: LinkSpec[Any], page: str) -> Link[Any]:
    """Before the widgets: parse the URL and seed the widgets from it.

    A URL value applies when it differs from what this page last wrote there: a link just opened,
    a URL edited by hand, or back/forward. Otherwise the widget keeps its value, so a widget the
    learner just moved (or a preset loaded in a callback) is not undone by the URL of the run
    before. A key missing from the URL leaves its widget alone: switching pages drops the query,
    and the learner's settings should survive the round trip. Widgets get no `value=` of their
    own: the session state is their only source. Each value it ignored is shown as a warning
    saying which and why.
    """
    query = {k: st.query_params.get_all(k) for k in st.query_params}
    link = spec.read(query)
    for problem in link.problems:
        st.warning(problem, icon=":material/link_off:")
    seen = _seen(page)
    wanted = spec.widget_values(link.settings)
    defaults = spec.widget_values(spec.base(link.settings))
    for key in spec.keys:
        raw = query.get(key)
        if raw is not None and raw != seen.get(key) and key in link.accepted:
            st.session_state[key] = wanted[key]
        elif key not in st.session_state:
            st.session_state[key] = defaults[key]
    return link


def write(spec: LinkSpec[Any], page: str, settings: Any) -> None:
    """After the widgets: the URL holds exactly what differs from the defaults (registry keys, never
    labels), and a value the page dropped leaves the URL."""
    seen = _seen(page)
    wanted = spec.write(settings)
    for key in spec.keys:
        if key in wanted:
            value = wanted[key]
            as_list = value if isinstance(value, list) else [value]
            if st.query_params.get_all(key) != as_list:
                st.query_params[key] = value
            seen[key] = as_list
        else:
            if key in st.query_params:
                del st.query_params[key]
            seen[key] = None


def use_dataset_recipe(spec: LinkSpec[Any], fields: tuple[str, ...]) -> None:
    """The dataset selectbox's on_change: set `fields` to the new dataset's recipe (its defaults),
    so a learner who picks shapes and presses Train gets settings under which the lesson shows."""
    key = next(k for k, f in spec.keys.items() if f == "dataset")
    base = spec.widget_values(spec.base(spec.from_widgets({key: st.session_state[key]})))
    by_field = {f: k for k, f in spec.keys.items()}
    changed = []
    for field in fields:
        widget = by_field[field]
        if st.session_state.get(widget) != base[widget]:
            st.session_state[widget] = base[widget]
            value = f"{base[widget]:g}" if isinstance(base[widget], float) else f"{base[widget]}"
            template = _FIELD_WORDS.get(field)
            changed.append(_(template).format(value=value) if template else f"{field} {value}")
    if changed:
        st.toast(_("This dataset's defaults: {changes}").format(changes=listing(changed)), icon=":material/tune:")
