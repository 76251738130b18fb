"""The reference atlas on the pages (resnet_viz.teaching.atlas): read once per server, always
labelled, and kept behind the prediction it would answer.

A page shows a reference result only where the learner's own run store lacks the cell, says so
in a box that names the command and the device that computed it, and replaces each reference
cell by the learner's own as soon as that one is stored. Where a page asks for a prediction
that the reference would answer, the reference waits until the prediction is committed, or
until the learner asks for it (and then the exercise is graded from their own runs only).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import streamlit as st

from resnet_viz import ui
from resnet_viz.degradation.sweep import SweepConfig, SweepResult
from resnet_viz.engine.config import ModelConfig
from resnet_viz.engine.history import History
from resnet_viz.engine.runs import RunInfo, RunStore, RunStoreError
from resnet_viz.engine.runs.records import twin_groups
from resnet_viz.i18n import _, language, ngettext
from resnet_viz.teaching import atlas
from resnet_viz.teaching.exercises import Exercise, Outcome
from resnet_viz.teaching.settings import TwinSettings
from resnet_viz.ui import exercises as ui_ex
from resnet_viz.ui import predictions

_PEEKED = "reference_peeked"  # session: exercise key -> the learner asked for the reference before predicting


def _manifest(root: str) -> tuple[atlas.Manifest | None, str | None]:
    """The atlas's manifest (None without an atlas), or why it cannot be read."""
    try:
        return atlas.read_manifest(root), None
    except atlas.AtlasError as exc:
        return None, str(exc)


@st.cache_data(show_spinner=False, max_entries=64)
def sweep_cells(
    sweep: SweepConfig, root: str, lang: str
) -> tuple[list[SweepResult], atlas.Manifest | None, str | None]:
    """The cells of `sweep` in the atlas at `root`, its manifest, and why it cannot be read (in
    `lang`, which is part of the key for that reason). Cached for every session: the atlas never
    changes while the server runs (only `resnet-viz atlas` writes it)."""
    manifest, problem = _manifest(root)
    if problem:
        return [], None, problem
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
    predictions.saw(key)  # a prediction committed from now on counts as after the reveal


def released(exercise: Exercise) -> bool:
    """Whether a reference that answers `exercise` may be shown: its prediction is committed, or
    the learner asked to see the reference first."""
    return ui_ex.committed(exercise.key) or peeked(exercise)


def gate(exercise: Exercise, count: int, *, number: int, above: bool = False) -> None:
    """In place of a reference that would answer `exercise` (number `number` in the page's box,
    which is below this, or `above`): what is waiting, and a button to show it before predicting."""
    with st.container(border=True):
        if above:
            text = ngettext(
                "**A reference result is ready here**: {count} run that the lab computed with `resnet-viz atlas`. "
                "Exercise {number} above asks what it shows: commit your prediction there and it appears here.",
                "**A reference result is ready here**: {count} runs that the lab computed with `resnet-viz atlas`. "
                "Exercise {number} above asks what they show: commit your prediction there and they appear here.",
                count,
            )
        else:
            text = ngettext(
                "**A reference result is ready for these settings**: {count} run that the lab computed with "
                "`resnet-viz atlas`. Exercise {number} below asks what it shows: commit your prediction there and "
                "it appears here.",
                "**A reference result is ready for these settings**: {count} runs that the lab computed with "
                "`resnet-viz atlas`. Exercise {number} below asks what they show: commit your prediction there and "
                "they appear here.",
                count,
            )
        st.markdown(text.format(count=count, number=number))
        st.button(
            _("Show the reference now"),
            key=f"reference_peek:{exercise.key}",
            icon=":material/visibility:",
            on_click=_peek,
            args=(exercise.key,),
            help=_("Exercise {number} is then graded from your own runs only").format(number=number),
        )


# -- the reference pair (the saliency and analysis pages) --------------------------------------------


@st.cache_data(show_spinner=False, max_entries=8)
def _pair_runs(root: str, lang: str) -> tuple[list[RunInfo], atlas.Manifest | None, str | None]:
    manifest, problem = _manifest(root)
    if problem:
        return [], None, problem
    if manifest is None or not manifest.pair:
        return [], manifest, None
    infos, _damaged = atlas.pair_store(root).scan()  # a damaged reference run: the pair is whole or absent
    groups = list(twin_groups(infos).values())  # plain before residual, as the learner's own groups
    whole = len(groups) == 1 and len(groups[0]) == len(manifest.pair)
    return (groups[0] if whole else []), manifest, None


