"""One function per subcommand: arguments in, the library's call, a table or JSON out."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from .output import ProgressBar, diverged_line, format_table, json_safe, layer_rows
from .parser import CliError, TrainingFailed, configs_from_args, model_configs


def _check_steps(train_cfg: Any, n_train: int) -> None:
    """An epoch budget becomes a step count only once the dataset's size is known."""
    from resnet_viz.engine.config import check_total_steps
    from resnet_viz.engine.train import total_steps

    if train_cfg.epochs is not None:
        check_total_steps(total_steps(train_cfg, n_train), what=f"{train_cfg.epochs:g} epochs")


def _train_on_queue(address: str, jobs: list[Any], dataset: Any, store: Any, on_job: Any, on_update: Any) -> list[Any]:
    """`run_twins` for each of `jobs` ((models, data, train) triples) through a JobQueue on the Ray
    cluster at `address`: all queued at once, so a cluster trains them side by side; the server
    side of the queue (this process) writes the run store. Returns each job's ModelResults, in
    order; progress goes to `on_job(i, steps)` and `on_update(model, step, loss)` while they train."""

    from resnet_viz.engine.experiment import ModelResult, fit_to_data
    from resnet_viz.engine.models import build_model, count_params
    from resnet_viz.engine.runner import JobQueue
    from resnet_viz.engine.train import total_steps

    queue = JobQueue(ray_address=address, warm=False)
    if queue.executor_note:
        print(queue.executor_note, file=sys.stderr)
    try:
        runs = [
            queue.submit(models, data, train, owner="cli", store=store, bounded=False) for models, data, train in jobs
        ]
        out = []
        for i, (run, (models, _data, train)) in enumerate(zip(runs, jobs)):
            on_job(i, total_steps(train, dataset.n_train))
            while not run.wait(0.1):
                for h in run.snapshot().histories:
                    if h.step:
                        on_update(h.name, h.step[-1], h.loss[-1])
            snap = run.snapshot()
            if snap.state == "failed":
                raise TrainingFailed(f"training failed: {snap.error}")
            print(f"job {i + 1} trained on {snap.device}", file=sys.stderr)  # on a cluster: its node
            ids = list(snap.run_ids) or [None] * len(models)
            cfgs = [fit_to_data(c, dataset) for c in models]
            out.append(
                [ModelResult(c, count_params(build_model(c)), h, rid) for c, h, rid in zip(cfgs, snap.histories, ids)]
            )
        return out
    finally:
        queue.close()


def _sweep_on_queue(
    address: str, sweep: Any, store: Any, force: bool, dataset: Any, on_job: Any, on_update: Any
) -> list[Any]:
    """`run_sweep` with every job queued on the Ray cluster at once; the same cells come back."""
    from resnet_viz.degradation.sweep import SweepResult, collect, plan

    jobs = plan(sweep, store, force=force)
    per_job = _train_on_queue(
        address,
        [(j.models, j.data, j.train) for j in jobs],
        dataset,
        store,
        lambda i, steps: on_job(i, len(jobs), jobs[i], steps),
        on_update,
    )
    fresh = {(r.config.depth, r.config.kind, job.seed): r for job, rs in zip(jobs, per_job) for r in rs}
    out = {(c.depth, c.kind, c.seed): c for c in collect(sweep, store)} if store is not None and not force else {}
    for (depth, kind, seed), r in fresh.items():
        out[(depth, kind, seed)] = SweepResult(depth, kind, seed, r, reused=False)
    order = {cell: i for i, cell in enumerate(sweep.cells())}
    return sorted(out.values(), key=lambda c: order.get((c.depth, c.kind, c.seed), len(order)))


def _bar_update(bar: Any, name: str, step: int, loss: float) -> None:
    bar.step[name], bar.loss[name] = step, loss
    if time.perf_counter() - bar.last_draw > 0.1:  # as ProgressBar does for updates
        bar.last_draw = time.perf_counter()
        bar.draw()


