"""Run store on disk: one folder per trained model holding its config, status, metrics and weights.

Layout of ``<root>/<run_id>/``::

    config.json   {"model": ..., "data": ..., "train": ..., "group", "created", "label", "version"}
    status.json   {"status", "step", "message", "updated", "pid", ... free extra fields}
    metrics.json  the trainer's metrics dict (opaque here, except for :meth:`RunStore.metrics_csv`)
    weights.pt    a state dict written by ``torch.save``

Every write goes to a hidden temp file in the same folder and is then ``os.replace``d over the
target, so a server killed mid-write leaves the previous version intact (a rename within one
filesystem is atomic). A run folder is itself born atomically: it is assembled under a hidden
name and renamed into place, so ``list()`` never sees a run without its config.

A damaged folder (hand-edited, disk full, copied half-way) must never take the app down: every
file is checked against its schema where it is read (types, ranges, a model small enough to
build), ``scan()`` returns the damaged folders beside the readable runs, ``list()`` skips them
with a :class:`RunStoreWarning` naming the folder and the reason, and ``get``/``load_*`` raise
:class:`RunStoreError` with the same reason. Messages name the run and the file, never the
server's path: pages show them.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import pickle
import re
import secrets
import shutil
import socket
import threading
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import torch

from resnet_viz import checks
from resnet_viz.config import (
    ConfigError,
    DataConfig,
    ModelConfig,
    TrainConfig,
    from_dict,
    to_dict,
)

if TYPE_CHECKING:  # train pulls in the data and probe modules: imported where a History is read
    from resnet_viz.train import History

FORMAT_VERSION = 1  # bump when the folder layout changes incompatibly
RUNS_ENV = "RESNET_VIZ_RUNS"  # environment variable naming the runs folder

# Statuses a writer may set. "interrupted" is only ever *reported*: a run still marked "running"
# whose process is gone (server killed), so the UI does not wait forever for it.
STATUSES: tuple[str, ...] = ("running", "finished", "stopped", "diverged", "failed")
INTERRUPTED = "interrupted"

CONFIG_FILE = "config.json"
STATUS_FILE = "status.json"
METRICS_FILE = "metrics.json"
WEIGHTS_FILE = "weights.pt"
ANALYSIS_DIR = "analysis"  # results computed from a run's weights: lesion.json, landscape-11x11-....json
SNAPSHOTS_DIR = "snapshots"  # weights kept at a few steps during training: step-0000000.pt ...

# Ids become folder names, so the alphabet is kept to characters that are safe on every OS and in
# URLs; "." and ".." match it but would escape or alias the root, so they are refused separately.
_RUN_ID_RE = re.compile(r"[A-Za-z0-9._-]+")

# Distinguishes this process from an earlier one that had the same pid (containers restart the
# server under the same small pid), so a run left "running" by a killed server is not mistaken
# for one of ours.
_PROCESS_TOKEN = secrets.token_hex(8)
_HOST = socket.gethostname()

CSV_COLUMNS: tuple[str, ...] = ("step", "loss", "acc", "lr", "test_loss", "test_acc")


class RunStoreError(RuntimeError):
    """A run cannot be found, addressed or read; the message names the run and the reason."""


class DamagedAnalysis(RunStoreError):
    """A saved analysis file of a readable run is damaged; computing it again replaces it."""


class RunStoreWarning(UserWarning):
    """A run folder was skipped by ``list()`` because it is damaged or half-written."""


@dataclass(frozen=True)
class Damaged:
    """A run folder ``scan()`` skipped, for a page to name (it never holds the server's path)."""

    folder: str  # the folder's name, usually a run id; "" for the store itself
    reason: str  # what is wrong, e.g. "config.json is not valid JSON (...)"

    def __str__(self) -> str:
        return f"{self.folder}: {self.reason}" if self.folder else f"the run store: {self.reason}"


def damage_report(damaged: list[Damaged]) -> str | None:
    """One markdown paragraph naming the folders ``scan()`` skipped, for a page's single warning;
    None when there are none."""
    if not damaged:
        return None
    lines = "\n".join(f"- `{d.folder}`: {d.reason}" if d.folder else f"- {d}" for d in damaged)
    many = "s" if len(damaged) > 1 else ""
    return f"Skipped {len(damaged)} damaged run folder{many} in the run store:\n{lines}"


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


# ---------------------------------------------------------------------------------------------
# Low-level helpers
# ---------------------------------------------------------------------------------------------


def _utcnow() -> datetime:
    # One seam for the clock, so tests can order runs without sleeping.
    return datetime.now(timezone.utc)


def _fsync_dir(path: Path) -> None:
    # Makes the rename itself durable across a power cut; not possible (or needed) on Windows.
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through a hidden temp file in the same folder, then rename it into place.

    The temp name starts with "." so listings and exports ignore a leftover from a killed process.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _jsonable(obj: Any) -> Any:
    """Plain-JSON copy of ``obj``: NaN/inf become null (strict JSON has no NaN), numpy/torch
    scalars and arrays become Python numbers and lists."""
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):  # numpy arrays/scalars, torch tensors
        return _jsonable(obj.tolist())
    raise TypeError(f"cannot store a {type(obj).__name__} in JSON: {obj!r}")


