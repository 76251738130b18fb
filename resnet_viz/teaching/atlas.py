"""The reference atlas: results the lab computed with its own code, shipped read-only with the
package, so that a page on an empty run store shows a measured result in its first seconds.

`resnet-viz atlas` (resnet_viz.cli.commands.cmd_atlas) builds it with the app's own code path:
the degradation explorer's default settings on each offline dataset, at the depths and seeds
below, trained by resnet_viz.degradation.sweep.run_sweep into a run store in `ATLAS_DIR` (one
folder per run, as any run store; the weights are dropped, since a sweep cell is read for its
curves and final numbers only), and `manifest.json`, which says how it was made. The build is
resumable: run_sweep reuses every cell already in the atlas's store.

Pages read it through :func:`reference_cells` for the cells the learner's own store lacks, found
by configuration exactly as the learner's own cells are; nothing here writes except
:func:`build`, which only the CLI calls. A stale atlas (its settings hash is no longer the
code's) is still true for the settings it was computed with, so its cells are still found by
their configuration; tests/test_atlas.py fails on it and names the command that rebuilds it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..degradation.sweep import KINDS, Job, SweepConfig, SweepResult, collect, run_sweep
from ..engine.history import Update
from ..engine.runs import RunStore
from ..engine.runs.files import FORMAT_VERSION
from ..i18n import _
from .settings import sweep_defaults

ATLAS_DIR = Path(__file__).resolve().parent / "atlas"  # the shipped one
ATLAS_ENV = "RESNET_VIZ_ATLAS"  # another atlas folder (a teacher's own build, a test's)
MANIFEST_FILE = "manifest.json"
COMMAND = "resnet-viz atlas"
DATASETS: tuple[str, ...] = ("digits", "shapes")  # the offline datasets: always there to rebuild on
# He et al. 2016, Fig. 6 runs 20 to 110; 8 and 14 show where the curves start. 110 on digits only:
# on shapes (32x32, width 8) it would double the build's hour-long share of the CPU.
DEPTHS: dict[str, tuple[int, ...]] = {"digits": (8, 14, 20, 32, 44, 56, 110), "shapes": (8, 14, 20, 32, 44, 56)}
SEEDS: tuple[int, ...] = (0, 1, 2)  # three, so the explorer's spread per depth means something
_WEIGHT_FILES = ("weights.pt", "snapshots")  # not read by any page for a sweep cell: not shipped


def atlas_dir() -> Path:
    """Where the pages read the atlas: $RESNET_VIZ_ATLAS, else the one shipped with the package."""
    return Path(os.environ.get(ATLAS_ENV) or ATLAS_DIR).expanduser()


class AtlasError(ValueError):
    """A manifest that cannot be read or does not say what it must; the message says which."""


def sweeps() -> dict[str, SweepConfig]:
    """Per dataset, the sweep the atlas holds: the explorer's defaults there, at its DEPTHS and
    SEEDS, both kinds. A learner's sweep with the default settings is a subset of it, cell for cell."""
    return {
        name: dataclasses.replace(sweep_defaults(name).sweep_config(), depths=DEPTHS[name], seeds=SEEDS, kinds=KINDS)
        for name in DATASETS
    }


def settings_hash() -> str:
    """A hash of everything that decides what the atlas holds (the sweeps' settings and the run
    store's format): a code change that changes the explorer's defaults changes it."""
    blob = {"format": FORMAT_VERSION, "sweeps": {k: dataclasses.asdict(v) for k, v in sweeps().items()}}
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Manifest:
    """How the shipped atlas was made: enough to redo it and to see when it went stale."""

    command: str  # what rebuilds it
    code_version: str  # the git commit it was built at, else the package version
    torch: str
    device: dict[str, Any]  # resnet_viz.engine.devices.DeviceLabel's fields (said in the page's language)
    cells: dict[str, int]  # per dataset, the cells in the atlas (of len(sweeps()[name].cells()))
    seeds: tuple[int, ...]
    date: str  # ISO 8601, UTC, when the build ended
    settings_hash: str
    runs: int
    size_bytes: int
    seconds: float  # the build's wall time, summed over the runs of the command that resumed it

    @property
    def stale(self) -> bool:
        return self.settings_hash != settings_hash()

    def device_text(self) -> str:
        """The device in the learner's language ("CPU, 2 threads (torch 2.14.1)")."""
        from ..engine.devices import DeviceLabel

        try:
            return DeviceLabel(**self.device).text()
        except TypeError:  # a field this version does not know: still say something true
            return str(self.device.get("kind", "?"))

    def day(self) -> str:
        return self.date[:10]


_FIELDS = {f.name: f.type for f in dataclasses.fields(Manifest)}