def cmd_train(args: argparse.Namespace) -> int:
    from resnet_viz.engine.data import load_dataset
    from resnet_viz.engine.experiment import run_twins
    from resnet_viz.engine.runs import RunStore
    from resnet_viz.engine.train import total_steps

    model_cfgs, data_cfg, train_cfg = configs_from_args(args)
    data = load_dataset(data_cfg)
    _check_steps(train_cfg, data.n_train)
    store = RunStore(args.runs_dir) if args.save else None
    names = [c.name for c in model_cfgs]
    bar = None if args.json else ProgressBar(total_steps(train_cfg, data.n_train), names)
    try:
        if args.ray:
            (results,) = _train_on_queue(
                args.ray,
                [(model_cfgs, data_cfg, train_cfg)],
                data,
                store,
                lambda i, steps: None,
                lambda *u: bar and _bar_update(bar, *u),
            )
        else:
            results = run_twins(model_cfgs, data_cfg, train_cfg, store=store, dataset=data, on_update=bar)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    rows = [r.summary() for r in results]
    if args.json:
        print(json.dumps([{k: json_safe(v) for k, v in row.items()} for row in rows], indent=2))
    else:
        bar.draw(end="\n")  # type: ignore[union-attr]
        print(format_table(rows))
        for row in rows:
            if row["status"] == "diverged":
                print(diverged_line(row, row["name"]))
        if store is not None:
            print(f"runs written to {store.root}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from resnet_viz.degradation.sweep import SweepConfig, plan, run_sweep
    from resnet_viz.engine.data import load_dataset
    from resnet_viz.engine.runs import RunStore

    model_cfgs, data_cfg, train_cfg = configs_from_args(args)
    data = load_dataset(data_cfg)  # once: the step check, every job's progress bar and its training
    _check_steps(train_cfg, data.n_train)
    sweep = SweepConfig(
        depths=tuple(args.depths),
        kinds=tuple(args.models),
        seeds=tuple(args.seeds),
        model=model_cfgs[0],
        data=data_cfg,
        train=train_cfg,
        deep_warmup_steps=args.warmup_110,
    )
    store = RunStore(args.runs_dir) if args.save else None
    jobs = plan(sweep, store, force=args.force)
    n_cells = len(sweep.cells())
    n_new = sum(len(j.models) for j in jobs)
    if not args.json:
        print(
            f"{n_cells} runs: {n_cells - n_new} found in the run store, {n_new} to train in {len(jobs)} job(s)",
            file=sys.stderr,
        )
    state: dict[str, Any] = {}

    def on_job(i: int, n: int, job: Any, steps: int) -> None:
        if args.json:
            return
        if "bar" in state:
            state["bar"].draw(end="\n")
        names = [c.name for c in job.models]
        print(f"job {i + 1}/{n}: seed {job.seed}: {', '.join(names)}", file=sys.stderr)
        state["bar"] = ProgressBar(steps, names)

    try:
        if args.ray:
            results = _sweep_on_queue(
                args.ray, sweep, store, args.force, data, on_job, lambda *u: args.json or _bar_update(state["bar"], *u)
            )
        else:
            results = run_sweep(
                sweep,
                store,
                force=args.force,
                on_job=on_job,
                on_update=None if args.json else lambda u: state["bar"](u),
                dataset=data,
            )
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    if "bar" in state:
        state["bar"].draw(end="\n")
    rows = [r.summary() for r in results]
    if args.json:
        print(json.dumps([{k: json_safe(v) for k, v in row.items()} for row in rows], indent=2))
        return 0
    print(format_table(rows, seed=True))
    for row in rows:
        if row["status"] == "diverged":
            print(diverged_line(row, f"{row['name']} seed {row['seed']}"))
    from resnet_viz.degradation.sweep import depth_points
    from resnet_viz.text.sweep import sweep_reading

    for line in sweep_reading(depth_points(results), results):
        print(f"- {line}")
    if store is not None:
        print(f"runs in {store.root}")
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    from resnet_viz.engine.config import DataConfig
    from resnet_viz.engine.data import load_dataset
    from resnet_viz.text.theory import profile_sentences
    from resnet_viz.theory.flow import init_profiles

    cfgs = model_configs(args, args.depth)
    if args.batch_size < 1:
        raise CliError(f"--batch-size must be positive; got {args.batch_size}")
    data = load_dataset(DataConfig(name=args.dataset, root=args.data_root))
    # One call for all models: built from one seed (twins start identical), measured on one batch.
    profiles = init_profiles(cfgs, data, seed=args.seed, batch=args.batch_size)
    rows = [
        {"model": c.kind, "name": p.name, "depth": c.depth, "layers": layer_rows(p)} for c, p in zip(cfgs, profiles)
    ]
    if args.json:
        print(
            json.dumps(
                [{**r, "layers": [{k: json_safe(v) for k, v in layer.items()} for layer in r["layers"]]} for r in rows],
                indent=2,
            )
        )
        return 0
    for row in rows:
        print(
            f"{row['name']} at initialisation (seed {args.seed}, one batch of {args.batch_size} {args.dataset} images)"
        )
        print(f"  {'layer':<24} {'grad L2':>10} {'grad RMS':>10} {'dL/dx RMS':>10} {'act std':>9}")
        for layer in row["layers"]:
            std = "-" if layer["act_std"] is None else f"{layer['act_std']:.3g}"
            gx = "-" if layer["grad_x_rms"] is None else f"{layer['grad_x_rms']:.3g}"
            print(f"  {layer['name']:<24} {layer['grad_norm']:>10.3g} {layer['grad_rms']:>10.3g} {gx:>10} {std:>9}")
    for line in profile_sentences(profiles):
        print(f"- {line}")
    return 0


def cmd_lesion(args: argparse.Namespace) -> int:
    from resnet_viz.analysis.saved import run_lesion
    from resnet_viz.engine.runs import RunStore

    if args.draws < 1:
        raise CliError(f"--draws must be positive; got {args.draws}")
    result = run_lesion(RunStore(args.runs_dir), args.run, draws=args.draws, seed=args.seed, force=args.force)
    doc = result.to_dict()
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"{args.run}: test accuracy {100 * doc['baseline_acc']:.1f}% with every block")
    for b in doc["blocks"]:
        mark = "  (changes resolution)" if b["downsampling"] else ""
        print(f"  without {b['name']:<12} {100 * b['acc']:5.1f}%{mark}")
    for r in doc["random"]:
        print(f"  {r['k']:>2} random blocks deleted: {100 * r['mean_acc']:5.1f}% +- {100 * r['std_acc']:.1f}")
    return 0


