"""The run store: one folder per trained model holding its config, status, metrics and weights.

Layout of ``<root>/<run_id>/``::

    config.json   {"model": ..., "data": ..., "train": ..., "group", "created", "label", "version"}
    status.json   {"status", "step", "message", "updated", "pid", ... free extra fields}
    metrics.json  the trainer's metrics dict (checked as a History where it is read)
    weights.pt    a state dict written by ``torch.save``; snapshots/step-NNNNNNN.pt during training
    analysis/     results computed from the weights (lesion.json, landscape-...json)

A run folder is born atomically: it is assembled under a hidden name and renamed into place, so
``list()`` never sees a run without its config. A damaged folder (hand-edited, disk full, copied
half-way) never takes the app down: ``scan()`` returns the damaged folders beside the readable
runs, ``list()`` skips them with a :class:`RunStoreWarning` naming the folder and the reason, and
``get``/``load_*`` raise :class:`RunStoreError` with the same reason. Messages name the run and
the file, never the server's path: pages show them. Rebuilding a model from its weights is
:mod:`resnet_viz.engine.checkpoints`.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from resnet_viz.engine.config import ConfigError, DataConfig, ModelConfig, TrainConfig, from_dict, to_dict
from resnet_viz.engine.history import History
from resnet_viz.i18n import _

from . import files
from .export import metrics_csv
from .files import (
    ANALYSIS_DIR,
    CONFIG_FILE,
    FORMAT_VERSION,
    INTERRUPTED,
    METRICS_FILE,
    RUN_ID_RE,
    RUNS_ENV,
    SNAPSHOTS_DIR,
    STATUS_FILE,
    STATUSES,
    WEIGHTS_FILE,
    DamagedAnalysis,
    RunStoreError,
)
from .records import Damaged, RunInfo, RunStoreWarning, _run_id_for

# ---------------------------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------------------------


class RunStore:
    """A folder of runs. Cheap to construct (touches no disk); the root is created on first write.

    Safe to share between the UI thread and training threads: every file is replaced atomically,
    so a reader sees either the old or the new version of each file.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        if root is None:
            root = os.environ.get(RUNS_ENV) or Path.cwd() / "runs"
        # Absolute now, so a later chdir (tests, Streamlit) cannot silently move the store.
        self.root: Path = Path(root).expanduser().absolute()

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    # -- addressing --------------------------------------------------------------------------

    def _dir(self, run_id: str) -> Path:
        """The folder of ``run_id``, refusing anything that could point outside the root."""
        if (
            not isinstance(run_id, str)
            or not RUN_ID_RE.fullmatch(run_id)
            or run_id.startswith(".")  # ".", "..", and our hidden temp/staging folders
        ):
            raise RunStoreError(
                _("invalid run id {run}: use only letters, digits, '.', '_' and '-', not starting with '.'").format(
                    run=repr(run_id)
                )
            )
        return self.root / run_id

    def run_dir(self, run_id: str) -> Path:
        """The folder of an existing run; RunStoreError when there is none."""
        path = self._dir(run_id)
        if not path.is_dir():
            raise RunStoreError(_("no run {run} in the run store").format(run=repr(run_id)))
        return path

    # -- writing -----------------------------------------------------------------------------

    def create(
        self,
        model: ModelConfig,
        data: DataConfig,
        train: TrainConfig,
        *,
        group: str | None = None,
        label: str | None = None,
    ) -> str:
        """Make a new run folder with its config and status "running"; return the run id."""
        if group is not None and not isinstance(group, str):
            raise TypeError(f"group must be a string or None; got {type(group).__name__}")
        self.root.mkdir(parents=True, exist_ok=True)
        now = files.utcnow()
        for _attempt in range(100):
            run_id = _run_id_for(model, train, now)
            final = self._dir(run_id)
            if not final.exists():
                break
        else:  # 100 collisions in 65536 suffixes within one second: something else is wrong
            raise RunStoreError(_("could not find a free run id in the run store"))
        config = {
            "model": to_dict(model),
            "data": to_dict(data),
            "train": to_dict(train),
            "group": group,
            "created": now.isoformat(timespec="microseconds"),
            "label": label if label is not None else model.name,
            "version": FORMAT_VERSION,
        }
        # Assemble under a hidden name, then rename: list() never sees a folder without a config.
        staging = self.root / f".creating-{run_id}"
        staging.mkdir()
        try:
            files.write_json(staging / CONFIG_FILE, config)
            files.write_json(staging / STATUS_FILE, self._status_record("running", 0, None, {}))
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        files.fsync_dir(self.root)
        return run_id

    @staticmethod
    def _status_record(status: str, step: int, message: str | None, extra: dict[str, Any]) -> dict[str, Any]:
        return {
            # pid/host/process let readers tell a live "running" from one whose server was killed;
            # a caller may pass its own pid (e.g. a worker process) through extra.
            "pid": os.getpid(),
            "host": files.HOST,
            "process": files.PROCESS_TOKEN,
            **extra,
            "status": status,
            "step": step,
            "message": message,
            "updated": files.utcnow().isoformat(timespec="microseconds"),
        }

    def set_status(self, run_id: str, status: str, *, step: int = 0, message: str | None = None, **extra: Any) -> None:
        """Replace status.json; ``extra`` holds free JSON fields (seconds, diverged_at, summary...)."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
        if isinstance(step, bool) or not isinstance(step, int):
            raise TypeError(f"step must be an int; got {step!r}")
        path = self.run_dir(run_id)
        files.write_json(path / STATUS_FILE, self._status_record(status, step, message, extra))

    def save_metrics(self, run_id: str, metrics: dict[str, Any]) -> None:
        """Replace metrics.json (NaN/inf are stored as null)."""
        if not isinstance(metrics, dict):
            raise TypeError(f"metrics must be a dict; got {type(metrics).__name__}")
        path = self.run_dir(run_id)
        # Compact: metrics hold thousands of numbers and are rewritten during training.
        files.write_json(path / METRICS_FILE, metrics, indent=None)

    def save_weights(self, run_id: str, state_dict: dict[str, torch.Tensor], *, step: int | None = None) -> None:
        """Replace weights.pt with CPU copies of ``state_dict`` (safe while training continues);
        with `step`, keep them as the snapshot taken after that step (0: at initialisation)."""
        path = self.run_dir(run_id)
        tensors: dict[str, torch.Tensor] = {}
        for key, value in state_dict.items():
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"state_dict[{key!r}] is a {type(value).__name__}, not a tensor")
            # clone: a CPU tensor's .cpu() is the same storage, which the optimiser keeps mutating;
            # contiguous_format: channels_last training must not leak into the file.
            tensors[str(key)] = value.detach().cpu().clone(memory_format=torch.contiguous_format)
        target = path / WEIGHTS_FILE
        if step is not None:
            (path / SNAPSHOTS_DIR).mkdir(exist_ok=True)
            target = path / SNAPSHOTS_DIR / f"step-{int(step):07d}.pt"
        files.atomic_write(target, lambda f: torch.save(tensors, f))

    def save_analysis(self, run_id: str, name: str, result: dict[str, Any]) -> None:
        """Keep an analysis of the run's weights (a lesion study, a landscape slice) beside it, so
        the app and the CLI reuse it instead of recomputing; `name` says which and with what settings."""
        self._dir(name)  # same character rules as a run id: no path tricks in a file name
        folder = self.run_dir(run_id) / ANALYSIS_DIR
        try:
            folder.mkdir(exist_ok=True)
            files.write_json(folder / f"{name}.json", result, indent=None)
        except OSError as e:  # a read-only or full store: a sentence for the page, not a traceback
            raise RunStoreError(
                _(
                    "run {run}: {file} cannot be saved ({reason}); the run store must be writable to keep analyses"
                ).format(run=repr(run_id), file=f"{ANALYSIS_DIR}/{name}.json", reason=e.strerror or type(e).__name__)
            ) from e

    def load_analysis(self, run_id: str, name: str) -> dict[str, Any] | None:
        """A saved analysis, or None when there is none; DamagedAnalysis naming the file when it is
        damaged (the caller recomputes it, which replaces the file)."""
        self._dir(name)
        path = self.run_dir(run_id) / ANALYSIS_DIR / f"{name}.json"
        if not path.exists():
            return None
        try:
            data = files.read_json(path)
        except RunStoreError as e:
            # e names the file ("lesion.json is not valid JSON (...)"): said with its folder in front
            raise DamagedAnalysis(
                _("run {run}: {problem}").format(run=repr(run_id), problem=f"{ANALYSIS_DIR}/{e}")
            ) from e
        if not isinstance(data, dict):
            raise DamagedAnalysis(
                _("run {run}: {file} does not hold a JSON object").format(
                    run=repr(run_id), file=f"{ANALYSIS_DIR}/{name}.json"
                )
            )
        return data

    def snapshot_steps(self, run_id: str) -> list[int]:
        """Steps of the weight snapshots kept during training, ascending (empty for older runs)."""
        folder = self.run_dir(run_id) / SNAPSHOTS_DIR
        steps = [int(p.stem[5:]) for p in folder.glob("step-*.pt") if p.stem[5:].isdigit()] if folder.is_dir() else []
        return sorted(steps)

    # -- reading -----------------------------------------------------------------------------

    def _read_info(self, path: Path) -> RunInfo:
        """Build a RunInfo from a folder, raising RunStoreError with the reason it is damaged."""
        config = files.read_json(path / CONFIG_FILE)
        if not isinstance(config, dict):
            raise RunStoreError(_("{file} does not hold a JSON object").format(file=CONFIG_FILE))
        version = config.get("version", FORMAT_VERSION)
        if isinstance(version, bool) or not isinstance(version, int) or version > FORMAT_VERSION:
            raise RunStoreError(
                _("{file} has format version {version}; this app reads up to {most}").format(
                    file=CONFIG_FILE, version=repr(version), most=FORMAT_VERSION
                )
            )
        configs: dict[str, Any] = {}
        for key, cls in (("model", ModelConfig), ("data", DataConfig), ("train", TrainConfig)):
            section = config.get(key)
            if not isinstance(section, dict):
                raise RunStoreError(_("{file} has no {section} section").format(file=CONFIG_FILE, section=repr(key)))
            try:
                configs[key] = from_dict(cls, section)
            except (ConfigError, TypeError) as e:
                raise RunStoreError(
                    _("{file} holds an invalid {section} config: {problem}").format(
                        file=CONFIG_FILE, section=key, problem=e
                    )
                ) from e
        group, created = config.get("group"), config.get("created")
        if group is not None and not isinstance(group, str):
            raise RunStoreError(_("{file} has a non-text group {group}").format(file=CONFIG_FILE, group=repr(group)))
        if not isinstance(created, str):
            raise RunStoreError(_("{file} has no creation time").format(file=CONFIG_FILE))
        label = config.get("label")
        if not isinstance(label, str) or not label:
            label = configs["model"].name
        files.check_buildable(configs["model"])

        status = files.read_json(path / STATUS_FILE)
        if not isinstance(status, dict):
            raise RunStoreError(_("{file} does not hold a JSON object").format(file=STATUS_FILE))
        state, step, message = status.get("status"), status.get("step", 0), status.get("message")
        if state not in STATUSES:
            raise RunStoreError(
                _("{file} has no known status (one of {choices})").format(file=STATUS_FILE, choices=", ".join(STATUSES))
            )
        # 2**53: the run table shows the step through a float64 column
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < 2**53:
            raise RunStoreError(
                _("{file} has a step that is not a whole number from 0 to 2**53").format(file=STATUS_FILE)
            )
        if message is not None and not isinstance(message, str):
            message = str(message)[:200]
        files.check_status_extra(status)
        shown = INTERRUPTED if files.is_interrupted(status) else state

        for name, check in ((METRICS_FILE, files.check_metrics), (WEIGHTS_FILE, files.check_weights)):
            error = files.check_cached(path / name, check)
            if error is not None:
                raise RunStoreError(error)

        return RunInfo(
            run_id=path.name,
            path=path,
            model=configs["model"],
            data=configs["data"],
            train=configs["train"],
            group=group,
            label=label,
            created=created,
            status=shown,
            step=step,
            message=message,
            extra={k: v for k, v in status.items() if k not in ("status", "step", "message")},
        )

    def _iter_folders(self) -> Iterator[Path]:
        entries = list(os.scandir(self.root))  # FileNotFoundError: nothing written yet (scan handles it)
        for entry in entries:
            # Hidden entries are our temp/staging/deleting debris; stray files are not runs.
            if not entry.name.startswith(".") and entry.is_dir():
                yield Path(entry.path)

    def scan(self, *, group: str | None = None) -> tuple[list[RunInfo], list[Damaged]]:
        """Readable runs, newest first, and the damaged folders skipped (whatever their group: a
        damaged config may not even say which group it belongs to)."""
        runs: list[RunInfo] = []
        damaged: list[Damaged] = []
        try:
            folders = list(self._iter_folders())
        except FileNotFoundError:
            folders = []
        except OSError as e:  # the root is a file, or not readable: no runs, and say why
            return [], [
                Damaged("", _("its folder cannot be read ({reason})").format(reason=e.strerror or type(e).__name__))
            ]
        for path in folders:
            try:
                if not RUN_ID_RE.fullmatch(path.name):
                    raise RunStoreError(_("its name is not a valid run id"))
                info = self._read_info(path)
            except RunStoreError as e:
                damaged.append(Damaged(path.name, str(e)))
                continue
            if group is None or info.group == group:
                runs.append(info)
        # created (microseconds) orders runs made within the same second; the id breaks ties.
        runs.sort(key=lambda r: (r.created, r.run_id), reverse=True)
        damaged.sort(key=lambda d: d.folder)
        return runs, damaged

    def list(self, *, group: str | None = None) -> list[RunInfo]:
        """Readable runs, newest first; damaged folders are skipped with a RunStoreWarning each."""
        runs, damaged = self.scan(group=group)
        for d in damaged:
            # The server's log may name the full path (a page shows `Damaged`, which does not).
            warnings.warn(f"skipping run folder {self.root / d.folder}: {d.reason}", RunStoreWarning, stacklevel=2)
        return runs

    def get(self, run_id: str) -> RunInfo:
        path = self.run_dir(run_id)
        try:
            return self._read_info(path)
        except RunStoreError as e:
            raise RunStoreError(_("run {run} is damaged: {problem}").format(run=repr(run_id), problem=e)) from e

    def load_history(self, run_id: str) -> History | None:
        """The run's metrics as a checked :class:`resnet_viz.engine.history.History`; None when it has not
        saved any yet (a run still training, or one that failed before its first metrics)."""
        metrics = self.load_metrics(run_id)
        if not metrics:
            return None
        try:
            return files.history_of(metrics)
        except RunStoreError as e:
            raise RunStoreError(_("run {run}: {problem}").format(run=repr(run_id), problem=e)) from e

    def load_metrics(self, run_id: str) -> dict[str, Any]:
        """The stored metrics dict, unchecked beyond being an object (metrics_csv reads partial
        files too); ``{}`` when the run has not saved any yet."""
        path = self.run_dir(run_id) / METRICS_FILE
        if not path.exists():
            return {}
        try:
            metrics = files.read_json(path)
        except RunStoreError as e:
            raise RunStoreError(_("run {run}: {problem}").format(run=repr(run_id), problem=e)) from e
        if not isinstance(metrics, dict):
            raise RunStoreError(
                _("run {run}: {file} does not hold a JSON object").format(run=repr(run_id), file=METRICS_FILE)
            )
        return metrics

    # -- exporting ---------------------------------------------------------------------------

    def metrics_csv(self, run_id: str) -> str:
        """The run's metrics as CSV (see :func:`resnet_viz.engine.runs.export.metrics_csv`)."""
        return metrics_csv(self.load_metrics(run_id))
