"""The reference atlas: results the lab computed with its own code, shipped read-only with the
package, so that a page on an empty run store shows a measured result in its first seconds.

`resnet-viz atlas` (resnet_viz.cli.commands.cmd_atlas) builds it with the app's own code paths,
into two run stores under `ATLAS_DIR`, and `manifest.json`, which says how it was made:

- `sweep/`: the degradation explorer's default settings on each offline dataset, at the depths
  and seeds below, trained by resnet_viz.degradation.sweep.run_sweep (the weights are dropped:
  a sweep cell is read for its curves and final numbers only);
- `pair/`: the saliency page's shapes pair (plain-32 and residual-32, the recipe its Train
  button queues), trained by resnet_viz.engine.experiment.run_twins with its weight snapshots,
  which the saliency and analysis pages both work on; its weights are kept in float16 (half the
  bytes; a ResNet-32's maps and losses do not move at that precision), and the analysis page's
  default lesion study, loss slice and near-identity measurement are computed from those halved
  weights by resnet_viz.analysis.saved and kept beside them;
- `live/`: Train & compare's default twins (plain-56 and residual-56 on digits), trained by run_twins
  as the app's worker trains them, metrics and probes only.

The build is resumable: run_sweep reuses every cell already in the sweep store, and a finished
pair of the same settings is kept. Pages read the sweep through :func:`reference_cells` for the
cells the learner's own store lacks, found by configuration exactly as the learner's own cells
are, and the twins through :func:`pair_store` and :func:`live_store`; nothing here writes except :func:`build`, which
only the CLI calls. A stale atlas (its settings hash is no longer the
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
from ..degradation.sweep import DEMO, KINDS, Job, SweepConfig, SweepResult, collect, run_sweep
from ..engine.history import Update
from ..engine.runs import RunStore
from ..engine.runs.files import FORMAT_VERSION
from ..i18n import _
from .settings import TwinSettings, sweep_defaults, twin_defaults

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
SWEEP_DIR, PAIR_DIR, LIVE_DIR = "sweep", "pair", "live"  # the run stores in an atlas folder
# Home's one-click demo at every seed its box offers: trained into the sweep store beside the sweeps.
DEMO_SWEEP: SweepConfig = dataclasses.replace(DEMO, seeds=(0, 1, 2, 3, 4))
# The pair the saliency page offers to train (resnet_viz.ui.saliency.PAIR is this same recipe).
PAIR: TwinSettings = twin_defaults("shapes")
# The twins Train & compare opens on (its defaults: plain-56 and residual-56 on digits), metrics only.
LIVE: TwinSettings = twin_defaults("digits")


def atlas_dir() -> Path:
    """Where the pages read the atlas: $RESNET_VIZ_ATLAS, else the one shipped with the package."""
    return Path(os.environ.get(ATLAS_ENV) or ATLAS_DIR).expanduser()


def sweep_store(root: str | Path | None = None) -> RunStore:
    return RunStore(Path(root or atlas_dir()) / SWEEP_DIR)


def pair_store(root: str | Path | None = None) -> RunStore:
    return RunStore(Path(root or atlas_dir()) / PAIR_DIR)


def live_store(root: str | Path | None = None) -> RunStore:
    return RunStore(Path(root or atlas_dir()) / LIVE_DIR)


class AtlasError(ValueError):
    """A manifest that cannot be read or does not say what it must; the message says which."""


def sweeps() -> dict[str, SweepConfig]:
    """Per dataset, the sweep the atlas holds: the explorer's defaults there, at its DEPTHS and
    SEEDS, both kinds. A learner's sweep with the default settings is a subset of it, cell for cell."""
    return {
        name: dataclasses.replace(sweep_defaults(name).sweep_config(), depths=DEPTHS[name], seeds=SEEDS, kinds=KINDS)
        for name in DATASETS
    }


def parts() -> dict[str, SweepConfig]:
    """Every sweep the sweep store holds, by the name the manifest counts its cells under."""
    return {**sweeps(), "demo": DEMO_SWEEP}


