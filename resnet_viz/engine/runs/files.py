"""The run store's files: the folder layout, atomic writes, and the schema checks every file
passes where it is read (a damaged file becomes a :class:`RunStoreError` naming it, never a
traceback on a page).

Every write goes to a hidden temp file in the same folder and is then ``os.replace``d over the
target, so a server killed mid-write leaves the previous version intact (a rename within one
filesystem is atomic).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import socket
import threading
import zipfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from resnet_viz.engine import checks
from resnet_viz.engine.config import ConfigError, ModelConfig
from resnet_viz.engine.history import History
from resnet_viz.i18n import _, language

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
RUN_ID_RE = re.compile(r"[A-Za-z0-9._-]+")

# Distinguishes this process from an earlier one that had the same pid (containers restart the
# server under the same small pid), so a run left "running" by a killed server is not mistaken
# for one of ours.
PROCESS_TOKEN = secrets.token_hex(8)
HOST = socket.gethostname()


class RunStoreError(RuntimeError):
    """A run cannot be found, addressed or read; the message names the run and the reason."""


class DamagedAnalysis(RunStoreError):
    """A saved analysis file of a readable run is damaged; computing it again replaces it."""


# ---------------------------------------------------------------------------------------------
# Low-level helpers
# ---------------------------------------------------------------------------------------------


def utcnow() -> datetime:
    # One seam for the clock, so tests can order runs without sleeping.
    return datetime.now(timezone.utc)


def fsync_dir(path: Path) -> None:
    # Makes the rename itself durable across a power cut; not possible (or needed) on Windows.
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
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
    fsync_dir(path.parent)


def jsonable(obj: Any) -> Any:
    """Plain-JSON copy of ``obj``: NaN/inf become null (strict JSON has no NaN), numpy/torch
    scalars and arrays become Python numbers and lists."""
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):  # numpy arrays/scalars, torch tensors
        return jsonable(obj.tolist())
    raise TypeError(f"cannot store a {type(obj).__name__} in JSON: {obj!r}")


def write_json(path: Path, obj: Any, *, indent: int | None = 2) -> None:
    # Serialise before touching the disk: an unserialisable value then leaves no temp file at all.
    separators = (",", ": ") if indent else (",", ":")
    data = json.dumps(jsonable(obj), indent=indent, separators=separators, allow_nan=False).encode()
    atomic_write(path, lambda f: f.write(data))


def read_json(path: Path) -> Any:
    """Parse a JSON file; raise RunStoreError saying what is wrong with it."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise RunStoreError(_("{file} is missing").format(file=path.name)) from None
    except OSError as e:  # e.strerror, not str(e): that holds the server's absolute path
        raise RunStoreError(cannot_be_read(path.name, e)) from e
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:  # JSONDecodeError, bad UTF-8, an int over 4300 digits, deep nesting
        raise RunStoreError(_("{file} is not valid JSON ({reason})").format(file=path.name, reason=str(e)[:200])) from e


def cannot_be_read(name: str, e: OSError) -> str:
    """E.g. "weights.pt cannot be read (Permission denied)": the OS's reason, never the server's path."""
    return _("{file} cannot be read ({reason})").format(file=name, reason=e.strerror or type(e).__name__)


def pid_alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # os.kill(pid, 0) on Windows would *terminate* the process; assume alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: the pid exists but belongs to someone else
        return True
    return True


def is_interrupted(status: dict[str, Any]) -> bool:
    """A "running" status whose writer process is known to be gone."""
    pid = status.get("pid")
    if status.get("status") != "running" or not isinstance(pid, int) or isinstance(pid, bool):
        return False
    if status.get("host") not in (None, HOST):
        return False  # written on another machine sharing the folder: cannot tell, keep as written
    if pid == os.getpid():
        token = status.get("process")
        return token is not None and token != PROCESS_TOKEN
    return not pid_alive(pid)


