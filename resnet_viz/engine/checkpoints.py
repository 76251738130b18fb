"""Rebuilding a stored run's model from its weights, on the CPU, checked before anything is built.

The run store only keeps files (:mod:`resnet_viz.engine.runs`); this module turns a run's weights back
into a model for the analyses, the saliency page and the CLI.
"""

from __future__ import annotations

import pickle

import torch

from resnet_viz.engine.models import build_model
from resnet_viz.engine.runs import RunStore, RunStoreError
from resnet_viz.engine.runs.files import SNAPSHOTS_DIR, WEIGHTS_FILE, check_buildable
from resnet_viz.i18n import _


def load_state_dict(store: RunStore, run_id: str, *, step: int | None = None) -> dict[str, torch.Tensor]:
    """The final weights, or with `step` the snapshot taken after that step."""
    path = store.run_dir(run_id) / WEIGHTS_FILE
    if step is not None:
        path = path.parent / SNAPSHOTS_DIR / f"step-{int(step):07d}.pt"
        if not path.is_file():
            raise RunStoreError(
                _("run {run} has no weight snapshot at step {step}").format(run=repr(run_id), step=step)
            )
    if not path.is_file():
        raise RunStoreError(
            _("run {run} has no saved weights (still training, or it failed early)").format(run=repr(run_id))
        )
    try:
        # weights_only: a weights file from a shared/downloaded runs folder must not be able
        # to run code when unpickled.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:  # torch's text is a page of advice on allow-listing globals
        raise RunStoreError(
            _(
                "run {run}: {file} cannot be loaded: it holds Python objects besides tensors, which are "
                "refused because unpickling them could run code"
            ).format(run=repr(run_id), file=path.name)
        ) from e
    except Exception as e:  # torch raises RuntimeError, EOFError, OSError... for damaged files
        first = str(e).replace(str(path), path.name).splitlines()[0][:200] if str(e) else ""
        raise RunStoreError(
            _("run {run}: {file} cannot be loaded ({reason})").format(
                run=repr(run_id), file=path.name, reason=f"{type(e).__name__}: {first}"
            )
        ) from e
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise RunStoreError(
            _("run {run}: {file} does not hold a state dict of tensors").format(run=repr(run_id), file=path.name)
        )
    return state


def load_model(store: RunStore, run_id: str, *, step: int | None = None) -> torch.nn.Module:
    """Rebuild the run's model on the CPU with its saved weights (or the snapshot after
    `step`), in eval mode."""
    info = store.get(run_id)  # its config passed check_buildable; the file may change after, so again:
    try:
        check_buildable(info.model)
    except RunStoreError as e:
        raise RunStoreError(_("run {run}: {problem}").format(run=repr(run_id), problem=e)) from e
    state = load_state_dict(store, run_id, step=step)
    try:
        model = build_model(info.model)
    except (ValueError, RuntimeError) as e:  # ConfigError is a ValueError
        raise RunStoreError(
            _("run {run}: its model config cannot be built ({problem})").format(run=repr(run_id), problem=e)
        ) from e
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:  # missing/unexpected keys or shape mismatch
        first = str(e).splitlines()[0][:200]  # torch lists every mismatched key: the first line says what
        raise RunStoreError(
            _("run {run}: weights do not fit its model config ({problem})").format(run=repr(run_id), problem=first)
        ) from e
    return model.eval()


__all__ = ["load_model", "load_state_dict"]