def settings_hash() -> str:
    """A hash of everything that decides what the atlas holds (the sweeps' settings and the run
    store's format): a code change that changes the explorer's defaults changes it."""
    blob = {
        "format": FORMAT_VERSION,
        "sweeps": {k: dataclasses.asdict(v) for k, v in parts().items()},
        "pair": dataclasses.asdict(PAIR),
        "live": dataclasses.asdict(LIVE),
        "analyses": pair_analyses(),
    }
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Manifest:
    """How the shipped atlas was made: enough to redo it and to see when it went stale."""

    command: str  # what rebuilds it
    code_version: str  # the git commit it was built at, else the package version
    torch: str
    device: dict[str, Any]  # resnet_viz.engine.devices.DeviceLabel's fields (said in the page's language)
    cells: dict[
        str, int
    ]  # per part (each dataset's sweep, the demo), its cells in the atlas (of len(parts()[name].cells()))
    pair: tuple[str, ...]  # the pair's run labels ("plain-32", "residual-32"); empty when not built
    live: tuple[str, ...]  # Train & compare's twins ("plain-56", "residual-56"); empty when not built
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
            pair=tuple(str(label) for label in raw["pair"]),
            live=tuple(str(label) for label in raw["live"]),
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
        for cell in collect(sweep, sweep_store(root))
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


def pair_analyses() -> dict[str, str]:
    """The saved analyses the atlas keeps for each run of its pair (kind -> name): the analysis
    page's defaults, so that its charts are there the moment a prediction is committed."""
    from ..analysis import saved

    return {
        "lesion": saved.lesion_name(saved.DEFAULT_DRAWS, 0),
        "landscape": saved.landscape_name(saved.DEFAULT_DIMS, saved.DEFAULT_GRID, saved.DEFAULT_SPAN, 0, "test"),
        "near-identity": saved.near_identity_name(saved.NEAR_IDENTITY_IMAGES),
    }


def _halve(store: RunStore, run_id: str) -> None:
    """The run's weights and snapshots in float16, in place (integers, e.g. BatchNorm's step count,
    as they are). Loading casts them back: load_state_dict copies into the float32 parameters."""
    import torch

    folder = store.run_dir(run_id)
    for path in [folder / _WEIGHT_FILES[0], *sorted((folder / _WEIGHT_FILES[1]).glob("*.pt"))]:
        state = torch.load(path, map_location="cpu", weights_only=True)
        half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        torch.save(half, path)


def _twin_runs(store: RunStore, settings: TwinSettings, *, weights: bool = True) -> list[Any]:
    """The store's finished runs when they are the twins of `settings`, plain first; else []."""
    infos = [i for i in store.list() if i.status == "finished" and (i.has_weights or not weights)]
    names = sorted(c.name for c in settings.model_configs())
    if len(infos) != len(names) or sorted(i.model.name for i in infos) != names:
        return []
    if any(i.data != settings.data_config() or i.train != settings.train_config() for i in infos):
        return []
    return sorted(infos, key=lambda i: i.model.residual)


def _pair_runs(store: RunStore) -> list[Any]:
    """The pair store's finished runs when they are the pair of PAIR's settings, else []."""
    return _twin_runs(store, PAIR)


def _train_twins(
    store: RunStore,
    settings: TwinSettings,
    group: str,
    on_job: Callable[[int, int, Job, int], None] | None,
    on_update: Callable[[Update], None] | None,
) -> None:
    """`settings`' twins into an emptied `store`, as the app's worker trains them (run_twins)."""
    from ..engine.experiment import run_twins

    if store.root.exists():  # twins of other settings, or cut short: trained again
        shutil.rmtree(store.root)
    models, train = tuple(settings.model_configs()), settings.train_config()
    if on_job is not None:
        on_job(0, 1, Job(settings.seed, models, settings.data_config(), train), train.steps)
    run_twins(list(models), settings.data_config(), train, store=store, on_update=on_update, group=group)


def _build_live(
    root: Path, on_job: Callable[[int, int, Job, int], None] | None, on_update: Callable[[Update], None] | None
) -> tuple[str, ...]:
    """Train & compare's default twins into `root`/live unless they are there, weights dropped (the
    page reads their curves and probes only). Returns their labels."""
    store = live_store(root)
    if not _twin_runs(store, LIVE, weights=False):
        _train_twins(store, LIVE, "atlas-live", on_job, on_update)
        _strip_weights(store)
    infos = _twin_runs(store, LIVE, weights=False)
    if not infos:
        raise AtlasError(_("the reference twins did not finish training; run the command again"))
    return tuple(i.label for i in infos)