def _write_json(path: Path, obj: Any, *, indent: int | None = 2) -> None:
    # Serialise before touching the disk: an unserialisable value then leaves no temp file at all.
    separators = (",", ": ") if indent else (",", ":")
    data = json.dumps(_jsonable(obj), indent=indent, separators=separators, allow_nan=False).encode()
    _atomic_write(path, lambda f: f.write(data))


def _read_json(path: Path) -> Any:
    """Parse a JSON file; raise RunStoreError saying what is wrong with it."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise RunStoreError(f"{path.name} is missing") from None
    except OSError as e:  # e.strerror, not str(e): that holds the server's absolute path
        raise RunStoreError(f"{path.name} cannot be read ({e.strerror or type(e).__name__})") from e
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:  # JSONDecodeError, bad UTF-8, an int over 4300 digits, deep nesting
        raise RunStoreError(f"{path.name} is not valid JSON ({str(e)[:200]})") from e


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # os.kill(pid, 0) on Windows would *terminate* the process; assume alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: the pid exists but belongs to someone else
        return True
    return True


def _is_interrupted(status: dict[str, Any]) -> bool:
    """A "running" status whose writer process is known to be gone."""
    pid = status.get("pid")
    if status.get("status") != "running" or not isinstance(pid, int) or isinstance(pid, bool):
        return False
    if status.get("host") not in (None, _HOST):
        return False  # written on another machine sharing the folder: cannot tell, keep as written
    if pid == os.getpid():
        token = status.get("process")
        return token is not None and token != _PROCESS_TOKEN
    return not _pid_alive(pid)


# Validating metrics.json (parse) and weights.pt (zip directory) on every list() would re-read
# megabytes per page rerun; files are only ever replaced, never edited in place, so a file whose
# (mtime, size, inode) is unchanged keeps its verdict.
_CHECKED: dict[Path, tuple[tuple[int, int, int], str | None]] = {}
_CHECKED_LOCK = threading.Lock()


def _check_cached(path: Path, check: Callable[[Path], None]) -> str | None:
    """Run ``check`` on an existing file unless its verdict is cached; return the error or None."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None  # absent is not damaged: a running run has no weights yet
    key = (st.st_mtime_ns, st.st_size, st.st_ino)
    with _CHECKED_LOCK:
        hit = _CHECKED.get(path)
    if hit is not None and hit[0] == key:
        return hit[1]
    try:
        check(path)
        error = None
    except RunStoreError as e:
        error = str(e)
    with _CHECKED_LOCK:
        _CHECKED[path] = (key, error)
    return error


