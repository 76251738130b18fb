"""Checks for single values read from disk (metrics, status, saved analyses): one wording for all.

A value in a JSON file is outside input: a hand-edited or half-copied file must fail where it is
read, with a sentence naming the field, not later in a chart (float("abc")) or a sum (None).
Each check raises ValueError; the readers turn it into their own error type with the file's name.
"""

from __future__ import annotations

import math
from typing import Any

from resnet_viz.i18n import _

INT64 = 2**63  # beyond it a JSON integer fits no table column (and os/numpy calls overflow)
STEPS = 2**53  # step numbers beyond it cannot be told apart once a chart turns them into floats


def shown(v: Any) -> str:
    """The value as a message quotes it, cut to 40 characters."""
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def plain_number(v: Any) -> bool:
    """A finite JSON number: not a bool, an int within int64, a float not NaN or inf."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    return abs(v) < INT64 if isinstance(v, int) else math.isfinite(v)


def number(where: str, v: Any, *, lo: float = 0.0, hi: float = math.inf, null: bool = False) -> float | None:
    """`v` as a float within [lo, hi]; None for a JSON null when `null` allows it."""
    if v is None and null:
        return None
    if not plain_number(v):
        if isinstance(v, float):  # NaN or inf (non-strict JSON)
            raise ValueError(outside(where, v, lo, hi))
        raise ValueError(_("{where} holds {value} where a number belongs").format(where=where, value=shown(v)))
    if not lo <= v <= hi:
        raise ValueError(outside(where, v, lo, hi))
    return float(v)


def outside(where: str, v: Any, lo: float, hi: float) -> str:
    return _("{where} holds {value}, outside [{lo}, {hi}]").format(
        where=where, value=shown(v), lo=f"{lo:g}", hi=f"{hi:g}"
    )


def whole(where: str, v: Any, *, lo: int = 0, what: str | None = None) -> int:
    """`v` as a whole number from `lo` up to 2**53; `what` (a template marked with N_()) names it
    in the message."""
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v < STEPS:
        template = (
            _("{where} holds {value} where a whole number of at least {lo} belongs")
            if what is None
            else _("{where} holds {value} where {what} belongs")
        )
        raise ValueError(template.format(where=where, value=shown(v), lo=lo, what=_(what) if what else ""))
    return v