def _build_pair(
    root: Path, on_job: Callable[[int, int, Job, int], None] | None, on_update: Callable[[Update], None] | None
) -> tuple[str, ...]:
    """Train the pair into `root`/pair unless it is there, halve its weights, and compute the analysis
    page's default analyses of each run (those already saved are reused). Returns its labels."""
    from ..analysis import saved

    store = pair_store(root)
    infos = _pair_runs(store)
    if not infos:
        _train_twins(store, PAIR, "atlas-pair", on_job, on_update)
        infos = _pair_runs(store)
        if not infos:
            raise AtlasError(_("the reference pair did not finish training; run the command again"))
        for info in infos:
            _halve(store, info.run_id)
    for info in infos:  # from the halved weights: what the pages load is what was measured
        saved.run_lesion(store, info.run_id)
        saved.run_landscape(store, info.run_id)
        saved.run_near_identity(store, info.run_id)
    return tuple(i.label for i in infos)


def _earlier_seconds(root: Path) -> float:
    """The seconds the atlas's earlier commands took, from the manifest they wrote (read leniently:
    a manifest of an older layout still says how long its runs took); 0 when there is none."""
    try:
        raw = json.loads((root / MANIFEST_FILE).read_text(encoding="utf-8"))
        seconds = float(raw["seconds"])
    except (OSError, ValueError, TypeError, KeyError):
        return 0.0
    return seconds if math.isfinite(seconds) and seconds >= 0 else 0.0


def build(
    root: str | Path | None = None,
    *,
    datasets: Iterable[str] = DATASETS,
    pair: bool = True,
    demo: bool = True,
    live: bool = True,
    force: bool = False,
    on_sweep: Callable[[str, SweepConfig], None] | None = None,
    on_job: Callable[[int, int, Job, int], None] | None = None,
    on_update: Callable[[Update], None] | None = None,
) -> Manifest:
    """Train every missing cell of the atlas's sweeps into the sweep store at `root` (all of them
    with `force`) and drop their weights, and with `demo` Home's demo at its five seeds; with `pair`,
    train the reference pair and its analyses; with `live`, Train & compare's default twins;
    write the manifest. Returns the manifest written."""
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
    store = sweep_store(root)
    start, code = time.perf_counter(), _code_version()  # the code the runs are computed with
    earlier = _earlier_seconds(root)  # a resumed build adds the time its earlier parts took
    plan = sweeps()
    for name in chosen:
        if on_sweep is not None:
            on_sweep(name, plan[name])
        run_sweep(plan[name], store, on_job=on_job, on_update=on_update)
        _strip_weights(store)  # after each sweep: an interrupted build leaves a small atlas too
    if demo:
        if on_sweep is not None:
            on_sweep("demo", DEMO_SWEEP)
        run_sweep(DEMO_SWEEP, store, on_job=on_job, on_update=on_update)
        _strip_weights(store)
    labels = _build_pair(root, on_job, on_update) if pair else tuple(i.label for i in _pair_runs(pair_store(root)))
    live_labels = (
        _build_live(root, on_job, on_update)
        if live
        else tuple(i.label for i in _twin_runs(live_store(root), LIVE, weights=False))
    )
    manifest = Manifest(
        command=COMMAND,
        code_version=code,
        torch=device_label("cpu").version,
        device=dataclasses.asdict(device_label(select_device("auto"), threads=torch.get_num_threads())),
        cells={name: len(collect(sweep, store)) for name, sweep in parts().items()},
        pair=labels,
        live=live_labels,
        seeds=SEEDS,
        date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        settings_hash=settings_hash(),
        runs=len(store.list()) + len(pair_store(root).list()) + len(live_store(root).list()),
        size_bytes=size_bytes(root),
        seconds=round(earlier + time.perf_counter() - start, 1),
    )
    path, tmp = root / MANIFEST_FILE, root / (MANIFEST_FILE + ".tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(manifest), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # a reader sees the old manifest or the new one, never half of it
    return manifest
