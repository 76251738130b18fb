"""What a training run measured, step by step: the `Update` messages a trainer sends and the
`History` they build (loss, accuracy, per-layer gradients, dL/dx per block, evaluations).

The trainer appends to a History; pages, the run store and the sentences read it. Nothing here
imports torch: a stored run's metrics are read back without it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..i18n import N_
from . import checks

Status = Literal["running", "finished", "stopped", "diverged", "failed"]


@dataclass(frozen=True)
class Update:
    """One batch of new measurements for one model, as sent to ``on_update``.

    kind "steps":  data = {"step": [...], "loss": [...], "acc": [...], "lr": [...], "elapsed": s}
    kind "probe":  data = {"step": s, **ProbeResult fields}
    kind "eval":   data = {"step": s, "epoch": e, "test_loss": l, "test_acc": a}
    kind "status": data = {"status": ..., "step": s, ...}
    """

    model: str
    kind: Literal["steps", "probe", "eval", "status"]
    data: dict[str, Any]


@dataclass
class History:
    """Everything measured for one model; also the metrics.json the run store keeps."""

    name: str
    layer_names: list[str] = field(default_factory=list)
    block_names: list[str] = field(default_factory=list)
    residual_block_names: list[str] = field(default_factory=list)
    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    probe_step: list[int] = field(default_factory=list)
    grad_norm: list[list[float]] = field(default_factory=list)
    grad_rms: list[list[float]] = field(default_factory=list)
    grad_rel: list[list[float]] = field(default_factory=list)
    act_std: list[list[float]] = field(default_factory=list)
    identity_grad: list[list[float]] = field(default_factory=list)
    branch_grad: list[list[float]] = field(default_factory=list)
    grad_x_rms: list[list[float]] = field(default_factory=list)  # RMS of dL/dx per block, per probe
    eval: list[dict[str, float]] = field(default_factory=list)
    status: Status = "running"
    diverged_at: int | None = None
    elapsed: float = 0.0  # wall seconds since the run started, at the last update
    seconds: float = 0.0  # time spent on this model's own steps (its share of a lockstep run)
    final: dict[str, float] = field(default_factory=dict)  # train/test loss and accuracy at the end

    def apply(self, update: Update) -> None:
        d = update.data
        if update.kind == "steps":
            for key in ("step", "loss", "acc", "lr"):
                getattr(self, key).extend(d[key])
            self.elapsed = d.get("elapsed", self.elapsed)
        elif update.kind == "probe":
            self.probe_step.append(d["step"])
            for key in ("grad_norm", "grad_rms", "grad_rel", "act_std", "identity_grad", "branch_grad", "grad_x_rms"):
                getattr(self, key).append(d.get(key, []))
        elif update.kind == "eval":
            self.eval.append(dict(d))
        elif update.kind == "status":
            self.status = d["status"]
            for key in ("layer_names", "block_names", "residual_block_names"):  # sent once, at the start
                if key in d:
                    setattr(self, key, list(d[key]))
            self.diverged_at = d.get("diverged_at", self.diverged_at)
            self.final = d.get("final", self.final)
            self.elapsed = d.get("elapsed", self.elapsed)
            self.seconds = d.get("seconds", self.seconds)

    def view(self) -> History:
        """A copy for a page to read while this one keeps growing: new lists of the same rows.

        `apply` only appends rows and replaces whole values, never edits a row in place, so the
        rows can be shared: the copy costs one pointer per row, where a deep copy walked every
        number of every probe on each redraw (bench/bench_history_view.py).
        """
        copied = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for key, value in copied.items():
            if isinstance(value, list):
                copied[key] = list(value)
        copied["final"] = dict(self.final)
        return History(**copied)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """A History from a stored metrics dict, every field checked; ValueError naming the field.

        metrics.json is outside input: a hand-edited or half-copied file must fail here with a
        sentence, not later in a chart (float("abc")) or in summary() (None in a sum). NaN/inf were
        stored as null and come back as NaN; keys this version does not know are ignored (older and
        newer runs), and a key it knows but the file lacks keeps its default.
        """
        # Long because every field of the schema is checked here, one line each, in the order of the
        # dataclass.
        import typing  # here, not at the top: this module's imports belong to the training loop

        if not isinstance(data, dict):
            raise ValueError(f"metrics must be a JSON object; got {type(data).__name__}")

        def number(key: str, v: Any, lo: float = 0.0, hi: float = math.inf) -> float:
            # null was stored for NaN/inf (strict JSON has neither); every quantity here is a loss,
            # rate, norm or fraction
            got = checks.number(key, v, lo=lo, hi=hi, null=True)
            return math.nan if got is None else got

        def whole(key: str, v: Any) -> int:
            return checks.whole(key, v, what=N_("a step number"))

        def listed(key: str) -> list[Any]:
            v = data.get(key, [])
            if not isinstance(v, list):
                raise ValueError(f"{key} must be a list; got {checks.shown(v)}")
            return v

        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be the model's name; got {checks.shown(name)}")
        out = cls(name)
        for key in ("layer_names", "block_names", "residual_block_names"):
            names = listed(key)
            if not all(isinstance(n, str) for n in names):
                raise ValueError(f"{key} must hold names")
            setattr(out, key, list(names))
        out.step = [whole("step", v) for v in listed("step")]
        out.probe_step = [whole("probe_step", v) for v in listed("probe_step")]
        # Sent together in every "steps" update, so they grow together; lr was added later.
        for key, hi in (("loss", math.inf), ("acc", 1.0), ("lr", math.inf)):
            values = listed(key)
            if len(values) != len(out.step) and not (key == "lr" and not values):
                raise ValueError(f"{key} has {len(values)} entries for {len(out.step)} steps")
            setattr(out, key, [number(key, v, hi=hi) for v in values])
        # One row per probe (or none, for a key older runs did not record); a row is a value per
        # layer, block or residual block, or empty where that probe had nothing to measure.
        widths = {
            "layer_names": ("grad_norm", "grad_rms", "grad_rel"),
            "block_names": ("act_std", "grad_x_rms"),
            "residual_block_names": ("identity_grad", "branch_grad"),
        }
        for names_key, keys in widths.items():
            width = len(getattr(out, names_key))
            for key in keys:
                rows = listed(key)
                if rows and len(rows) != len(out.probe_step):
                    raise ValueError(f"{key} has {len(rows)} rows for {len(out.probe_step)} probes")
                for row in rows:
                    if not isinstance(row, list) or len(row) not in (0, width):
                        raise ValueError(f"{key} has a row that is not a list of {width} values (one per {names_key})")
                setattr(out, key, [[number(key, v) for v in row] for row in rows])
        for entry in listed("eval"):
            if not isinstance(entry, dict) or "step" not in entry:
                raise ValueError(f"eval holds {checks.shown(entry)}, not an evaluation with its step")
            ev: dict[str, Any] = {"step": whole("eval step", entry["step"])}
            for key, hi in (("epoch", math.inf), ("test_loss", math.inf), ("test_acc", 1.0)):
                if key in entry:
                    ev[key] = number(f"eval {key}", entry[key], hi=hi)
            out.eval.append(ev)
        status = data.get("status", out.status)
        if status not in typing.get_args(Status):
            raise ValueError(f"status must be one of {', '.join(typing.get_args(Status))}; got {checks.shown(status)}")
        out.status = status
        diverged_at = data.get("diverged_at")
        out.diverged_at = None if diverged_at is None else whole("diverged_at", diverged_at)
        out.elapsed = number("elapsed", data.get("elapsed", 0.0))
        out.seconds = number("seconds", data.get("seconds", 0.0))
        final = data.get("final", {})
        if not isinstance(final, dict):
            raise ValueError(f"final must map names to numbers; got {checks.shown(final)}")
        out.final = {str(k): number(f"final {k}", v, lo=-math.inf) for k, v in final.items()}
        return out

    def final_train_loss(self) -> float | None:
        """Full training-set loss measured at the end, else the mean of the last 10 finite step
        losses; None when there is neither (a final loss that is not finite counts as missing)."""
        return _final(self.final.get("train_loss"), self.loss)

    def final_train_acc(self) -> float | None:
        """Full training-set accuracy measured at the end, else the mean of the last 10 finite steps'."""
        return _final(self.final.get("train_acc"), self.acc)

    def identity_share(self, probe: int = -1) -> float | None:
        """Mean over residual blocks of ||identity term|| / (||identity term|| + ||branch term||)
        at probe `probe`: the share of dL/dx reaching a block's input through its shortcut."""
        if not self.identity_grad or not self.identity_grad[probe]:
            return None
        shares = [
            i / (i + b)
            for i, b in zip(self.identity_grad[probe], self.branch_grad[probe])
            if i is not None and b is not None and math.isfinite(i + b) and i + b > 0
        ]
        return sum(shares) / len(shares) if shares else None

    def flow_row(self, probe: int) -> tuple[list[float], Literal["dL/dx", "rms"]]:
        """The gradient that flows back at probe `probe`: dL/dx per block when the run measured it
        (He et al. 2016b, eq. 5), else the per-weight gradient RMS per layer (older runs; its last
        entry is the classifier head)."""
        if self.grad_x_rms and len(self.grad_x_rms) > max(probe, -probe - 1) and self.grad_x_rms[probe]:
            return self.grad_x_rms[probe], "dL/dx"
        return (self.grad_rms[probe] if self.grad_rms else []), "rms"

    def summary(self) -> dict[str, Any]:
        """The numbers a results table shows (final full-set train/test metrics when measured)."""
        last = self.loss[-10:]
        return {
            "model": self.name,
            "status": self.status,
            "steps": self.step[-1] if self.step else 0,
            "train_loss": self.final.get("train_loss", sum(last) / len(last) if last else float("nan")),
            "train_acc": self.final.get("train_acc", float("nan")),
            "test_loss": self.final.get("test_loss", float("nan")),
            "test_acc": self.final.get("test_acc", float("nan")),
            "diverged_at": self.diverged_at,
            "seconds": round(self.seconds, 3),
        }


