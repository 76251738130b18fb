"""A run's metrics as CSV, for the download button: one row per logged step."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from resnet_viz.engine import checks

CSV_COLUMNS: tuple[str, ...] = ("step", "loss", "acc", "lr", "test_loss", "test_acc")


def metrics_csv(metrics: dict[str, Any]) -> str:
    """One row per logged step: step,loss,acc,lr,test_loss,test_acc (empty where unknown).

    Evaluation steps that were not logged steps get a row of their own, so no test result is
    dropped. `metrics` may be a damaged or partial metrics.json: nothing in it raises.
    """

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