def read_manifest(root: str | Path | None = None) -> Manifest | None:
    """The atlas's manifest; None when there is no atlas at `root`. AtlasError when the file is
    there but damaged (not JSON, a field missing or of the wrong kind)."""
    path = Path(root or atlas_dir()) / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AtlasError(_("the atlas's manifest cannot be read ({reason})").format(reason=exc)) from None
    if not isinstance(raw, dict) or set(_FIELDS) - set(raw):
        missing = sorted(set(_FIELDS) - set(raw)) if isinstance(raw, dict) else sorted(_FIELDS)
        raise AtlasError(_("the atlas's manifest lacks {fields}").format(fields=", ".join(missing)))
    try:
        m = Manifest(
            command=str(raw["command"]),
            code_version=str(raw["code_version"]),
            torch=str(raw["torch"]),
            device=dict(raw["device"]),
            cells={str(k): int(v) for k, v in dict(raw["cells"]).items()},
            seeds=tuple(int(s) for s in raw["seeds"]),
            date=str(raw["date"]),
            settings_hash=str(raw["settings_hash"]),
            runs=int(raw["runs"]),
            size_bytes=int(raw["size_bytes"]),
            seconds=float(raw["seconds"]),
        )
    except (TypeError, ValueError) as exc:
        raise AtlasError(
            _("the atlas's manifest has a field of the wrong kind ({reason})").format(reason=exc)
        ) from None
    if not math.isfinite(m.seconds) or m.runs < 0 or m.size_bytes < 0:
        raise AtlasError(_("the atlas's manifest has a negative or non-finite count"))
    return m


def reference_cells(
    sweep: SweepConfig, have: Iterable[tuple[int, str, int]], root: str | Path | None = None
) -> list[SweepResult]:
    """The cells of `sweep` the atlas holds, except those in `have` (the learner's own, which
    replace the reference as they arrive), each marked `reference`. Empty without an atlas."""
    root = root or atlas_dir()
    if read_manifest(root) is None:
        return []
    own = set(have)
    return [
        dataclasses.replace(cell, reference=True)
        for cell in collect(sweep, RunStore(root))
        if (cell.depth, cell.kind, cell.seed) not in own
    ]


# -- building (the CLI only) -----------------------------------------------------------------------


def _code_version() -> str:
    """The git commit of the checkout the atlas is built from (with "+changes" when its tree
    differs from that commit), else the package version."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(  # the library's code, not the atlas being written
            ["git", "status", "--porcelain", "--", ".", f":(exclude){ATLAS_DIR.relative_to(here.parent)}"],
            cwd=here.parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{commit}+changes" if dirty else commit


def _strip_weights(store: RunStore) -> None:
    for info in store.list():
        folder = store.run_dir(info.run_id)
        for name in _WEIGHT_FILES:
            path = folder / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()


def size_bytes(root: str | Path) -> int:
    """The bytes of the atlas's runs (the manifest, which says this number, left out)."""
    return sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file() and p.name != MANIFEST_FILE)


def build(
    root: str | Path | None = None,
    *,
    datasets: Iterable[str] = DATASETS,
    force: bool = False,
    on_sweep: Callable[[str, SweepConfig], None] | None = None,
    on_job: Callable[[int, int, Job, int], None] | None = None,
    on_update: Callable[[Update], None] | None = None,
) -> Manifest:
    """Train every missing cell of the atlas's sweeps into the store at `root` (all of them with
    `force`), drop their weights, and write the manifest. Returns the manifest written."""
    import torch

    from ..engine.devices import device_label, select_device

    chosen = tuple(datasets)
    unknown = sorted(set(chosen) - set(DATASETS))
    if unknown:
        raise AtlasError(
            _("the atlas holds {known}, not {unknown}").format(known=", ".join(DATASETS), unknown=", ".join(unknown))
        )
    root = Path(root or atlas_dir())
    if force and root.exists():
        shutil.rmtree(root)
    store = RunStore(root)
    start, code = time.perf_counter(), _code_version()  # the code the runs are computed with
    try:  # a resumed build adds the time its earlier parts took
        before = read_manifest(root)
    except AtlasError:
        before = None
    earlier = before.seconds if before is not None and not before.stale else 0.0
    plan = sweeps()
    for name in chosen:
        if on_sweep is not None:
            on_sweep(name, plan[name])
        run_sweep(plan[name], store, on_job=on_job, on_update=on_update)
        _strip_weights(store)  # after each sweep: an interrupted build leaves a small atlas too
    runs = len(store.list())
    manifest = Manifest(
        command=COMMAND,
        code_version=code,
        torch=device_label("cpu").version,
        device=dataclasses.asdict(device_label(select_device("auto"), threads=torch.get_num_threads())),
        cells={name: len(collect(plan[name], store)) for name in DATASETS},
        seeds=SEEDS,
        date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        settings_hash=settings_hash(),
        runs=runs,
        size_bytes=size_bytes(root),
        seconds=round(earlier + time.perf_counter() - start, 1),
    )
    path, tmp = root / MANIFEST_FILE, root / (MANIFEST_FILE + ".tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(manifest), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # a reader sees the old manifest or the new one, never half of it
    return manifest
