"""The Ray executor against a real `ray start --head` (issue 29): reached by its address with its
token, a missing or wrong token said in one sentence, and a head killed mid-job failing the job
and its runs with a sentence, never a traceback. Each command runs in its own process, as a
user's would; the head runs in a HOME of its own, whose ~/.ray/auth_token makes it ask for a token."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[cluster]'")
pytestmark = pytest.mark.slow

RAY = str(Path(sys.executable).parent / "ray")
ROOT = Path(__file__).resolve().parents[1]
RAY_NOISE = ("InvalidAuthToken", "gcs_client", "Traceback", "(raylet)", "Raylet is terminated")


@dataclass
class Head:
    address: str
    home: Path  # HOME with .ray/auth_token: the head's token, as `ray start` finds it
    temp: Path  # the head's --temp-dir: every one of its processes names it (so it can be killed alone)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        return {**env, "HOME": str(self.home), "PYTHONUNBUFFERED": "1", **extra}

    def kill(self) -> None:
        """SIGKILL every process whose command line names the head's temp dir (no pkill needed)."""
        import signal

        mark = str(self.temp).encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            try:
                if mark in (proc / "cmdline").read_bytes():
                    os.kill(int(proc.name), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                continue


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_head() -> Head:
    base = Path(tempfile.mkdtemp(prefix="rh", dir="/tmp"))  # short: Ray's socket paths have a length limit
    home, temp = base / "home", base / "t"
    home.mkdir()
    head = Head(f"127.0.0.1:{_free_port()}", home, temp)
    env = head.env()
    # A token in HOME makes `ray start --head` (Ray 2.59+) enable token authentication.
    subprocess.run([RAY, "get-auth-token", "--generate"], env=env, capture_output=True, check=True, timeout=60)
    subprocess.run(
        [RAY, "start", "--head", "--port", head.address.rsplit(":", 1)[1], "--num-cpus", "2"]
        + ["--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", str(temp)],
        env=env,
        capture_output=True,
        check=True,
        timeout=120,
    )
    return head


@pytest.fixture(scope="module")
def head() -> Iterator[Head]:
    h = start_head()
    try:
        yield h
    finally:
        h.kill()


def cli(head: Head, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "resnet_viz.cli", *args],
        check=False,
        cwd=ROOT,
        env=env or head.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _statuses(runs: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(runs.glob("*/status.json"))]


def test_train_by_address_reaches_the_head_with_its_token(head: Head, tmp_path: Path) -> None:
    out = cli(
        head, "train", "--ray", head.address, "--dataset", "digits", "--depth", "8", "--steps", "20",
        "--runs-dir", str(tmp_path),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "training runs on this machine" not in out.stderr
    assert "trained on" in out.stderr and "on cluster node" in out.stderr  # the run names the node
    assert not [n for n in RAY_NOISE if n in out.stdout + out.stderr]
    statuses = _statuses(tmp_path)
    assert len(statuses) == 2 and all(s["status"] == "finished" and s.get("node") for s in statuses)


def test_sweep_by_address(head: Head, tmp_path: Path) -> None:
    out = cli(
        head, "sweep", "--ray", head.address, "--dataset", "digits", "--depths", "8", "--seeds", "0,1",
        "--steps", "10", "--runs-dir", str(tmp_path),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "training runs on this machine" not in out.stderr
    assert not [n for n in RAY_NOISE if n in out.stdout + out.stderr]
    assert len(_statuses(tmp_path)) == 4 and all(s.get("node") for s in _statuses(tmp_path))


def test_the_app_reaches_the_head_through_its_environment_variable(head: Head) -> None:
    # The app's job queue (what the sidebar and every page use), in a process of its own.
    script = (
        "from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig\n"
        "from resnet_viz.engine.runner import JobQueue\n"
        "q = JobQueue(warm=False)\n"
        "print('address', q.ray_address, 'note', q.executor_note)\n"
        "job = q.submit([ModelConfig(depth=8, width=4)], DataConfig(), TrainConfig(steps=5), owner='t', bounded=False)\n"
        "job.wait(120)\n"
        "s = job.snapshot()\n"
        "print('state', s.state, 'device', s.device)\n"
        "q.close()\n"
    )
    env = head.env(RESNET_VIZ_RAY_ADDRESS=head.address)
    out = subprocess.run(
        [sys.executable, "-c", script], check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert f"address {head.address} note None" in out.stdout
    assert "state finished" in out.stdout and "on cluster node" in out.stdout
    assert not [n for n in RAY_NOISE if n in out.stdout + out.stderr]


@pytest.mark.parametrize(
    ("token", "says"),
    [
        ("wrong", "refused the token from RAY_AUTH_TOKEN: it is not the head's"),
        (None, "asks for its token and none is set on this machine"),
    ],
)
def test_a_missing_or_wrong_token_is_one_sentence(head: Head, tmp_path: Path, token: str | None, says: str) -> None:
    env = head.env(RAY_AUTH_TOKEN=token) if token else head.env(HOME=str(tmp_path))  # an empty HOME: no token
    out = cli(head, "train", "--ray", head.address, "--depth", "8", "--steps", "5", "--no-save", env=env)
    assert out.returncode == 0, out.stderr  # it trains on this machine instead, as for any unreachable cluster
    lines = [line for line in out.stderr.splitlines() if "Ray cluster" in line]
    assert len(lines) == 1 and says in lines[0] and "training runs on this machine instead" in lines[0]
    assert token is None or token not in lines[0].replace("RAY_AUTH_TOKEN", "")  # never the token itself
    assert not [n for n in RAY_NOISE if n in out.stdout + out.stderr]


def test_a_head_killed_mid_job_fails_the_job_and_its_runs_with_a_sentence(tmp_path: Path) -> None:
    head = start_head()
    err_path = tmp_path / "stderr.txt"
    runs = tmp_path / "runs"
    try:
        with open(err_path, "w") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "resnet_viz.cli", "train", "--ray", head.address, "--dataset", "digits"]
                + ["--depth", "56", "--steps", "3000", "--runs-dir", str(runs)],
                cwd=ROOT,
                env=head.env(),
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:  # the progress bar says the cluster trains it
                steps = [int(n) for n in re.findall(r" (\d+)/3000 ", err_path.read_text(errors="replace"))]
                if steps and max(steps) >= 20:
                    break
                assert proc.poll() is None, err_path.read_text()
                time.sleep(0.5)
            else:
                pytest.fail("the job did not start on the cluster")
            head.kill()
            stdout, _ = proc.communicate(timeout=120)
    finally:
        head.kill()
    stderr = err_path.read_text(errors="replace")
    assert proc.returncode == 1, stderr
    errors = [line for line in stderr.splitlines() if "went away" in line]
    assert len(errors) == 1 and f"the Ray cluster at {head.address} went away at step" in errors[0]
    assert not [n for n in RAY_NOISE if n in stdout + stderr]
    statuses = _statuses(runs)
    assert [s["status"] for s in statuses] == ["failed", "failed"]
    assert all(s["message"].startswith(f"the Ray cluster at {head.address} went away at step") for s in statuses)
