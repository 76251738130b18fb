"""What the run store hands out: a run's record (:class:`RunInfo`), the damaged folders it skipped
(:class:`Damaged`, said in one paragraph by :func:`damage_report`), and the pairs of twins one
Train press made (:func:`twin_groups`). Split from :mod:`resnet_viz.engine.runs.store`, which reads and
writes the folders these describe.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.i18n import _, ngettext

from .files import WEIGHTS_FILE


class RunStoreWarning(UserWarning):
    """A run folder was skipped by ``list()`` because it is damaged or half-written."""


@dataclass(frozen=True)
class Damaged:
    """A run folder ``scan()`` skipped, for a page to name (it never holds the server's path)."""

    folder: str  # the folder's name, usually a run id; "" for the store itself
    reason: str  # what is wrong, e.g. "config.json is not valid JSON (...)"

    def __str__(self) -> str:
        if self.folder:
            return f"{self.folder}: {self.reason}"
        return _("the run store: {reason}").format(reason=self.reason)


def damage_report(damaged: list[Damaged]) -> str | None:
    """One markdown paragraph naming the folders ``scan()`` skipped, for a page's single warning;
    None when there are none."""
    if not damaged:
        return None
    lines = "\n".join(f"- `{d.folder}`: {d.reason}" if d.folder else f"- {d}" for d in damaged)
    return ngettext(
        "Skipped {n} damaged run folder in the run store:\n{lines}",
        "Skipped {n} damaged run folders in the run store:\n{lines}",
        len(damaged),
    ).format(n=len(damaged), lines=lines)


@dataclass(frozen=True)
class RunInfo:
    run_id: str  # folder name, sortable: "<UTC time>-<model name>-s<seed>-<4 hex>"
    path: Path  # the run folder
    model: ModelConfig
    data: DataConfig
    train: TrainConfig
    group: str | None  # ties twins trained by one Train press, so the UI shows them together
    label: str  # what charts call this run (default: the model's name, e.g. "residual-56")
    created: str  # ISO-8601 UTC time the run was created
    status: str  # one of STATUSES, or "interrupted" (recorded "running" but its process is gone)
    step: int  # last step the writer reported
    message: str | None  # human-readable note (error text for "failed", reason for "diverged")
    extra: dict[str, Any] = field(default_factory=dict)  # the rest of status.json: updated, pid, seconds, summary...

    @property
    def when(self) -> str:
        """When the run was created, as the pages show it: "2026-12-02 04:30" (UTC)."""
        return self.created[:16].replace("T", " ")

    @property
    def has_weights(self) -> bool:
        """True once weights were saved (a run still training may not have any yet)."""
        return (self.path / WEIGHTS_FILE).is_file()


def _run_id_for(model: ModelConfig, train: TrainConfig, now: datetime) -> str:
    return f"{now:%Y%m%d-%H%M%S}-{model.name}-s{train.seed}-{secrets.token_hex(2)}"


def twin_groups(infos: Sequence[RunInfo]) -> dict[str, list[RunInfo]]:
    """Finished runs with weights, grouped by the press that trained them, plain before residual,
    newest group first (``infos`` come newest first from :meth:`RunStore.scan`)."""
    groups: dict[str, list[RunInfo]] = {}
    for info in infos:
        if info.status == "finished" and info.has_weights:
            groups.setdefault(info.group or info.run_id, []).append(info)
    for runs in groups.values():
        runs.sort(key=lambda r: (r.model.residual, r.model.depth))
    return groups
