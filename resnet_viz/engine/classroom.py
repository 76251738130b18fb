"""Classroom mode's engine: the teacher's key, and the class record kept in the run store.

Off unless the server is started with RESNET_VIZ_TEACHER_KEY. The key is checked only here, on
the server: in constant time (hmac.compare_digest), one check at a time server-wide, and a wrong
key holds that one place for a delay that grows with the recent failures, so guessing is slow
however many sessions try at once. A browser that gave the right key keeps a cookie signed with
it (the signature, never the key), valid for TEACHER_HOURS.

The class record, ``<runs>/.classroom/class.json`` (hidden: the run store's listings skip it),
keeps what the teacher's page shows beside the runs themselves, so it survives a restart:

- ``students``: browser (its owner key) -> "student N", numbered in order of arrival;
- ``jobs``: job id -> its student and when it was pressed (the runs' folders carry the job id);
- ``predictions``: question -> "before" / "after" the learner saw the answer -> per browser (a salted
  hash, so the record does not link a prediction to a student number) -> the option chosen; pages
  show counts only;
- ``assignment``: the teacher's list of parts, the next one to give, and which browser got which;
- ``shared``: whether the teacher asked every student's page to show the class's chart.

The server is the only writer (Ray workers write runs, never this file); every change rewrites
the file atomically under one lock.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from resnet_viz.engine.config import ConfigError, check_cifar_depth
from resnet_viz.engine.runs.files import RunStoreError, read_json, utcnow, write_json
from resnet_viz.i18n import _

log = logging.getLogger(__name__)

TEACHER_ENV = "RESNET_VIZ_TEACHER_KEY"
TEACHER_COOKIE = "resnet_lab_teacher"  # "<issued unix time>.<HMAC of it under the key>"
TEACHER_HOURS = 12  # a teacher's browser asks for the key again after this long
MIN_KEY_LENGTH = 8  # a shorter key is refused: teacher mode stays off and the page says why
CLASS_DIR = ".classroom"
CLASS_FILE = "class.json"
Kind = Literal["plain", "residual"]
Phase = Literal["before", "after"]  # a prediction committed before / after the learner saw its answer


# -- the key ------------------------------------------------------------------------------------


def teacher_key() -> str | None:
    """The key from the environment, or None when teacher mode is off (unset, blank, too short)."""
    key = os.environ.get(TEACHER_ENV, "").strip()
    return key if len(key) >= MIN_KEY_LENGTH else None


def key_problem() -> str | None:
    """Why a key that is set does not turn teacher mode on (never the key itself), else None."""
    raw = os.environ.get(TEACHER_ENV)
    if raw is None or teacher_key() is not None:
        return None
    return _("{env} is set but shorter than {n} characters, so teacher mode is off.").format(
        env=TEACHER_ENV, n=MIN_KEY_LENGTH
    )


def enabled() -> bool:
    return teacher_key() is not None


_CHECK_LOCK = threading.Lock()  # one key check at a time, server-wide
_FAILURES: list[float] = []  # monotonic times of recent wrong keys
FAILURE_WINDOW = 600.0  # s over which failures count toward the delay


def failure_delay(recent: int) -> float:
    """Seconds a wrong key holds the check: 1 s, doubling with each recent failure, at most 8 s."""
    return float(min(8, 2 ** min(recent, 3)))


def check_key(given: str, *, sleep=time.sleep) -> bool:
    """Whether `given` is the teacher key. Constant-time; a wrong one waits `failure_delay` while
    holding the server's one check, so parallel guesses queue behind it."""
    key = teacher_key()
    with _CHECK_LOCK:
        # Compare digests: equal length whatever was typed, so the time says nothing of the key.
        ok = key is not None and hmac.compare_digest(
            hashlib.sha256(given.encode()).digest(), hashlib.sha256(key.encode()).digest()
        )
        if not ok:
            now = time.monotonic()
            _FAILURES[:] = [t for t in _FAILURES if now - t < FAILURE_WINDOW] + [now]
            log.info("a wrong teacher key was given (%d in the last %.0f s)", len(_FAILURES), FAILURE_WINDOW)
            sleep(failure_delay(len(_FAILURES) - 1))
        return ok


