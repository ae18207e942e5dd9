"""Pick the best available device, seed every random generator, and describe the environment."""

from __future__ import annotations

import os
import platform
import random

import numpy as np
import torch

from . import config

_KNOWN = ("cuda", "mps", "cpu")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _available(kind: str) -> bool:
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return _mps_available()
    return kind == "cpu"


def get_device(prefer: str | None = None) -> torch.device:
    """Return the device to compute on: ``prefer``, else ``$COURSE_DEVICE``, else cuda, mps, cpu.

    Asking for a device that is not present raises a ``RuntimeError`` that says what is present,
    so a notebook never silently runs somewhere other than where the learner asked.
    """
    wanted = prefer if prefer is not None else os.environ.get("COURSE_DEVICE") or None
    if wanted is not None:
        if not isinstance(wanted, str):
            raise TypeError(f"get_device(prefer=...) takes a string such as 'cpu', got {wanted!r}")
        kind = wanted.strip().lower().split(":")[0]
        if kind not in _KNOWN:
            raise ValueError(f"unknown device {wanted!r}; choose one of {', '.join(_KNOWN)}")
        if not _available(kind):
            present = ", ".join(k for k in _KNOWN if _available(k))
            source = "prefer=" if prefer is not None else "COURSE_DEVICE="
            raise RuntimeError(
                f"{source}{wanted!r} asks for {kind}, which this machine does not have "
                f"(available: {present}). Unset COURSE_DEVICE or choose one of those."
            )
        return torch.device(wanted.strip().lower())
    for kind in _KNOWN:
        if _available(kind):
            return torch.device(kind)
    return torch.device("cpu")  # pragma: no cover - cpu is always available


def is_main_process() -> bool:
    """True unless this is a ``torch.distributed`` process of rank > 0: the process that logs and saves."""
    dist = torch.distributed
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's generators (all devices) for a reproducible run."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def describe() -> str:
    """One short report: Python, PyTorch and NumPy versions, the device and its memory, FAST mode."""
    device = get_device()
    lines = [
        f"Python {platform.python_version()} | PyTorch {torch.__version__} | NumPy {np.__version__}",
        f"device: {device.type}",
    ]
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        lines[-1] += f" ({props.name}, {props.total_memory / 2**30:.1f} GiB)"
    elif device.type == "mps":
        lines[-1] += " (Apple GPU, memory shared with the CPU)"
    else:
        lines[-1] += f" ({os.cpu_count()} cores; PyTorch uses {torch.get_num_threads()} of them)"
    lines.append(
        "FAST mode: on (small data and few steps)" if config.FAST else "FAST mode: off (full runs)"
    )
    return "\n".join(lines)