# Steps timed past the first one reported before a time left is said: the first step carries the
# start-up (worker warm-up, the data moved to the device, the first probe), which made a 43 s run
# read "about 194 s to go" at step 1.
STEADY_STEPS = 5


@dataclass
class StepClock:
    """When a run's steps were reported, on the trainer's clock (the "elapsed" of its "steps"
    updates), for the time left: the rate counts from the first report on, so the start-up that
    the first step carries is not projected onto the steps to come."""

    first: tuple[float, int] | None = None  # (seconds, step) of the first step reported, by its last model
    last: tuple[float, int] | None = None  # (seconds, step) of the furthest step reported since

    def apply(self, update: Update) -> None:
        steps = update.data.get("step") if update.kind == "steps" else None
        seconds = update.data.get("elapsed")
        if steps and checks.plain_number(seconds):
            self.mark(float(seconds), int(steps[-1]))

    def mark(self, seconds: float, step: int) -> None:
        # Twins report each step one after the other: the first mark is the last of them to report
        # its first step, the last mark the last to report the furthest step.
        if self.first is None or step <= self.first[1]:
            self.first = (seconds, step)
        elif self.last is None or step >= self.last[1]:
            self.last = (seconds, step)

    def time_left(self, total: int, steady: int = STEADY_STEPS) -> float | None:
        """Seconds until step `total` at the rate of the steps timed since the first report; None
        until `steady` steps have been timed (or when the clock went backwards)."""
        if self.first is None or self.last is None:
            return None
        (t0, s0), (t1, s1) = self.first, self.last
        if s1 - s0 < steady or t1 < t0:
            return None
        return (t1 - t0) / (s1 - s0) * max(0, total - s1)


def _final(measured: float | None, steps: Sequence[float]) -> float | None:
    """`measured` when it is a finite number, else the mean of the last 10 finite step values."""
    if checks.plain_number(measured):
        return float(measured)  # type: ignore[arg-type]
    tail = [float(v) for v in steps[-10:] if checks.plain_number(v)]
    return sum(tail) / len(tail) if tail else None
