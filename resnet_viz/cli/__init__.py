"""`resnet-viz train|sweep|probe|lesion|landscape|atlas`: the app's code paths from a terminal.

The configs validate themselves, so a bad value surfaces as one line on stderr and exit status 2,
never a traceback. `parser` holds the flags, `commands` one function per subcommand, `output`
the tables and the progress bar.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from collections.abc import Callable, Sequence

from .commands import cmd_atlas, cmd_landscape, cmd_lesion, cmd_probe, cmd_sweep, cmd_train
from .output import ProgressBar, format_table
from .parser import CliError, TrainingFailed, build_parser, configs_from_args, model_configs

# The subcommand build_parser() names -> the function that runs it.
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": cmd_train,
    "sweep": cmd_sweep,
    "probe": cmd_probe,
    "lesion": cmd_lesion,
    "landscape": cmd_landscape,
    "atlas": cmd_atlas,
}


def _error(text: str) -> None:
    if ProgressBar.unfinished:  # the bar's line has no newline yet
        sys.stderr.write("\n")
        ProgressBar.unfinished = False
    print(f"resnet-viz: error: {text}", file=sys.stderr)


def _out_of_memory(exc: BaseException) -> bool:
    """The allocator's failures: MemoryError, torch's CPU "can't allocate memory" RuntimeError, CUDA OOM."""
    return (
        isinstance(exc, MemoryError)
        or type(exc).__name__ == "OutOfMemoryError"
        or (isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc))
    )


def _threads_for(args: argparse.Namespace) -> contextlib.AbstractContextManager:
    """The thread policy (resnet_viz.engine.devices) for a command that trains or probes, sized by one
    forward pass of a batch through its models; lesion and landscape size theirs by the stored run
    (resnet_viz.analysis.saved)."""
    if args.command == "atlas" and not args.check:
        from resnet_viz.engine.devices import thread_count, threads
        from resnet_viz.engine.limits import forward_macs
        from resnet_viz.teaching.atlas import sweeps

        deepest = [
            (s.model_config(max(s.depths), k), s.data, s.train.batch_size) for s in sweeps().values() for k in s.kinds
        ]
        return threads(max(thread_count(forward_macs([m], d, b)) for m, d, b in deepest))
    if args.command not in ("train", "sweep", "probe"):
        return contextlib.nullcontext()
    from resnet_viz.engine.config import DataConfig
    from resnet_viz.engine.devices import thread_count, threads
    from resnet_viz.engine.limits import forward_macs

    if args.command == "probe":
        models, data = model_configs(args, args.depth), DataConfig(name=args.dataset, root=args.data_root)
    else:
        models, data, _ = configs_from_args(args)
        if args.command == "sweep":  # the deepest cell is the one that needs the threads
            models = [dataclasses.replace(m, depth=max(args.depths)) for m in models]
    return threads(thread_count(forward_macs(models, data, args.batch_size)))


def main(argv: Sequence[str] | None = None) -> int:
    from resnet_viz.engine.config import ConfigError

    ProgressBar.unfinished = False
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        with _threads_for(args):
            return COMMANDS[args.command](args)
    except (CliError, ConfigError) as exc:
        _error(str(exc))
        return 2
    except Exception as exc:  # noqa: BLE001 (data unavailable, run store trouble, or a bug: still one line)
        from resnet_viz.engine.data import DatasetUnavailable
        from resnet_viz.engine.runs import RunStoreError

        if _out_of_memory(exc):
            _error(
                "not enough memory for these settings; lower --batch-size, --width, --depth or --image-size "
                f"(or set --limit) ({type(exc).__name__})"
            )
            return 2
        if isinstance(exc, DatasetUnavailable):
            _error(exc.with_paths)  # the terminal's user owns this machine: name its folders
        elif isinstance(exc, (RunStoreError, TrainingFailed)):
            _error(str(exc))
        else:
            _error(f"{type(exc).__name__}: {exc}")
        return 1


__all__ = ["COMMANDS", "CliError", "build_parser", "format_table", "main"]