def _history(metrics: Any) -> History:
    """The History a metrics dict describes, or RunStoreError saying what does not fit its schema."""
    from resnet_viz.train import History

    if not isinstance(metrics, dict):
        raise RunStoreError(f"{METRICS_FILE} does not hold a JSON object")
    try:
        return History.from_dict(metrics)
    except ValueError as e:
        raise RunStoreError(f"{METRICS_FILE} does not hold a model's metrics: {e}") from e


def _check_metrics(path: Path) -> None:
    _history(_read_json(path))


def _check_weights(path: Path) -> None:
    # torch.save writes a zip archive whose directory sits at the end: a truncated or
    # half-copied file fails here without reading the tensors themselves.
    try:
        with zipfile.ZipFile(path) as zf:
            zf.namelist()
    except zipfile.BadZipFile as e:
        raise RunStoreError(f"{path.name} is damaged or truncated ({e})") from e
    except OSError as e:
        raise RunStoreError(f"{path.name} cannot be read ({e.strerror or type(e).__name__})") from e


def _check_status_extra(status: dict[str, Any]) -> None:
    """The free fields of status.json that readers use: a summary of numbers and words, seconds."""
    summary = status.get("summary")
    if summary is not None:
        if not isinstance(summary, dict):
            raise RunStoreError(f"{STATUS_FILE} has a summary that is not a JSON object")
        for key, v in summary.items():
            if not (v is None or isinstance(v, str) or checks.plain_number(v)):
                raise RunStoreError(f"{STATUS_FILE} has a summary {key!r} that is neither a number nor text")
    seconds, pid = status.get("seconds"), status.get("pid")
    if seconds is not None and not checks.plain_number(seconds):
        raise RunStoreError(f"{STATUS_FILE} has a seconds that is not a number")
    # os.kill(pid, 0) asks about the pid: beyond a C int it raises OverflowError, and 0 or a
    # negative pid would ask about a whole process group instead.
    if pid is not None and (isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid < 2**31):
        raise RunStoreError(f"{STATUS_FILE} has a pid that is not a process id")
    for key in ("updated", "host", "process"):
        if key in status and status[key] is not None and not isinstance(status[key], str):
            raise RunStoreError(f"{STATUS_FILE} has a {key} that is not text")


def _check_buildable(model: ModelConfig) -> None:
    """Refuse a stored model too large to build here before anything is allocated: width 100000
    asked for 360 GB and depth 20000 spent 11-14 s building in the page thread before failing."""
    from resnet_viz.limits import (
        check_model,  # deferred: needed only once a config has parsed
    )

    try:
        check_model(model)
    except ConfigError as e:
        raise RunStoreError(f"{CONFIG_FILE} describes a model too large to build: {e}") from e


def _run_id_for(model: ModelConfig, train: TrainConfig, now: datetime) -> str:
    return f"{now:%Y%m%d-%H%M%S}-{model.name}-s{train.seed}-{secrets.token_hex(2)}"


