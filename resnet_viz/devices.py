"""Pick the training device and describe it in one line for the UI and the CLI.

No streamlit here: the CLI and the tests use the same functions as the app.
"""

from __future__ import annotations

import torch

from resnet_viz.config import DEVICES, ConfigError

__all__ = ["describe_device", "mps_available", "select_device"]


def mps_available() -> bool:
    """Apple-silicon GPU backend; ``torch.backends.mps`` is missing on some builds."""
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _torch_version() -> str:
    # "2.14.1+cu130" -> "2.14.1": the build tag is noise next to the device name.
    return torch.__version__.split("+")[0]


def select_device(pref: str = "auto") -> torch.device:
    """Return the device for ``pref``: "auto" picks CUDA, then MPS, then CPU.

    "cuda" may carry an index ("cuda:1"). Asking for a backend this machine lacks raises
    :class:`ConfigError` rather than silently training somewhere else.
    """
    kind, _, index = str(pref).partition(":")
    if kind not in DEVICES or (index and (kind != "cuda" or not index.isdigit())):
        raise ConfigError(f"device must be one of {', '.join(DEVICES)} (or cuda:N); got {pref!r}")
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            built = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
            raise ConfigError(
                f"device 'cuda' was requested but no CUDA GPU is usable here "
                f"(torch {_torch_version()}, {built}); choose 'auto' or 'cpu'"
            )
        if index and int(index) >= torch.cuda.device_count():
            raise ConfigError(f"device {pref!r} was requested but only {torch.cuda.device_count()} CUDA GPU(s) exist")
        return torch.device(str(pref))
    if kind == "mps":
        if not mps_available():
            raise ConfigError(
                "device 'mps' was requested but the Apple-silicon GPU backend is not available here; "
                "choose 'auto' or 'cpu'"
            )
        return torch.device("mps")
    return torch.device("cpu")


def describe_device(device: torch.device | str, threads: int | None = None) -> str:
    """One line naming the hardware, e.g. "NVIDIA H100 80GB HBM3 (CUDA, bf16; torch 2.14.1)"
    or "CPU, 2 threads (torch 2.14.1)"."""
    device = torch.device(device)
    version = _torch_version()
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        # bf16 is native from Ampere (sm_80) on; older GPUs only emulate it, slowly.
        precision = "bf16" if torch.cuda.get_device_capability(device) >= (8, 0) else "fp32"
        return f"{name} (CUDA, {precision}; torch {version})"
    if device.type == "mps":
        return f"Apple GPU (MPS; torch {version})"
    threads = threads or torch.get_num_threads()  # the app's worker process may use fewer
    return f"CPU, {threads} thread{'s' if threads != 1 else ''} (torch {version})"
