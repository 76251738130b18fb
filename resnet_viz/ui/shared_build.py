"""Charts built once per job version and drawn by every session watching that job (issue 30).

Each session watching a running job reruns its live fragments every second (status and curves)
and every four (gradients). Measured on this 2-core machine (bench/bench_watchers.py inproc,
ResNet-20 twins at 300-400 steps, 10 sessions): a session's rerun of both took 92-102 ms, of
which ~76 ms built the eight plotly figures (go.Figure construction and validation) and ~7 ms
went to the deep copy st.plotly_chart makes of each figure (`fig.to_dict()`); the snapshot's
History copies took 0.06 ms. Thirty sessions watching one job built the same figures thirty
times a second.

`SharedBuilds` keeps the newest build of each job's charts and runs one build of them at a
time, however many sessions ask; `freeze` turns a finished figure into one whose `to_dict()` is
computed once, so every other session pays only the JSON of a dict and Streamlit's own
bookkeeping (6 ms for both fragments, against 70 ms for the session that builds). Both are shared
by every session of this server process, like ``st.cache_resource``, so they hold only
read-only values: nothing changes a frozen figure.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import plotly.graph_objects as go

from resnet_viz.ui.live_plot import spec_of

T = TypeVar("T")


class FrozenFigure(go.Figure):
    """A finished figure whose ``to_dict()`` was computed once, when it was frozen.

    st.plotly_chart (streamlit 1.67, elements/plotly_chart.py) turns a figure into its spec with
    ``plotly.tools.return_figure_from_figure_or_data(fig, validate_figure=True)``, which calls
    ``fig.to_dict()`` (a deep copy of every trace, arrays re-encoded to base64: ~1 ms a chart)
    and skips validation for a Figure, while a dict passed instead would be validated again
    (~8 ms a chart). Serving the memoised dict keeps the Figure path without its copy.
    tests/test_shared_build.py fails if st.plotly_chart stops calling ``to_dict``, or if the
    spec it sends differs from that of the figure before freezing. Everything else about the
    figure is the real one: another reader (fig.data, fig.layout, to_json) sees the same chart.
    """

    _frozen_dict: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        # New trace dicts: plotly.io.to_json pops each trace's "uid" from the dict it is given.
        # The values inside are shared and never written to.
        frozen = self._frozen_dict
        return {**frozen, "data": [dict(trace) for trace in frozen.get("data", [])]}

    def spec_json(self) -> str:
        """The figure as plotly.js reads it (ui/live_plot.py), encoded once for every reader (two
        threads may both encode it the first time: the same string)."""
        cached = getattr(self, "_frozen_json", None)
        if cached is None:
            cached = self._frozen_json = spec_of(self.to_dict())
        return cached


def freeze(fig: go.Figure) -> FrozenFigure:
    """`fig`, finished, as a FrozenFigure (the same object, its class changed: no copy, no
    validation); it must not be changed after this."""
    frozen = fig.to_dict()
    fig.__class__ = FrozenFigure  # a subclass that adds no slots: Python allows the swap
    fig._frozen_dict = frozen  # type: ignore[attr-defined]  # plotly's __setattr__ lets "_" names through
    return fig  # type: ignore[return-value]


@dataclass
class _Entry:
    version: int = -1  # of `value`; -1 until the first build ends
    value: Any = None
    built: float = 0.0  # time.monotonic() when `value` was built
    flight: threading.Event | None = None  # while a build runs: set when it ends


WAIT_SECONDS = 30.0  # a reader waits this long for another session's build before it builds its own


@dataclass
class SharedBuilds(Generic[T]):
    """The newest build of each key, shared by every caller: a bounded, thread-safe memo.

    `get(key, version, build)` answers with the kept value when its version is at least the
    caller's, else builds; `build` returns (the version it built, the value) and should build
    the newest there is (ui.live_charts takes a fresh snapshot in it). One build of a key runs
    at a time, and whoever asks meanwhile waits for it and then, if it is still behind, for
    the next one. Measured with 30 sessions watching two jobs (bench/bench_watchers.py clients):
    when each reader of a new version started its own build, the builds, slowed by one
    another on the GIL, took longer than the versions took to change, so ever more ran at
    once and the server drew 1.6 redraws per session in 40 s.

    At most `max_entries` keys, least recently used dropped first; `keep(key)` False drops a
    key at the next new key (a job the queue forgot).
    """

    max_entries: int = 32
    keep: Callable[[Hashable], bool] | None = None
    builds: int = 0  # how many times a build ran (tests, bench)
    clock: Callable[[], float] = time.monotonic  # what `fresh_for` is measured with (tests: a fake)
    _entries: OrderedDict[Hashable, _Entry] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(
        self,
        key: Hashable,
        version: int,
        build: Callable[[], tuple[int, T]],
        *,
        fresh_for: float = 0.0,
        stands_in: Callable[[T], bool] | None = None,
    ) -> T:
        """The value of `key` at `version` or newer, or one built less than `fresh_for` s ago that
        `stands_in(value)` allows (None: any) to be served for a newer version.

        `fresh_for` caps the builds of a key at about one per that many seconds however fast its
        versions change: a twin run sends ~6 updates a second and each rebuilt the curves (23 ms)
        and, per probe, the gradient charts (48 ms), so with 30 watchers the builds alone took a
        fifth of a core (bench/bench_watchers.py clients). A page redrawing every second needs one
        build a second, not six; its charts are then at most `fresh_for` behind its progress line.

        `stands_in` keeps an empty build from standing in for the first data: charts built just
        before a job's first step would otherwise hold back its first points for `fresh_for`
        (measured in bench/bench_class.py: a watcher's first chart came up to 2.7 s after its job
        began training, against a redraw period of 1 s).

        A caller whose snapshot is older than the kept build (taken just before the newest
        update) gets that newer build: its charts are then an update ahead of its progress
        line, never behind.
        """
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            with self._lock:
                entry = self._entries.get(key)
                if entry is None:
                    entry = self._entries[key] = _Entry()
                    self._prune()
                else:
                    self._entries.move_to_end(key)
                recent = entry.version >= 0 and self.clock() - entry.built < fresh_for
                if entry.version >= version or (recent and (stands_in is None or stands_in(entry.value))):
                    return entry.value
                flight, mine = entry.flight, entry.flight is None
                if mine:
                    flight = entry.flight = threading.Event()
            if mine:
                break
            if not flight.wait(max(0.0, deadline - time.monotonic())):  # type: ignore[union-attr]
                return self._build(build)[1]  # the build in flight hangs: this reader's own
        try:
            built, value = self._build(build)
            with self._lock:
                if built > entry.version:
                    entry.version, entry.value, entry.built = built, value, self.clock()
        finally:
            with self._lock:
                entry.flight = None
            flight.set()  # type: ignore[union-attr]
        return value

    def _build(self, build: Callable[[], tuple[int, T]]) -> tuple[int, T]:
        with self._lock:
            self.builds += 1
        return build()

    def _prune(self) -> None:
        # Under the lock. `keep` reads the job queue, which takes its own lock, never this one.
        if self.keep is not None:
            for key in [k for k in self._entries if not self.keep(k)]:
                del self._entries[key]
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
