"""What the command line prints: a progress bar on stderr, result tables, per-layer rows."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from typing import Any

from resnet_viz.engine.history import StepClock


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most ~10 times a second."""

    # Whether a bar was drawn without its closing newline: an error printed then starts on a line
    # of its own instead of being glued to "[####----] 3/30 ...".
    unfinished: bool = False

    def __init__(self, total: int, names: Sequence[str], stream: Any = None) -> None:
        self.total, self.names, self.stream = total, list(names), stream or sys.stderr
        self.step: dict[str, int] = {}
        self.loss: dict[str, float] = {}
        self.t0, self.last_draw = time.perf_counter(), 0.0
        self.clock = StepClock()  # the time left counts from the first step on: it carries the start-up

    def __call__(self, update: Any) -> None:
        if update.kind == "steps" and update.data["step"]:
            self.step[update.model] = update.data["step"][-1]
            self.loss[update.model] = update.data["loss"][-1]
            self.clock.apply(update)
        now = time.perf_counter()
        if now - self.last_draw > 0.1:
            self.last_draw = now
            self.draw()

    def draw(self, end: str = "") -> None:
        done = max(self.step.values(), default=0)
        frac = done / self.total if self.total else 1.0
        bar = "#" * int(24 * frac) + "-" * (24 - int(24 * frac))
        elapsed = time.perf_counter() - self.t0
        left = self.clock.time_left(self.total)
        eta = float("nan") if left is None else left
        losses = "  ".join(f"{n} {self.loss[n]:.3f}" for n in self.names if n in self.loss)
        eta_s = f"eta {eta:4.0f}s" if math.isfinite(eta) else "eta    ?"
        self.stream.write(f"\r[{bar}] {done}/{self.total} {elapsed:5.1f}s {eta_s}  loss {losses}" + end)
        self.stream.flush()
        ProgressBar.unfinished = not end.endswith("\n")


def format_table(rows: Sequence[dict[str, Any]], *, seed: bool = False) -> str:
    cols = (
        [("name", "model")]
        + ([("seed", "seed"), ("reused", "reused")] if seed else [])
        + [
            ("params", "params"),
            ("status", "status"),
            ("steps", "steps"),
            ("train_loss", "train loss"),
            ("train_acc", "train acc"),
            ("test_acc", "test acc"),
            ("seconds", "seconds"),
            ("run_id", "run"),
        ]
    )

    def fmt(key: str, v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if key.endswith("_acc"):
            return "-" if isinstance(v, float) and math.isnan(v) else f"{100 * v:.1f}%"
        if isinstance(v, float):
            if not math.isfinite(v):
                return "-"
            if key == "seconds":
                return f"{v:.1f}"
            return f"{v:.3g}" if abs(v) >= 1e6 else f"{v:.3f}"  # a diverging loss: 1.77e+29, not 30 digits
        return str(v)

    cells = [[title for _, title in cols]] + [[fmt(k, r.get(k)) for k, _ in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)


def json_safe(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def diverged_line(row: dict[str, Any], who: str) -> str:
    """What the History says about a diverged model: the step its loss became NaN/inf, or, when
    only the final measurement was not finite, that."""
    at = row.get("diverged_at")
    if at is None:
        return f"{who} diverged: its final training loss is not finite (NaN/inf)"
    return f"{who} diverged (loss became NaN/inf) at step {at}"


def layer_rows(p: Any) -> list[dict[str, Any]]:
    """One entry per weighted layer, first first. act_std and grad_x_rms (RMS of dL/dx at the
    block's output) are per block, so each layer carries its block's value; stem and head layers
    have none."""

    def block_of(layer: str) -> int | None:
        hits = [i for i, b in enumerate(p.block_names) if layer.startswith(b + ".")]
        return hits[-1] if hits else None

    rows = []
    for i, name in enumerate(p.layer_names):
        b = block_of(name)
        rows.append(
            {
                "name": name,
                "grad_norm": p.grad_norm[i],
                "grad_rms": p.grad_rms[i],
                "act_std": p.act_std[b] if b is not None else None,
                "grad_x_rms": p.grad_x_rms[b] if b is not None and b < len(p.grad_x_rms) else None,
            }
        )
    return rows
