"""A browser session without the browser: Streamlit's own websocket protocol, spoken as the pinned
frontend (streamlit 1.67, static/js/index.*.js) speaks it, so a bench can put thirty sessions on
one server for the CPU of a few.

What the frontend does and this client copies, read from that bundle and
streamlit/web/server/starlette/starlette_websocket.py:

- before the socket: GET the page and /_stcore/health (the health answer sets the
  `_streamlit_xsrf` cookie); the socket is ws://host/_stcore/stream with the subprotocols
  ["streamlit", <xsrf token>] (the server reads the token only to trust auth cookies), the page's
  cookies, and Origin http://host;
- the first rerun_script names the page by its URL path (`page_name` "live", "" for /) with an
  empty page_script_hash; every later one sends the hash of the page that ran (the navigation
  message's; new_session's can be the main script's, and sending it would open Home), the
  current query string (page_info_changed replaces it: Train writes `job=` into it), every widget
  state the page holds, and the hashes of the cacheable messages it keeps (the server then sends a
  `ref_hash` instead of the message again);
- a widget's state is made from its element when it first appears (its default, or the value the
  server set with `set_value`) and kept until the element leaves the page (checked against what
  Chromium sends on /live: the same ids and values); a button press is one
  rerun whose states carry the button's `trigger_value` (in the button's fragment, if any);
- auto_rerun(fragment_id, interval): a fragment rerun (is_auto_rerun) every `interval` seconds,
  as setInterval does, until stop_auto_rerun or a full run's new_session clears every timer;
- the element tree is kept by delta path; script_finished (a full or a fragment run) drops the
  nodes that run did not redraw, as clearStaleNodes does.

Not copied: rendering (no plotly, no layout), the static assets a real page loads, its host-config
request, app heartbeats, reconnects, and the scripts of `st.html(..., unsafe_allow_javascript=True)`
(the app writes its owner cookie that way: pass the cookie to the client instead). `Session.tap` feeds the same bookkeeping from a real
Chromium page's websocket frames, so browsers and protocol clients are counted alike.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
import traceback
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

FINISHED = ForwardMsg.ScriptFinishedStatus
TRIGGERS = ("button", "download_button")  # widgets whose state is only a one-rerun trigger
_DTYPE_BYTES = {"f8": 8, "f4": 4, "i8": 8, "i4": 4, "i2": 2, "i1": 1, "u8": 8, "u4": 4, "u2": 2, "u1": 1}


@dataclass
class Node:
    """One element or block of the page, where the last delta at its path put it."""

    path: tuple[int, ...]  # delta path: (container (0 main, 1 sidebar), index, index, ...)
    kind: str  # the element's type ("button", "plotly_chart", ...) or "block:<type>"
    proto: object  # streamlit.proto Element or Block
    run_id: str  # the script run that drew it
    fragment_id: str  # the fragment that drew it, "" outside one

    @property
    def label(self) -> str:
        return getattr(getattr(self.proto, self.kind, None), "label", "")


@dataclass
class Stats:
    """What one session received; times are time.time() seconds."""

    opened_at: float = 0.0  # the page was asked for (the GET before the socket)
    pressed_at: float | None = None  # the last button press was sent
    first_chart_at: float | None = None  # the first plotly chart element at all
    first_data_at: float | None = None  # the first plotly chart with data points (since the last fresh press)
    forward_msgs: int = 0  # ForwardMsgs received (ref_hash ones included)
    deltas: int = 0  # of them, deltas (elements and blocks)
    ref_hits: int = 0  # of them, ref_hash messages answered from the cache
    bytes_in: int = 0  # websocket payload bytes received
    chart_updates: int = 0  # plotly_chart deltas
    chart_times: list[float] = field(default_factory=list)  # when each plotly_chart delta came
    redraws: list[tuple[float, str]] = field(default_factory=list)  # (when, text) of each progress delta
    reruns_sent: int = 0  # rerun_script BackMsgs, fragment reruns included
    fragment_reruns_sent: int = 0  # of them, timed fragment reruns
    runs_finished: dict[str, int] = field(default_factory=dict)  # script_finished status name -> count
    exceptions: list[str] = field(default_factory=list)  # "Type: message" of each exception element
    errors: list[str] = field(default_factory=list)  # bodies of error alerts
    page_not_found: list[str] = field(default_factory=list)  # page names the server did not know
    first_seen: dict[str, float] = field(default_factory=dict)  # element type -> when the first came


def live_chart_spec(el) -> str | None:
    """The figure of a live chart (resnet_viz/ui/live_plot.py: a components-v2 element whose data
    carries the plotly JSON), None for any other component."""
    bidi = el.bidi_component
    if bidi.component_name != "resnet_lab_live_plot" or not bidi.json:
        return None
    return json.loads(bidi.json).get("spec")


def chart_points(spec: str) -> int:
    """Data points in a plotly figure's JSON (x, y or z of every trace; plotly's base64 typed
    arrays counted by their byte length)."""
    try:
        fig = json.loads(spec)
    except ValueError:
        return 0
    n = 0
    for trace in fig.get("data", []):
        lengths = []
        for key in ("x", "y", "z"):
            v = trace.get(key)
            if isinstance(v, list):
                lengths.append(len(v))
            elif isinstance(v, dict) and "bdata" in v:
                size = _DTYPE_BYTES.get(str(v.get("dtype", "f8")), 8)
                lengths.append(len(base64.b64decode(v["bdata"])) // size)
        n += max(lengths, default=0)
    return n


def widget_state(kind: str, w) -> WidgetState | None:
    """The state the frontend commits for widget element `w` of type `kind` when it mounts: the
    value the server set (set_value), else the default; an empty state (the id alone) where there
    is none (a radio with index=None). None for triggers and for what has no state."""
    if kind in TRIGGERS or not getattr(w, "id", ""):
        return None
    s = WidgetState(id=w.id)
    set_value = getattr(w, "set_value", False)
    if kind == "checkbox":
        s.bool_value = w.value if set_value else w.default
    elif kind == "number_input":
        v = w.value if set_value and w.HasField("value") else (w.default if w.HasField("default") else None)
        if v is not None:
            if w.data_type == w.INT:
                s.int_value = int(v)
            else:
                s.double_value = v
    elif kind in ("selectbox", "radio"):
        if set_value and w.HasField("raw_value"):
            s.string_value = w.raw_value
        elif w.HasField("default") and 0 <= w.default < len(w.options):
            s.string_value = w.options[w.default]
    elif kind == "slider":
        values = list(w.value if set_value else w.default)
        if w.options and set_value and w.raw_value:  # a select_slider the server set: its options' text
            s.string_array_value.data.extend(w.raw_value)
        elif w.options:
            s.string_array_value.data.extend(w.options[int(v)] for v in values)
        else:
            s.double_array_value.data.extend(values)
    elif kind == "button_group":
        if set_value:
            s.string_array_value.data.extend(w.raw_values)
        else:
            s.string_array_value.data.extend(w.options[i].content for i in w.default)
    elif kind == "multiselect":
        if set_value:
            s.string_array_value.data.extend(w.raw_values)
        else:
            s.string_array_value.data.extend(w.options[i] for i in w.default)
    elif kind in ("text_input", "text_area"):
        v = w.value if set_value and w.HasField("value") else (w.default if w.HasField("default") else None)
        if v is not None:
            s.string_value = v
    elif kind in ("plotly_chart", "dataframe", "vega_lite_chart"):
        return None  # state only with selections, which the app does not ask for
    else:
        return None
    return s


class Session:
    """The frontend's bookkeeping for one page: element tree, widget states, fragment timers,
    message cache and the counts in `stats`. `tap(ws)` fills it from a Playwright websocket."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.stats = Stats()
        self.nodes: dict[tuple[int, ...], Node] = {}
        self.widgets: dict[str, WidgetState] = {}  # widget id -> the state the page holds
        self.run_id = ""  # the script run whose deltas arrive now
        self.fragment_ids: tuple[str, ...] = ()  # that run's fragments ((): a full run)
        self.page_script_hash = ""
        self.query_string = ""
        self.script_running = False
        self.max_cached_age = 2  # script runs a cached message outlives its last use (new_session's config)
        self.cache: dict[str, list] = {}  # hash -> [encoded ForwardMsg, run count when last used, fragment id]
        self.run_count = 0
        self.changed = asyncio.Event()  # set on every message (wait_for)

    # -- what the page shows ---------------------------------------------------------------------

    def find(self, kind: str, label: str | None = None) -> list[Node]:
        return [
            n for n in sorted(self.nodes.values(), key=lambda n: n.path) if n.kind == kind and label in (None, n.label)
        ]

    def button(self, label: str) -> Node | None:
        found = self.find("button", label)
        return found[0] if found else None

    def progress_text(self) -> str:
        found = self.find("progress")
        return found[-1].proto.progress.text if found else ""

    def texts(self, kind: str = "heading") -> list[str]:
        """Bodies of every element of `kind` (heading, markdown, alert, ...) on the page."""
        return [getattr(n.proto, kind).body for n in self.find(kind)]

    def alerts(self) -> list[str]:
        return self.texts("alert")

    # -- ForwardMsgs ------------------------------------------------------------------------------

    def feed(self, data: bytes, now: float | None = None) -> None:
        """One websocket frame from the server."""
        now = time.time() if now is None else now
        msg = ForwardMsg()
        msg.ParseFromString(data)
        self.stats.forward_msgs += 1
        self.stats.bytes_in += len(data)
        if msg.HasField("ref_hash"):
            entry = self.cache.get(msg.ref_hash)
            if entry is None:
                self.stats.errors.append(f"cache miss for {msg.ref_hash}")
                return
            entry[1] = self.run_count
            self.stats.ref_hits += 1
            metadata = msg.metadata
            msg = ForwardMsg()
            msg.ParseFromString(entry[0])
            msg.metadata.CopyFrom(metadata)
        elif msg.metadata.cacheable and msg.hash and msg.hash not in self.cache:
            self.cache[msg.hash] = [data, self.run_count, msg.delta.fragment_id]
        self.handle(msg, now)
        self.changed.set()

    def handle(self, msg: ForwardMsg, now: float) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self._new_session(msg)
        elif kind == "delta":
            self._delta(msg, now)
        elif kind == "script_finished":
            self._script_finished(msg.script_finished, tuple(msg.metadata.run.fragment_ids), msg.metadata.run)
        elif kind == "session_status_changed":
            self.script_running = msg.session_status_changed.script_is_running
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "navigation":  # names the page that ran (new_session's hash can be the main script's)
            if msg.navigation.page_script_hash:
                self.page_script_hash = msg.navigation.page_script_hash
        elif kind == "page_not_found":
            self.stats.page_not_found.append(msg.page_not_found.page_name)
        elif kind == "auto_rerun":
            self.start_timer(msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            for f in msg.stop_auto_rerun.fragment_ids:
                self.stop_timer(f)

    def _new_session(self, msg: ForwardMsg) -> None:
        ns = msg.new_session
        self.run_id = msg.metadata.run.script_run_id
        self.fragment_ids = tuple(msg.metadata.run.fragment_ids)
        if ns.config.max_cached_message_age:
            self.max_cached_age = ns.config.max_cached_message_age
        if not self.fragment_ids:
            self.stop_timers()  # cleanupAutoReruns: the run's auto_rerun messages set them again
        if self.page_script_hash and ns.page_script_hash != self.page_script_hash:
            self.nodes.clear()  # another page: clearAppState
        self.page_script_hash = ns.page_script_hash

    def _delta(self, msg: ForwardMsg, now: float) -> None:
        self.stats.deltas += 1
        path = tuple(msg.metadata.delta_path)
        d = msg.delta
        which = d.WhichOneof("type")
        if which == "new_element":
            el = d.new_element
            kind = el.WhichOneof("type") or ""
            self._drop_below(path)
            self.nodes[path] = Node(path, kind, el, self.run_id, d.fragment_id)
            self._element(kind, el, now)
        elif which == "add_block":
            kind = "block:" + (d.add_block.WhichOneof("type") or "")
            old = self.nodes.get(path)
            if old is None or old.kind != kind:
                self._drop_below(path)
            self.nodes[path] = Node(path, kind, d.add_block, self.run_id, d.fragment_id)

    def _element(self, kind: str, el, now: float) -> None:
        s = self.stats
        s.first_seen.setdefault(kind, now)
        spec = live_chart_spec(el) if kind == "bidi_component" else None
        if kind == "plotly_chart" or spec is not None:
            s.chart_updates += 1
            s.chart_times.append(now)
            if s.first_chart_at is None:
                s.first_chart_at = now
            if s.first_data_at is None and chart_points(el.plotly_chart.spec if spec is None else spec) > 0:
                s.first_data_at = now
        elif kind == "progress":
            s.redraws.append((now, el.progress.text))
        elif kind == "exception":
            s.exceptions.append(f"{el.exception.type}: {el.exception.message}")
        elif kind == "alert" and el.alert.format == el.alert.ERROR:
            s.errors.append(el.alert.body)
        w = getattr(el, kind, None)
        wid = getattr(w, "id", "") if w is not None else ""
        if wid and (wid not in self.widgets or getattr(w, "set_value", False)):
            state = widget_state(kind, w)
            if state is not None:
                self.widgets[wid] = state

    def _drop_below(self, path: tuple[int, ...]) -> None:
        n = len(path)
        for p in [p for p in self.nodes if len(p) > n and p[:n] == path]:
            del self.nodes[p]

    def _script_finished(self, status: int, fragment_ids: tuple[str, ...], run) -> None:
        name = FINISHED.Name(status)
        self.stats.runs_finished[name] = self.stats.runs_finished.get(name, 0) + 1
        done = status in (FINISHED.FINISHED_SUCCESSFULLY, FINISHED.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)
        if done and (fragment_ids or run.script_run_id in ("", self.run_id)):  # a late one of an old run: ignored
            stale = [
                p
                for p, node in self.nodes.items()
                if node.run_id != self.run_id and (not fragment_ids or node.fragment_id in fragment_ids)
            ]
            for p in stale:
                self.nodes.pop(p, None)
            live = {getattr(getattr(n.proto, n.kind, None), "id", "") for n in self.nodes.values()}
            self.widgets = {k: v for k, v in self.widgets.items() if k in live}
        if status != FINISHED.FINISHED_EARLY_FOR_RERUN:
            self.run_count += 1
            for h, entry in list(self.cache.items()):
                if fragment_ids and entry[2] not in fragment_ids:
                    continue
                if self.run_count - entry[1] > self.max_cached_age:
                    del self.cache[h]

    # -- fragment timers: a real page runs its own, so these do nothing here ----------------------

    def start_timer(self, fragment_id: str, interval: float) -> None:
        pass

    def stop_timer(self, fragment_id: str) -> None:
        pass

    def stop_timers(self) -> None:
        pass

    # -- a real browser's page, counted alike -------------------------------------------------------

    def tap(self, ws) -> None:
        """Count what a Playwright websocket (page.on("websocket")) receives on /_stcore/stream."""
        if "_stcore/stream" not in ws.url:
            return

        def received(payload) -> None:
            data = payload if isinstance(payload, bytes) else payload.encode("latin-1")
            self.feed(data)

        def sent(payload) -> None:  # the page's own reruns, counted as StClient counts its
            msg = BackMsg()
            msg.ParseFromString(payload if isinstance(payload, bytes) else payload.encode("latin-1"))
            if msg.WhichOneof("type") == "rerun_script":
                self.stats.reruns_sent += 1
                self.stats.fragment_reruns_sent += msg.rerun_script.is_auto_rerun

        ws.on("framereceived", received)
        ws.on("framesent", sent)

    async def wait_for(self, predicate: Callable[[Session], object], timeout: float = 30.0):
        """The first truthy `predicate(self)`, checked after every message; TimeoutError after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            got = predicate(self)
            if got:
                return got
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.name}: not seen in {timeout:.0f} s (progress: {self.progress_text()!r})")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), min(left, 0.5))
            except TimeoutError:
                pass


class StClient(Session):
    """One protocol-level browser session on `url` + `path` (e.g. "/live") with `query` (no "?").

    `cookies`: more cookies for the page (the owner token that makes it a browser of its own, a
    teacher's cookie). Use inside a running event loop: `await c.open()`, `await c.press("Train")`,
    `await c.wait_for(lambda c: ...)`, `await c.close()`.
    """

    def __init__(
        self, url: str, path: str = "/", query: str = "", cookies: dict[str, str] | None = None, name: str = ""
    ) -> None:
        super().__init__(name or f"{path}?{query}")
        self.base = url.rstrip("/")
        self.path = "/" + path.strip("/")
        self.query_string = query.lstrip("?")
        self.cookies = dict(cookies or {})
        self.ws = None
        self.timers: dict[str, tuple[float, asyncio.Task]] = {}
        self.reader: asyncio.Task | None = None
        self.closed = False

    @property
    def page_name(self) -> str:
        return self.path.strip("/")

    async def open(self) -> None:
        from websockets.asyncio.client import connect

        self.stats.opened_at = time.time()
        host = urllib.parse.urlsplit(self.base).netloc
        xsrf = await asyncio.to_thread(self._http_get)
        if xsrf:
            self.cookies.setdefault("_streamlit_xsrf", xsrf)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        self.ws = await connect(
            f"ws://{host}/_stcore/stream",
            subprotocols=["streamlit", xsrf or "PLACEHOLDER_AUTH_TOKEN"],
            additional_headers=headers,
            origin=self.base,
            max_size=None,
            ping_interval=None,  # a browser answers the server's pings and sends none
            user_agent_header="Mozilla/5.0 (st_client)",
        )
        self.reader = asyncio.create_task(self._read(), name=f"read {self.name}")
        await self.rerun()

    def _http_get(self) -> str | None:
        """The page itself and the health check, as the browser asks for them; the XSRF token."""
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        xsrf = None
        for path in (f"{self.path}?{self.query_string}", "/_stcore/health"):
            req = urllib.request.Request(self.base + path, headers={"Cookie": cookie} if cookie else {})
            with urllib.request.urlopen(req, timeout=30) as r:
                r.read()
                for header in r.headers.get_all("Set-Cookie") or ():
                    name, _, rest = header.partition("=")
                    if name.strip() == "_streamlit_xsrf":
                        xsrf = rest.split(";", 1)[0]
        return xsrf

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for data in self.ws:
                if isinstance(data, bytes):
                    self.feed(data)
        except ConnectionClosed as exc:  # the socket went away: said once, in errors
            if not self.closed:
                self.stats.errors.append(f"websocket closed: {exc!r}")
        except Exception:  # noqa: BLE001 (a message this client misread: its bug, said loudly, not a crash of the bench)
            self.stats.errors.append("st_client failed on a message:\n" + traceback.format_exc())
            print(f"{self.name}: {self.stats.errors[-1]}", file=sys.stderr)
        finally:
            if not self.closed:
                self.stats.errors.append("websocket closed by the server")
            self.stop_timers()

    async def rerun(self, fragment_id: str = "", auto: bool = False, trigger: str | None = None) -> None:
        """A rerun_script as the frontend sends it; `trigger`: a button's widget id pressed in it."""
        if self.ws is None or self.closed:
            return
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query_string
        cs.widget_states.SetInParent()
        cs.widget_states.widgets.extend(self.widgets.values())
        if trigger:
            cs.widget_states.widgets.add(id=trigger, trigger_value=True)
        if self.page_script_hash:
            cs.page_script_hash = self.page_script_hash
        else:
            cs.page_name = self.page_name
        if fragment_id:
            cs.fragment_id = fragment_id
        cs.is_auto_rerun = auto
        cs.cached_message_hashes.extend(self.cache)
        ci = cs.context_info
        ci.timezone, ci.timezone_offset, ci.locale = "UTC", 0, "en-US"
        ci.url, ci.is_embedded, ci.color_scheme = f"{self.base}{self.path}", False, "light"
        self.stats.reruns_sent += 1
        self.stats.fragment_reruns_sent += bool(auto)
        from websockets.exceptions import ConnectionClosed

        try:
            await self.ws.send(msg.SerializeToString())
        except ConnectionClosed as exc:
            if not self.closed:
                self.stats.errors.append(f"send failed: {exc!r}")

    async def press(self, label: str, timeout: float = 30.0, *, fresh: bool = False) -> None:
        """Click the button labelled `label` once it is on the page and enabled. `fresh`: the press
        brings new data (Train), so first_data_at starts again from it (a page may open on a
        reference's curves)."""
        node = await self.wait_for(
            lambda s: (b := s.button(label)) is not None and not b.proto.button.disabled and b, timeout
        )
        self.stats.pressed_at = time.time()
        if fresh:
            self.stats.first_data_at = None
        await self.rerun(fragment_id=node.fragment_id, trigger=node.proto.button.id)

    # -- fragment timers ---------------------------------------------------------------------------

    def start_timer(self, fragment_id: str, interval: float) -> None:
        if not fragment_id or interval <= 0:
            return
        old = self.timers.get(fragment_id)
        if old is not None and old[0] == interval:
            return  # the same timer keeps its phase, as the frontend's does
        self.stop_timer(fragment_id)
        self.timers[fragment_id] = (interval, asyncio.create_task(self._tick(fragment_id, interval)))

    async def _tick(self, fragment_id: str, interval: float) -> None:
        due = time.monotonic()
        while not self.closed:
            due += interval
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await self.rerun(fragment_id=fragment_id, auto=True)

    def stop_timer(self, fragment_id: str) -> None:
        entry = self.timers.pop(fragment_id, None)
        if entry is not None:
            entry[1].cancel()

    def stop_timers(self) -> None:
        for f in list(self.timers):
            self.stop_timer(f)

    async def close(self) -> None:
        self.closed = True
        self.stop_timers()
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            try:
                await asyncio.wait_for(self.reader, 5)
            except (TimeoutError, asyncio.CancelledError):
                self.reader.cancel()
