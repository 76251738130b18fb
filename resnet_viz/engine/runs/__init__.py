"""The run store: one folder per trained model (config, status, metrics, weights, analyses).

`store` holds :class:`RunStore`; `records` the records it returns (:class:`RunInfo`, :class:`Damaged`); `files` the folder layout, atomic
writes and the schema checks; `export` the CSV download. Rebuilding a model from a run's weights
is :mod:`resnet_viz.engine.checkpoints`.
"""

from .export import CSV_COLUMNS
from .files import FORMAT_VERSION, INTERRUPTED, RUNS_ENV, STATUSES, DamagedAnalysis, RunStoreError
from .records import Damaged, RunInfo, RunStoreWarning, damage_report, twin_groups
from .store import RunStore

__all__ = [
    "CSV_COLUMNS",
    "FORMAT_VERSION",
    "INTERRUPTED",
    "RUNS_ENV",
    "STATUSES",
    "Damaged",
    "DamagedAnalysis",
    "RunInfo",
    "RunStore",
    "RunStoreError",
    "RunStoreWarning",
    "damage_report",
    "twin_groups",
]