def cmd_landscape(args: argparse.Namespace) -> int:
    from resnet_viz.analysis.saved import run_landscape
    from resnet_viz.engine.runs import RunStore

    bar = None if args.json else ProgressBar(args.grid**args.dims, ["grid points"])

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.step["grid points"] = done
            bar.draw()

    try:
        result = run_landscape(
            RunStore(args.runs_dir),
            args.run,
            grid=args.grid,
            span=args.span,
            dims=args.dims,
            seed=args.seed,
            split=args.split,
            force=args.force,
            on_progress=progress,
        )
    except ValueError as exc:  # grid/span out of range: the library's sentence
        raise CliError(str(exc)) from None
    doc = result.to_dict()
    if args.json:
        print(json.dumps(doc, default=json_safe))
        return 0
    if bar is not None:
        bar.draw(end="\n")
    import numpy as np

    loss = np.asarray(result.loss, dtype=float)
    centre = loss[tuple(s // 2 for s in loss.shape)]
    print(
        f"{args.run}: loss {centre:.4f} at the trained weights; min {np.nanmin(loss):.4f}, max {np.nanmax(loss):.4f} "
        f"over the {'x'.join(map(str, loss.shape))} grid (span {args.span:g}, {args.split} split)"
    )
    return 0


def cmd_atlas(args: argparse.Namespace) -> int:
    """Build (or resume, or check) the reference atlas the pages show on an empty run store."""
    from resnet_viz.teaching import atlas

    root = Path(args.out) if args.out else atlas.atlas_dir()
    if args.check:
        manifest = atlas.read_manifest(root)
        if manifest is None:
            print(f"no atlas in {root}: run `{atlas.COMMAND}` to build it", file=sys.stderr)
            return 1
        complete = {k: len(v.cells()) for k, v in atlas.parts().items()}
        missing = {k: n - manifest.cells.get(k, 0) for k, n in complete.items() if manifest.cells.get(k, 0) < n}
        pair = tuple(sorted(c.name for c in atlas.PAIR.model_configs()))
        live = tuple(sorted(c.name for c in atlas.LIVE.model_configs()))
        if manifest.stale or missing or manifest.pair != pair or manifest.live != live:
            if manifest.stale:
                why = "its settings hash differs from the code's"
            elif missing:
                why = f"cells missing: {missing}"
            elif manifest.pair != pair:
                why = f"the pair {' + '.join(pair)} is missing"
            else:
                why = f"Train & compare's twins {' + '.join(live)} are missing"
            print(f"the atlas in {root} is out of date ({why}): run `{atlas.COMMAND}` to rebuild it", file=sys.stderr)
            return 1
        print(
            f"atlas up to date: {manifest.runs} runs, {manifest.size_bytes / 1e6:.1f} MB, built {manifest.day()} "
            f"at {manifest.code_version[:12]} on {manifest.device_text()} in {manifest.seconds:.0f} s"
        )
        return 0
    state: dict[str, Any] = {}

    def on_sweep(name: str, sweep: Any) -> None:
        depths = ", ".join(str(d) for d in sweep.depths)
        seeds = ", ".join(str(s) for s in sweep.seeds)
        print(
            f"{name}: {len(sweep.cells())} runs (depths {depths}; plain and residual; seeds {seeds})", file=sys.stderr
        )

    def on_job(i: int, n: int, job: Any, steps: int) -> None:
        if "bar" in state:
            state["bar"].draw(end="\n")
        print(f"  job {i + 1}/{n}: seed {job.seed}: {len(job.models)} models", file=sys.stderr)
        state["bar"] = ProgressBar(steps, [c.name for c in job.models])

    try:
        manifest = atlas.build(
            root,
            datasets=args.datasets,
            pair=args.pair,
            demo=args.demo,
            live=args.live,
            force=args.force,
            on_sweep=on_sweep,
            on_job=on_job,
            on_update=lambda u: state["bar"](u),
        )
    except KeyboardInterrupt:
        print("\ninterrupted: the runs trained so far are kept; run the command again to resume", file=sys.stderr)
        return 130
    except atlas.AtlasError as exc:
        raise CliError(str(exc)) from None
    if "bar" in state:
        state["bar"].draw(end="\n")
    cells = ", ".join(
        [f"{k} {v}" for k, v in manifest.cells.items()]
        + [f"pair {' + '.join(manifest.pair)}", f"live {' + '.join(manifest.live)}"]
    )
    print(
        f"atlas: {manifest.runs} runs ({cells}), {manifest.size_bytes / 1e6:.1f} MB, in {manifest.seconds:.0f} s, "
        f"settings {manifest.settings_hash}; written to {root}"
    )
    return 0
