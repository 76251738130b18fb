"""The reference atlas on the pages (resnet_viz.teaching.atlas): read once per server, always
labelled, and kept behind the prediction it would answer.

A page shows a reference result only where the learner's own run store lacks the cell, says so
in a box that names the command and the device that computed it, and replaces each reference
cell by the learner's own as soon as that one is stored. Where a page asks for a prediction
that the reference would answer, the reference waits until the prediction is committed, or
until the learner asks for it (and then the exercise is graded from their own runs only).
"""

from __future__ import annotations

import streamlit as st

from resnet_viz.degradation.sweep import SweepConfig, SweepResult
from resnet_viz.i18n import _, language, ngettext
from resnet_viz.teaching import atlas
from resnet_viz.teaching.exercises import Exercise
from resnet_viz.ui import exercises as ui_ex

_PEEKED = "reference_peeked"  # session: exercise key -> the learner asked for the reference before predicting


@st.cache_data(show_spinner=False, max_entries=64)
def sweep_cells(
    sweep: SweepConfig, root: str, lang: str
) -> tuple[list[SweepResult], atlas.Manifest | None, str | None]:
    """The cells of `sweep` in the atlas at `root`, its manifest, and why it cannot be read (in
    `lang`, which is part of the key for that reason). Cached for every session: the atlas never
    changes while the server runs (only `resnet-viz atlas` writes it)."""
    try:
        manifest = atlas.read_manifest(root)
    except atlas.AtlasError as exc:
        return [], None, str(exc)
    if manifest is None:
        return [], None, None
    return atlas.reference_cells(sweep, have=(), root=root), manifest, None


def for_sweep(sweep: SweepConfig, own: list[SweepResult]) -> tuple[list[SweepResult], atlas.Manifest | None]:
    """The reference cells of `sweep` that the learner's own cells (`own`) do not replace."""
    cells, manifest, problem = sweep_cells(sweep, str(atlas.atlas_dir()), language())
    if problem:
        st.caption(_("The reference atlas cannot be read, so none is shown: {reason}").format(reason=problem))
    have = {(r.depth, r.kind, r.seed) for r in own}
    return [c for c in cells if (c.depth, c.kind, c.seed) not in have], manifest


def peeked(exercise: Exercise) -> bool:
    return bool(st.session_state.get(_PEEKED, {}).get(exercise.key))


def _peek(key: str) -> None:
    st.session_state.setdefault(_PEEKED, {})[key] = True


def released(exercise: Exercise) -> bool:
    """Whether a reference that answers `exercise` may be shown: its prediction is committed, or
    the learner asked to see the reference first."""
    return ui_ex.committed(exercise.key) or peeked(exercise)


def gate(exercise: Exercise, count: int, *, number: int) -> None:
    """In place of a reference that would answer `exercise` (number `number` in the page's box):
    what is waiting, and a button to show it before predicting."""
    with st.container(border=True):
        st.markdown(
            ngettext(
                "**A reference result is ready for these settings**: {count} run that the lab computed with "
                "`resnet-viz atlas`. Exercise {number} below asks what it shows: commit your prediction there and "
                "it appears here.",
                "**A reference result is ready for these settings**: {count} runs that the lab computed with "
                "`resnet-viz atlas`. Exercise {number} below asks what they show: commit your prediction there and "
                "they appear here.",
                count,
            ).format(count=count, number=number)
        )
        st.button(
            _("Show the reference now"),
            key=f"reference_peek:{exercise.key}",
            icon=":material/visibility:",
            on_click=_peek,
            args=(exercise.key,),
            help=_("Exercise {number} is then graded from your own runs only").format(number=number),
        )


def label(manifest: atlas.Manifest, count: int, total: int, *, action: str) -> None:
    """The box above a page's reference result: what is the reference, who computed it, on what,
    and how to replace it (`action`, in the learner's language: e.g. "press **Run sweep**")."""
    st.info(
        _(
            "**Reference**: {count} of these {total} runs come from the lab's reference atlas, computed by "
            "`resnet-viz atlas` on {device} ({date}), not by you. To train your own, {action}: each of your runs "
            "replaces its reference as soon as it finishes."
        ).format(count=count, total=total, device=manifest.device_text(), date=manifest.day(), action=action),
        icon=":material/menu_book:",
    )
