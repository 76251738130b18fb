"""Joining a Ray cluster: the address checks, Ray 2.52+ token authentication, and Ray's own
output kept out of the terminal and the page. The executor that trains on it is ray_executor.

Ray is imported inside the functions only: the app without RESNET_VIZ_RAY_ADDRESS never loads it.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from resnet_viz.i18n import _

from .worker import one_line

log = logging.getLogger(__name__)

ENV = "RESNET_VIZ_RAY_ADDRESS"
_CONNECT_LOCK = threading.Lock()


class RayUnavailable(ConnectionError):
    """The cluster named by an address cannot be used (not reachable, Ray not installed)."""


def precheck(address: str) -> None:
    """A Ray client connection to a closed port retries for tens of seconds before it fails:
    a TCP knock answers within two seconds, with a sentence instead of a hang."""
    target = address.removeprefix("ray://")
    if address in ("auto", "local") or ":" not in target:
        return
    host, _sep, port = target.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            pass
    except (OSError, ValueError) as exc:
        raise RayUnavailable(
            _("cannot reach the Ray cluster at {address}: {reason}").format(address=address, reason=one_line(exc))
        ) from None


# Ray 2.52+ token authentication: a head started by `ray start --head` (2.59+) writes a token to
# ~/.ray/auth_token and asks every client for it. A driver that names the head by address sends it
# only with RAY_AUTH_MODE=token (address="auto" finds the mode in the local session); the token
# comes from RAY_AUTH_TOKEN, else the file RAY_AUTH_TOKEN_PATH names, else ~/.ray/auth_token.
AUTH_MODE, AUTH_TOKEN, AUTH_TOKEN_PATH = "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"


def token_source() -> str | None:
    """Where this process's Ray token comes from (a variable's name or a file's path, never the
    token itself), or None when there is none."""
    if os.environ.get(AUTH_TOKEN):
        return AUTH_TOKEN
    path = Path(os.environ.get(AUTH_TOKEN_PATH) or Path.home() / ".ray" / "auth_token").expanduser()
    try:
        return str(path) if path.read_text(encoding="utf-8").strip() else None
    except (OSError, UnicodeDecodeError):
        return None


def _auth_env() -> None:
    """Send the token when there is one (and the mode is not set otherwise): a head without
    authentication ignores it, one with authentication refuses a driver that does not send it."""
    if AUTH_MODE not in os.environ and token_source() is not None:
        os.environ[AUTH_MODE] = "token"


# The probe: ray.init in a child process, whose output is read here and never shown. A missing or
# wrong token makes Ray's C++ client print "InvalidAuthToken" within a second, then retry for 20 s
# (20 warnings on the terminal when tried in this process); the child is ended at the first one.
_PROBE = (
    "import logging, sys, ray\n"
    "ray.init(address=sys.argv[1], log_to_driver=False, logging_level=logging.ERROR)\n"
    "print('RESNET_VIZ_RAY_OK', flush=True)\n"
)
PROBE_SECONDS = 20.0  # a reachable head answers within a few seconds (the child imports Ray first)


def _probe(address: str) -> None:
    """RayUnavailable, with a sentence naming the cause, unless a driver can join `address`."""
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(
            [sys.executable, "-c", _PROBE, address], stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ)
        )
        deadline = time.monotonic() + PROBE_SECONDS
        text = ""
        while True:
            done = child.poll() is not None
            out.seek(0)
            text = out.read().decode(errors="replace")
            if "RESNET_VIZ_RAY_OK" in text or "InvalidAuthToken" in text or "Unauthenticated" in text:
                break
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if child.poll() is None:
            child.kill()
        child.wait()
    if "RESNET_VIZ_RAY_OK" in text:
        return
    log.info("Ray probe of %s:\n%s", address, text[-4000:])  # the server's log, not the page
    if "InvalidAuthToken" in text or "Unauthenticated" in text:
        source = token_source()
        if source is None:
            raise RayUnavailable(
                _(
                    "the Ray cluster at {address} asks for its token and none is set on this machine: copy the "
                    "head's ~/.ray/auth_token (`ray get-auth-token` on the head prints it) to ~/.ray/auth_token "
                    "here, or set RAY_AUTH_TOKEN"
                ).format(address=address)
            )
        raise RayUnavailable(
            _(
                "the Ray cluster at {address} refused the token from {source}: it is not the head's "
                "(`ray get-auth-token` on the head prints the right one)"
            ).format(address=address, source=source)
        )
    last = next((line for line in reversed(text.strip().splitlines()) if line.strip()), "no answer")
    raise RayUnavailable(
        _("cannot reach the Ray cluster at {address}: {reason}").format(address=address, reason=last.strip()[:200])
    )


def connect(address: str) -> None:
    """Join the cluster at `address` (``auto``, ``host:port``, ``ray://host:10001``, or ``local``:
    start a Ray instance on this machine) once per process; RayUnavailable says why not."""
    _auth_env()  # before Ray is imported: its core library reads the mode once, when it loads
    try:
        import ray
    except ImportError:
        raise RayUnavailable(
            _('Ray is not installed; install it with pip install -e ".[cluster]" to train on a cluster')
        ) from None
    with _CONNECT_LOCK:
        precheck(address)  # also when already connected: a wrong address must not pass unnoticed
        if ray.is_initialized():
            return
        if address not in ("local", "auto") and not address.startswith("ray://"):
            _probe(address)  # a refused token says so in one sentence, not in Ray's 20 warnings
        _quiet(ray)
        try:
            if address == "local":
                _start_local(ray)
            else:
                ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        except Exception as exc:  # noqa: BLE001 (Ray raises many kinds; the sentence keeps its reason)
            raise RayUnavailable(
                _("cannot reach the Ray cluster at {address}: {reason}").format(address=address, reason=one_line(exc))
            ) from None


def disconnect() -> None:
    """Leave the cluster (after losing it: the next connect starts afresh)."""
    import ray

    with _CONNECT_LOCK:
        try:
            ray.shutdown()
        except Exception:  # a dead cluster's shutdown may fail half-way: nothing to keep
            log.debug("ray.shutdown after losing the cluster", exc_info=True)


def _quiet(ray: Any) -> None:
    """Ray prints the errors its cluster publishes (a raylet's death comes with 20 lines of its log)
    to this process's stdout, from a thread of its own: into the log instead, where a server's
    operator finds them. Ray offers no switch for it; its module-level printer is replaced."""
    worker = getattr(getattr(ray, "_private", None), "worker", None)
    printer = getattr(worker, "print_to_stdstream", None)
    if printer is None or getattr(printer, "_resnet_viz", False):
        return

    def to_log(data: dict[str, Any], ignore_prefix: bool = False) -> None:
        if data.get("pid") == "raylet":
            log.info("Ray: %s", " ".join(str(line) for line in data.get("lines", ())))
        else:
            printer(data, ignore_prefix)

    to_log._resnet_viz = True  # type: ignore[attr-defined]
    worker.print_to_stdstream = to_log


def _start_local(ray: Any) -> None:
    """Start a Ray instance on this machine. Its processes die with the thread that started them
    (Linux's parent-death signal is per thread): under Streamlit that is a script thread, which
    ends after each rerun, so a thread that lives as long as the server starts them."""
    if threading.current_thread() is threading.main_thread():
        ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        return
    result: list[BaseException | None] = []
    started = threading.Event()

    def keeper() -> None:
        try:
            ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
            result.append(None)
        except BaseException as exc:  # noqa: BLE001 (handed to the caller)
            result.append(exc)
        started.set()
        if result[0] is None:
            threading.Event().wait()

    threading.Thread(target=keeper, name="ray-local", daemon=True).start()
    started.wait()
    if result[0] is not None:
        raise result[0]


def cluster_slots() -> int:
    """Jobs the cluster can train at once: its GPUs when it has any (one job each), else its CPUs."""
    import ray

    res = ray.cluster_resources()
    return max(1, int(res.get("GPU", 0)) or int(res.get("CPU", 1)))