# ---------------------------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------------------------


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
            or not _RUN_ID_RE.fullmatch(run_id)
            or run_id.startswith(".")  # ".", "..", and our hidden temp/staging folders
        ):
            raise RunStoreError(
                f"invalid run id {run_id!r}: use only letters, digits, '.', '_' and '-', not starting with '.'"
            )
        return self.root / run_id

    def _existing_dir(self, run_id: str) -> Path:
        path = self._dir(run_id)
        if not path.is_dir():
            raise RunStoreError(f"no run {run_id!r} in the run store")
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
        now = _utcnow()
        for _ in range(100):
            run_id = _run_id_for(model, train, now)
            final = self._dir(run_id)
            if not final.exists():
                break
        else:  # 100 collisions in 65536 suffixes within one second: something else is wrong
            raise RunStoreError("could not find a free run id in the run store")
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
            _write_json(staging / CONFIG_FILE, config)
            _write_json(staging / STATUS_FILE, self._status_record("running", 0, None, {}))
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _fsync_dir(self.root)
        return run_id

    @staticmethod
    def _status_record(status: str, step: int, message: str | None, extra: dict[str, Any]) -> dict[str, Any]:
        return {
            # pid/host/process let readers tell a live "running" from one whose server was killed;
            # a caller may pass its own pid (e.g. a worker process) through extra.
            "pid": os.getpid(),
            "host": _HOST,
            "process": _PROCESS_TOKEN,
            **extra,
            "status": status,
            "step": step,
            "message": message,
            "updated": _utcnow().isoformat(timespec="microseconds"),
        }

    def set_status(self, run_id: str, status: str, *, step: int = 0, message: str | None = None, **extra: Any) -> None:
        """Replace status.json; ``extra`` holds free JSON fields (seconds, diverged_at, summary...)."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
        if isinstance(step, bool) or not isinstance(step, int):
            raise TypeError(f"step must be an int; got {step!r}")
        path = self._existing_dir(run_id)
        _write_json(path / STATUS_FILE, self._status_record(status, step, message, extra))

    def save_metrics(self, run_id: str, metrics: dict[str, Any]) -> None:
        """Replace metrics.json (NaN/inf are stored as null)."""
        if not isinstance(metrics, dict):
            raise TypeError(f"metrics must be a dict; got {type(metrics).__name__}")
        path = self._existing_dir(run_id)
        # Compact: metrics hold thousands of numbers and are rewritten during training.
        _write_json(path / METRICS_FILE, metrics, indent=None)

    def save_weights(self, run_id: str, state_dict: dict[str, torch.Tensor], *, step: int | None = None) -> None:
        """Replace weights.pt with CPU copies of ``state_dict`` (safe while training continues);
        with `step`, keep them as the snapshot taken after that step (0: at initialisation)."""
        path = self._existing_dir(run_id)
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
        _atomic_write(target, lambda f: torch.save(tensors, f))

    def save_analysis(self, run_id: str, name: str, result: dict[str, Any]) -> None:
        """Keep an analysis of the run's weights (a lesion study, a landscape slice) beside it, so
        the app and the CLI reuse it instead of recomputing; `name` says which and with what settings."""
        self._dir(name)  # same character rules as a run id: no path tricks in a file name
        folder = self._existing_dir(run_id) / ANALYSIS_DIR
        try:
            folder.mkdir(exist_ok=True)
            _write_json(folder / f"{name}.json", result, indent=None)
        except OSError as e:  # a read-only or full store: a sentence for the page, not a traceback
            raise RunStoreError(
                f"run {run_id!r}: {ANALYSIS_DIR}/{name}.json cannot be saved ({e.strerror or type(e).__name__}); "
                "the run store must be writable to keep analyses"
            ) from e

    def load_analysis(self, run_id: str, name: str) -> dict[str, Any] | None:
        """A saved analysis, or None when there is none; DamagedAnalysis naming the file when it is
        damaged (the caller recomputes it, which replaces the file)."""
        self._dir(name)
        path = self._existing_dir(run_id) / ANALYSIS_DIR / f"{name}.json"
        if not path.exists():
            return None
        try:
            data = _read_json(path)
        except RunStoreError as e:
            raise DamagedAnalysis(f"run {run_id!r}: {ANALYSIS_DIR}/{e}") from e
        if not isinstance(data, dict):
            raise DamagedAnalysis(f"run {run_id!r}: {ANALYSIS_DIR}/{name}.json does not hold a JSON object")
        return data

    def snapshot_steps(self, run_id: str) -> list[int]:
        """Steps of the weight snapshots kept during training, ascending (empty for older runs)."""
        folder = self._existing_dir(run_id) / SNAPSHOTS_DIR
        steps = [int(p.stem[5:]) for p in folder.glob("step-*.pt") if p.stem[5:].isdigit()] if folder.is_dir() else []
        return sorted(steps)

    # -- reading -----------------------------------------------------------------------------

    def _read_info(self, path: Path) -> RunInfo:
        """Build a RunInfo from a folder, raising RunStoreError with the reason it is damaged."""
        config = _read_json(path / CONFIG_FILE)
        if not isinstance(config, dict):
            raise RunStoreError(f"{CONFIG_FILE} does not hold a JSON object")
        version = config.get("version", FORMAT_VERSION)
        if isinstance(version, bool) or not isinstance(version, int) or version > FORMAT_VERSION:
            raise RunStoreError(f"{CONFIG_FILE} has format version {version!r}; this app reads up to {FORMAT_VERSION}")
        configs: dict[str, Any] = {}
        for key, cls in (("model", ModelConfig), ("data", DataConfig), ("train", TrainConfig)):
            section = config.get(key)
            if not isinstance(section, dict):
                raise RunStoreError(f"{CONFIG_FILE} has no {key!r} section")
            try:
                configs[key] = from_dict(cls, section)
            except (ConfigError, TypeError) as e:
                raise RunStoreError(f"{CONFIG_FILE} holds an invalid {key} config: {e}") from e
        group, created = config.get("group"), config.get("created")
        if group is not None and not isinstance(group, str):
            raise RunStoreError(f"{CONFIG_FILE} has a non-text group {group!r}")
        if not isinstance(created, str):
            raise RunStoreError(f"{CONFIG_FILE} has no creation time")
        label = config.get("label")
        if not isinstance(label, str) or not label:
            label = configs["model"].name
        _check_buildable(configs["model"])

        status = _read_json(path / STATUS_FILE)
        if not isinstance(status, dict):
            raise RunStoreError(f"{STATUS_FILE} does not hold a JSON object")
        state, step, message = status.get("status"), status.get("step", 0), status.get("message")
        if state not in STATUSES:
            raise RunStoreError(f"{STATUS_FILE} has no known status (one of {', '.join(STATUSES)})")
        # 2**53: the run table shows the step through a float64 column
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < 2**53:
            raise RunStoreError(f"{STATUS_FILE} has a step that is not a whole number from 0 to 2**53")
        if message is not None and not isinstance(message, str):
            message = str(message)[:200]
        _check_status_extra(status)
        shown = INTERRUPTED if _is_interrupted(status) else state

        for name, check in ((METRICS_FILE, _check_metrics), (WEIGHTS_FILE, _check_weights)):
            error = _check_cached(path / name, check)
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
            return [], [Damaged("", f"its folder cannot be read ({e.strerror or type(e).__name__})")]
        for path in folders:
            try:
                if not _RUN_ID_RE.fullmatch(path.name):
                    raise RunStoreError("its name is not a valid run id")
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
        path = self._existing_dir(run_id)
        try:
            return self._read_info(path)
        except RunStoreError as e:
            raise RunStoreError(f"run {run_id!r} is damaged: {e}") from e

    def load_history(self, run_id: str) -> History | None:
        """The run's metrics as a checked :class:`resnet_viz.train.History`; None when it has not
        saved any yet (a run still training, or one that failed before its first metrics)."""
        metrics = self.load_metrics(run_id)
        if not metrics:
            return None
        try:
            return _history(metrics)
        except RunStoreError as e:
            raise RunStoreError(f"run {run_id!r}: {e}") from e

    def load_metrics(self, run_id: str) -> dict[str, Any]:
        """The stored metrics dict, unchecked beyond being an object (metrics_csv reads partial
        files too); ``{}`` when the run has not saved any yet."""
        path = self._existing_dir(run_id) / METRICS_FILE
        if not path.exists():
            return {}
        try:
            metrics = _read_json(path)
        except RunStoreError as e:
            raise RunStoreError(f"run {run_id!r}: {e}") from e
        if not isinstance(metrics, dict):
            raise RunStoreError(f"run {run_id!r}: {METRICS_FILE} does not hold a JSON object")
        return metrics

    def load_state_dict(self, run_id: str, *, step: int | None = None) -> dict[str, torch.Tensor]:
        """The final weights, or with `step` the snapshot taken after that step."""
        path = self._existing_dir(run_id) / WEIGHTS_FILE
        if step is not None:
            path = path.parent / SNAPSHOTS_DIR / f"step-{int(step):07d}.pt"
            if not path.is_file():
                raise RunStoreError(f"run {run_id!r} has no weight snapshot at step {step}")
        if not path.is_file():
            raise RunStoreError(f"run {run_id!r} has no saved weights (still training, or it failed early)")
        try:
            # weights_only: a weights file from a shared/downloaded runs folder must not be able
            # to run code when unpickled.
            state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as e:  # torch's text is a page of advice on allow-listing globals
            raise RunStoreError(
                f"run {run_id!r}: {path.name} cannot be loaded: it holds Python objects besides tensors, which are "
                "refused because unpickling them could run code"
            ) from e
        except Exception as e:  # torch raises RuntimeError, EOFError, OSError... for damaged files
            first = str(e).replace(str(path), path.name).splitlines()[0][:200] if str(e) else ""
            raise RunStoreError(f"run {run_id!r}: {path.name} cannot be loaded ({type(e).__name__}: {first})") from e
        if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
        ):
            raise RunStoreError(f"run {run_id!r}: {path.name} does not hold a state dict of tensors")
        return state

    def load_model(self, run_id: str, *, step: int | None = None) -> torch.nn.Module:
        """Rebuild the run's model on the CPU with its saved weights (or the snapshot after
        `step`), in eval mode."""
        from resnet_viz.models import (
            build_model,  # deferred: models is heavier and not needed to list runs
        )

        info = self.get(run_id)  # its config passed _check_buildable; the file may change after, so again:
        try:
            _check_buildable(info.model)
        except RunStoreError as e:
            raise RunStoreError(f"run {run_id!r}: {e}") from e
        state = self.load_state_dict(run_id, step=step)
        try:
            model = build_model(info.model)
        except (ValueError, RuntimeError) as e:  # ConfigError is a ValueError
            raise RunStoreError(f"run {run_id!r}: its model config cannot be built ({e})") from e
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as e:  # missing/unexpected keys or shape mismatch
            first = str(e).splitlines()[0][:200]  # torch lists every mismatched key: the first line says what
            raise RunStoreError(f"run {run_id!r}: weights do not fit its model config ({first})") from e
        return model.eval()

    # -- exporting ---------------------------------------------------------------------------

    def metrics_csv(self, run_id: str) -> str:
        """One row per logged step: step,loss,acc,lr,test_loss,test_acc (empty where unknown).

        Evaluation steps that were not logged steps get a row of their own, so no test result
        is dropped.
        """
        metrics = self.load_metrics(run_id)

        def column(key: str) -> list[Any]:
            values = metrics.get(key)
            return values if isinstance(values, list) else []

        steps, loss, acc, lr = column("step"), column("loss"), column("acc"), column("lr")
        evals: dict[Any, dict[str, Any]] = {}
        for entry in column("eval"):
            if isinstance(entry, dict) and checks.plain_number(entry.get("step")):
                evals[entry["step"]] = entry  # a repeated step keeps the last evaluation

        def at(values: list[Any], i: int) -> Any:
            return values[i] if i < len(values) else None

        # Only numbers key a step: a damaged file's list or object in "step" must not raise TypeError.
        steps = [s if checks.plain_number(s) else None for s in steps]
        rows = [[s, at(loss, i), at(acc, i), at(lr, i)] for i, s in enumerate(steps)]
        logged = set(steps)
        rows += [[s, None, None, None] for s in evals if s not in logged]
        if len(rows) > len(steps):  # only re-sort when eval-only rows were appended
            rows.sort(key=lambda r: r[0] if isinstance(r[0], (int, float)) else math.inf)

        def cell(v: Any) -> str:
            if v is None or (isinstance(v, float) and not math.isfinite(v)):
                return ""
            return str(v)[:100]  # a damaged cell may hold a whole JSON document

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for step, *train_cols in rows:
            ev = evals.get(step, {})
            writer.writerow([cell(v) for v in (step, *train_cols, ev.get("test_loss"), ev.get("test_acc"))])
        return buf.getvalue()


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
]