def sign_teacher(key: str, issued: int | None = None) -> str:
    """The teacher cookie's value: when it was issued and an HMAC of that under the key."""
    issued = int(time.time()) if issued is None else int(issued)
    mac = hmac.new(key.encode(), f"resnet-lab-teacher:{issued}".encode(), hashlib.sha256).hexdigest()
    return f"{issued}.{mac}"


_COOKIE = re.compile(r"^(\d{1,12})\.([0-9a-f]{64})$")


def teacher_cookie_ok(value: str | None, *, now: float | None = None) -> bool:
    """Whether a cookie's value was signed with this server's key within TEACHER_HOURS."""
    key = teacher_key()
    match = _COOKIE.match(value or "")
    if key is None or match is None:
        return False
    issued = int(match.group(1))
    now = time.time() if now is None else now
    if not -60 <= now - issued <= TEACHER_HOURS * 3600:
        return False
    return hmac.compare_digest(sign_teacher(key, issued), value or "")


# -- the assignment -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One student's part of the class experiment: a net of one depth and kind on a dataset."""

    dataset: str  # a dataset the live page offers (resnet_viz.engine.data.WEB_DATASETS)
    depth: int  # 6n+2 weighted layers
    kind: Kind  # which of the twins this student trains

    def __post_init__(self) -> None:
        from resnet_viz.engine.data import WEB_DATASETS

        if self.dataset not in WEB_DATASETS:
            raise ConfigError(_("dataset must be one of {choices}").format(choices=", ".join(WEB_DATASETS)))
        if not isinstance(self.depth, int) or isinstance(self.depth, bool):
            raise ConfigError(_("depth must be a whole number"))
        check_cifar_depth(self.depth)
        if self.kind not in ("plain", "residual"):
            raise ConfigError(_("kind must be plain or residual"))

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.depth}"


def parts(dataset: str, depths, kinds) -> list[Part]:
    """The assignment's parts in the order they are given: each depth, plain then residual."""
    return [Part(dataset, int(d), k) for d in sorted(set(depths)) for k in ("plain", "residual") if k in set(kinds)]


# -- the class record -----------------------------------------------------------------------------


def _empty() -> dict[str, Any]:
    return {
        "version": 1,
        "salt": secrets.token_hex(16),
        "students": {},
        "jobs": {},
        "predictions": {},
        "assignment": None,
        "shared": {"on": False, "since": None},
    }