def pair() -> tuple[dict[str, list[RunInfo]], RunStore, atlas.Manifest | None]:
    """The atlas's reference pair as the pages' run groups (one group, or none without an atlas),
    the read-only store it lives in, and the manifest. Read once per server (cached)."""
    root = str(atlas.atlas_dir())
    runs, manifest, problem = _pair_runs(root, language())
    if problem:
        st.caption(_("The reference atlas cannot be read, so none is shown: {reason}").format(reason=problem))
    groups = {f"{' + '.join(r.label for r in runs)} · {runs[0].group}": runs} if runs else {}
    return groups, atlas.pair_store(root), manifest


def group_title(runs: Sequence[RunInfo]) -> str:
    """A reference group as a select box lists it: marked as the reference, in the learner's language."""
    return _("Reference: {names} · {domain} · seed {seed}").format(
        names=" + ".join(r.label for r in runs), domain=ui.domain(runs[0]), seed=runs[0].train.seed
    )


def pair_label(manifest: atlas.Manifest | None, *, action: str) -> None:
    """The box above a page's work on the reference pair: what it is, who computed it, on what, and
    how to work on one's own (`action`, in the learner's language)."""
    device, date = (manifest.device_text(), manifest.day()) if manifest is not None else ("?", "?")
    st.info(
        _(
            "**Reference**: these twins come from the lab's reference atlas, trained by `resnet-viz atlas` on "
            "{device} ({date}), not by you; what this page computes on them is kept in this browser's session "
            "only. To work on your own, {action}."
        ).format(device=device, date=date, action=action),
        icon=":material/menu_book:",
    )


# -- Train & compare's twins --------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=8)
def _live_runs(root: str, lang: str) -> tuple[list[tuple[RunInfo, History]], atlas.Manifest | None, str | None]:
    manifest, problem = _manifest(root)
    if problem:
        return [], None, problem
    if manifest is None or not manifest.live:
        return [], manifest, None
    store = atlas.live_store(root)
    infos = sorted((i for i in store.scan()[0] if i.status == "finished"), key=lambda i: i.model.residual)
    try:
        runs = [(i, h) for i, h in ((i, store.load_history(i.run_id)) for i in infos) if h is not None]
    except RunStoreError as exc:  # a damaged reference: none is shown, and the page says why
        return [], None, str(exc)
    return (runs if len(runs) == len(manifest.live) else []), manifest, None


def trained_with(infos: Sequence[RunInfo], settings: TwinSettings) -> bool:
    """Whether `infos` are the twins `settings` describe, plain first: the same data, training and
    model configs field by field, less what the data decides (fit_to_data)."""

    def asked(model: ModelConfig) -> dict:
        fields = dataclasses.asdict(model)
        for name in ("in_channels", "image_size", "num_classes"):
            fields.pop(name)
        return fields

    wanted = [asked(c) for c in sorted(settings.model_configs(), key=lambda c: c.residual)]
    same = all(i.data == settings.data_config() and i.train == settings.train_config() for i in infos)
    return bool(infos) and same and [asked(i.model) for i in infos] == wanted


def live(settings: TwinSettings | None) -> tuple[list[History], atlas.Manifest | None]:
    """The atlas's twins trained with Train & compare's `settings` (the atlas holds its defaults),
    plain first, and the manifest; empty for any other settings or without an atlas."""
    if settings is None:
        return [], None
    runs, manifest, problem = _live_runs(str(atlas.atlas_dir()), language())
    if problem:
        st.caption(_("The reference atlas cannot be read, so none is shown: {reason}").format(reason=problem))
    if not trained_with([i for i, _h in runs], settings):
        return [], None
    return [h for _i, h in runs], manifest


Items = list[tuple[Exercise, Outcome | None, str]]


def ungraded_if_peeked(items: Items) -> Items:
    """On the reference pair, an exercise whose reference the learner looked at before predicting
    is not graded from it: they have no run of their own to be graded from here."""
    todo = _(
        "you looked at the reference first, so it does not grade this one: train your own twins on "
        "**Train & compare** and measure them here."
    )
    return [(ex, None, todo) if peeked(ex) else (ex, outcome, t) for ex, outcome, t in items]


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