# Validating metrics.json (parse) and weights.pt (zip directory) on every list() would re-read
# megabytes per page rerun; files are only ever replaced, never edited in place, so a file whose
# (mtime, size, inode) is unchanged keeps its verdict. Keyed by language too: the verdict is a
# sentence, and one learner's language must not reach another.
_CHECKED: dict[tuple[Path, str], tuple[tuple[int, int, int], str | None]] = {}
_CHECKED_LOCK = threading.Lock()


def check_cached(path: Path, check: Callable[[Path], None]) -> str | None:
    """Run ``check`` on an existing file unless its verdict is cached; return the error or None."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None  # absent is not damaged: a running run has no weights yet
    key = (st.st_mtime_ns, st.st_size, st.st_ino)
    where = (path, language())
    with _CHECKED_LOCK:
        hit = _CHECKED.get(where)
    if hit is not None and hit[0] == key:
        return hit[1]
    try:
        check(path)
        error = None
    except RunStoreError as e:
        error = str(e)
    with _CHECKED_LOCK:
        _CHECKED[where] = (key, error)
    return error


def history_of(metrics: Any) -> History:
    """The History a metrics dict describes, or RunStoreError saying what does not fit its schema."""

    if not isinstance(metrics, dict):
        raise RunStoreError(_("{file} does not hold a JSON object").format(file=METRICS_FILE))
    try:
        return History.from_dict(metrics)
    except ValueError as e:
        raise RunStoreError(
            _("{file} does not hold a model's metrics: {problem}").format(file=METRICS_FILE, problem=e)
        ) from e


def check_metrics(path: Path) -> None:
    history_of(read_json(path))


def check_weights(path: Path) -> None:
    # torch.save writes a zip archive whose directory sits at the end: a truncated or
    # half-copied file fails here without reading the tensors themselves.
    try:
        with zipfile.ZipFile(path) as zf:
            zf.namelist()
    except zipfile.BadZipFile as e:
        raise RunStoreError(_("{file} is damaged or truncated ({reason})").format(file=path.name, reason=e)) from e
    except OSError as e:
        raise RunStoreError(cannot_be_read(path.name, e)) from e


def check_status_extra(status: dict[str, Any]) -> None:
    """The free fields of status.json that readers use: a summary of numbers and words, seconds."""
    summary = status.get("summary")
    if summary is not None:
        if not isinstance(summary, dict):
            raise RunStoreError(_("{file} has a summary that is not a JSON object").format(file=STATUS_FILE))
        for key, v in summary.items():
            if not (v is None or isinstance(v, str) or checks.plain_number(v)):
                raise RunStoreError(
                    _("{file} has a summary {key} that is neither a number nor text").format(
                        file=STATUS_FILE, key=repr(key)
                    )
                )
    seconds, pid = status.get("seconds"), status.get("pid")
    if seconds is not None and not checks.plain_number(seconds):
        raise RunStoreError(_("{file} has a seconds that is not a number").format(file=STATUS_FILE))
    # os.kill(pid, 0) asks about the pid: beyond a C int it raises OverflowError, and 0 or a
    # negative pid would ask about a whole process group instead.
    if pid is not None and (isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid < 2**31):
        raise RunStoreError(_("{file} has a pid that is not a process id").format(file=STATUS_FILE))
    for key in ("updated", "host", "process"):
        if key in status and status[key] is not None and not isinstance(status[key], str):
            raise RunStoreError(_("{file} has a {key} that is not text").format(file=STATUS_FILE, key=key))


def check_buildable(model: ModelConfig) -> None:
    """Refuse a stored model too large to build here before anything is allocated: width 100000
    asked for 360 GB and depth 20000 spent 11-14 s building in the page thread before failing."""
    from resnet_viz.engine.limits import check_model

    try:
        check_model(model)
    except ConfigError as e:
        raise RunStoreError(
            _("{file} describes a model too large to build: {problem}").format(file=CONFIG_FILE, problem=e)
        ) from e