class Classroom:
    """The class record of one run store, in memory and on disk. Get it with `at(root)`."""

    def __init__(self, root: str | Path) -> None:
        self.path = Path(root).expanduser().absolute() / CLASS_DIR / CLASS_FILE
        self._lock = threading.Lock()
        self.problem: str | None = None  # why an earlier record was set aside (pages say it)
        self._state = self._load()

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return _empty()
        try:
            state = read_json(self.path)
            if not isinstance(state, dict) or state.get("version") != 1 or not isinstance(state.get("salt"), str):
                raise RunStoreError(_("{file} is not a class record of this version").format(file=CLASS_FILE))
            fresh = _empty()
            for field, value in fresh.items():  # a field of the wrong type starts empty; the rest is kept
                if not isinstance(state.get(field), type(value)) and field != "assignment":
                    state[field] = value
            if state.get("assignment") is not None and not _assignment_ok(state["assignment"]):
                state["assignment"] = None
            return state
        except RunStoreError as exc:  # kept beside, never deleted: nothing is lost
            aside = self.path.with_name(f"{CLASS_FILE}.damaged-{int(time.time())}")
            try:
                self.path.replace(aside)
            except OSError:
                pass
            self.problem = _("The class record could not be read ({reason}); it was set aside as {name}.").format(
                reason=exc, name=aside.name
            )
            log.warning("%s", self.problem)
            return _empty()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json(self.path, self._state)

    # -- students and jobs

    def student(self, owner: str) -> int:
        """This browser's number, given on first sight and kept."""
        with self._lock:
            students = self._state["students"]
            if owner not in students:
                students[owner] = len(students) + 1
                self._save()
            return int(students[owner])

    def known_student(self, owner: str) -> int | None:
        with self._lock:
            n = self._state["students"].get(owner)
        return int(n) if isinstance(n, int) else None

    def job(self, job_id: str, owner: str) -> int:
        """Record that `owner` pressed the job `job_id`; returns their number."""
        n = self.student(owner)
        with self._lock:
            self._state["jobs"][job_id] = {"student": n, "created": utcnow().isoformat(timespec="seconds")}
            self._save()
        return n

    def student_of_job(self, job_id: str) -> int | None:
        with self._lock:
            entry = self._state["jobs"].get(job_id)
        n = entry.get("student") if isinstance(entry, dict) else None
        return n if isinstance(n, int) else None

    # -- predictions

    def predict(self, question: str, option: str, owner: str, phase: Phase) -> None:
        """One browser's prediction; a later one of the same browser and phase replaces it."""
        if phase not in ("before", "after"):
            raise ValueError(f"phase must be before or after, not {phase!r}")
        with self._lock:
            who = hmac.new(self._state["salt"].encode(), owner.encode(), hashlib.sha256).hexdigest()[:16]
            by_phase = self._state["predictions"].setdefault(str(question), {})
            if not isinstance(by_phase, dict):
                by_phase = self._state["predictions"][str(question)] = {}
            by_phase.setdefault(phase, {})[who] = str(option)
            self._save()

    def prediction_counts(self) -> dict[str, dict[str, dict[str, int]]]:
        """question -> phase -> option -> how many browsers chose it."""
        out: dict[str, dict[str, dict[str, int]]] = {}
        with self._lock:
            for question, by_phase in self._state["predictions"].items():
                if not isinstance(by_phase, dict):
                    continue
                for phase in ("before", "after"):
                    chosen = by_phase.get(phase)
                    if isinstance(chosen, dict):
                        for option in chosen.values():
                            counts = out.setdefault(question, {}).setdefault(phase, {})
                            counts[str(option)] = counts.get(str(option), 0) + 1
        return out

    # -- the assignment

    def set_assignment(self, parts: list[Part]) -> None:
        """A new list of parts (empty: none); browsers joining from now on get them in order."""
        with self._lock:
            self._state["assignment"] = (
                {"id": secrets.token_hex(4), "parts": [asdict(p) for p in parts], "next": 0, "given": {}}
                if parts
                else None
            )
            self._save()

    def assignment(self) -> tuple[list[Part], int, int] | None:
        """(parts, how many browsers got one, the index the next one gets), or None."""
        with self._lock:
            a = self._state["assignment"]
            if a is None:
                return None
            return [Part(**p) for p in a["parts"]], len(a["given"]), int(a["next"]) % len(a["parts"])

    def part_for(self, owner: str) -> tuple[int, Part, int] | None:
        """This browser's part (index in the list, part, round): given now if it has none, the same
        one afterwards. After the last part the list starts again with the next seed (round 1 trains
        seed 1), so a class larger than the list repeats each part on a new seed, not the same run."""
        with self._lock:
            a = self._state["assignment"]
            if a is None:
                return None
            if owner not in a["given"]:
                a["given"][owner] = a["next"]
                a["next"] += 1
                self._save()
            n, size = int(a["given"][owner]), len(a["parts"])
            return n % size, Part(**a["parts"][n % size]), n // size

    # -- sharing the class chart

    def share(self, on: bool, recipe: str | None = None) -> None:
        """Ask every student's page to show the class chart of `recipe` (a pool key), or stop."""
        with self._lock:
            self._state["shared"] = {
                "on": bool(on),
                "recipe": recipe if on else None,
                "since": utcnow().isoformat(timespec="seconds") if on else None,
            }
            self._save()

    @property
    def shared(self) -> str | None:
        """The recipe (pool key) the teacher shares with every student's page, or None."""
        with self._lock:
            shared = self._state["shared"]
            recipe = shared.get("recipe")
            return recipe if shared.get("on") and isinstance(recipe, str) else None


def _assignment_ok(a: Any) -> bool:
    try:
        ps = [Part(**p) for p in a["parts"]]
        return bool(ps) and isinstance(a["next"], int) and isinstance(a["given"], dict)
    except (TypeError, KeyError, ConfigError):
        return False


_ROOMS: dict[Path, Classroom] = {}
_ROOMS_LOCK = threading.Lock()


def at(root: str | Path) -> Classroom:
    """The class record of the run store at `root`, one per server process."""
    path = Path(root).expanduser().absolute()
    with _ROOMS_LOCK:
        if path not in _ROOMS:
            _ROOMS[path] = Classroom(path)
        return _ROOMS[path]


def forget() -> None:
    """Drop the records held in memory (tests: the next `at` reads the disk, as after a restart)."""
    with _ROOMS_LOCK:
        _ROOMS.clear()
