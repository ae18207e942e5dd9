"""Checkpoints (chapter 06): what a run recorded, every random state, atomic save and load.

``save_checkpoint`` writes model, optimizer, scheduler, gradient scaler, step, ``History``, the
random states of Python, NumPy and PyTorch, and your own ``extra`` values to a temporary file and
then renames it, so a crash never leaves half a checkpoint. ``load_checkpoint`` reads it back with
``torch.load(weights_only=True)`` (no code from the file runs) and says precisely what is wrong
when it cannot: a damaged file, a value it refuses, or a checkpoint from another model.
``course_lib.train.fit`` uses both to resume a run exactly where it stopped.
"""

from __future__ import annotations

import math
import os
import pickle
import random
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "CheckpointError",
    "History",
    "load_checkpoint",
    "rng_state",
    "save_checkpoint",
    "set_rng_state",
    "unwrap",
]

FORMAT = (
    "course_lib.train/1"  # the format tag of every checkpoint (kept as written since chapter 06)
)


class CheckpointError(ValueError):
    """A checkpoint file is corrupt, truncated, not a course checkpoint, or from another model."""


# --------------------------------------------------------------------------------------------
# History


@dataclass
class History:
    """What a run recorded. ``train``: ``(step, loss)``; ``val``: ``(step, {"loss": .., **metrics})``."""

    train: list[tuple[int, float]] = field(default_factory=list)
    val: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    lr: list[tuple[int, float]] = field(default_factory=list)
    best_val_loss: float = math.inf
    best_step: int = -1
    steps_done: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain Python containers only, so ``torch.load(weights_only=True)`` can read it back."""
        return {
            "train": [(int(s), float(v)) for s, v in self.train],
            "val": [(int(s), {k: float(x) for k, x in d.items()}) for s, d in self.val],
            "lr": [(int(s), float(v)) for s, v in self.lr],
            "best_val_loss": float(self.best_val_loss),
            "best_step": int(self.best_step),
            "steps_done": int(self.steps_done),
            "seconds": float(self.seconds),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        """Inverse of ``to_dict``."""
        return cls(
            train=[(int(s), float(v)) for s, v in d.get("train", [])],
            val=[(int(s), dict(m)) for s, m in d.get("val", [])],
            lr=[(int(s), float(v)) for s, v in d.get("lr", [])],
            best_val_loss=float(d.get("best_val_loss", math.inf)),
            best_step=int(d.get("best_step", -1)),
            steps_done=int(d.get("steps_done", 0)),
            seconds=float(d.get("seconds", 0.0)),
        )

    def metric(self, name: str) -> tuple[list[int], list[float]]:
        """Steps and values of one validation metric: ``steps, acc = history.metric("acc")``."""
        pairs = [(s, d[name]) for s, d in self.val if name in d]
        return [s for s, _ in pairs], [v for _, v in pairs]

    def __repr__(self) -> str:
        last = f"{self.train[-1][1]:.4f}" if self.train else "-"
        return (
            f"History(steps_done={self.steps_done}, last train loss={last}, "
            f"best val loss={self.best_val_loss:.4f}, {self.seconds:.1f} s)"
        )


# --------------------------------------------------------------------------------------------
# Random states


def rng_state() -> dict[str, Any]:
    """Every generator a training step may draw from (Python, NumPy, PyTorch CPU and CUDA), in a
    form ``torch.load(weights_only=True)`` reads back."""
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Put back what ``rng_state`` returned: the same random numbers follow, in every generator."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])


# --------------------------------------------------------------------------------------------
# Save and load


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DDP / compiled wrapper, so its checkpoint loads into a plain model."""
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner


def _plain(value: Any, where: str) -> Any:
    """``value`` with NumPy numbers and arrays turned into Python numbers and tensors; raises a
    ``TypeError`` naming ``where`` for a type ``torch.load(weights_only=True)`` cannot read."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(value, dict):
        return {k: _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise TypeError(
        f"save_checkpoint cannot store {where} of type {type(value).__name__}: a checkpoint holds "
        "numbers, strings, tensors and lists or dicts of them; convert it (e.g. str(value)) first"
    )


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    optimizer: Any = None,
    scheduler: Any = None,
    *,
    step: int = 0,
    history: History | None = None,
    scaler: Any = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save everything needed to resume, atomically: write a temporary file, then rename it.

    A failure at any point (disk full, interrupt) leaves the previous checkpoint intact.
    ``extra`` holds your own values: numbers, strings, tensors, NumPy values (stored as Python
    numbers and tensors) and lists or dicts of them, so that ``load_checkpoint`` (which reads with
    ``weights_only=True``) can read them back. Anything else raises a ``TypeError`` here.
    """
    path = Path(path)
    extra = _plain(extra or {}, "extra")
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {
        "format": FORMAT,
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
        "step": int(step),
        "history": (history or History()).to_dict(),
        "rng": rng_state(),
        "extra": extra,
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(ckpt, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _check_same_model(path: Path, saved: dict[str, Any], model: nn.Module) -> None:
    own = model.state_dict()
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    shapes = [
        f"{k} (checkpoint {tuple(saved[k].shape)} vs model {tuple(own[k].shape)})"
        for k in own
        if k in saved
        and hasattr(saved[k], "shape")
        and tuple(saved[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(
                f"missing from the checkpoint: {', '.join(missing[:5])}"
                + (" ..." if len(missing) > 5 else "")
            )
        if unexpected:
            parts.append(
                f"not in the model: {', '.join(unexpected[:5])}"
                + (" ..." if len(unexpected) > 5 else "")
            )
        if shapes:
            parts.append(
                f"shape mismatch: {', '.join(shapes[:5])}" + (" ..." if len(shapes) > 5 else "")
            )
        raise CheckpointError(
            f"checkpoint {path.name} was saved from a different model ({'; '.join(parts)}). "
            "Build the same model as when it was saved, or use another checkpoint path."
        )


def _unreadable(path: Path, e: Exception) -> CheckpointError:
    return CheckpointError(
        f"checkpoint {path.name} is corrupt or truncated and cannot be read "
        f"({type(e).__name__}: {str(e).strip()[:300]}); move it aside (or pass resume=False) "
        "and train again."
    )


def load_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module | None = None,
    optimizer: Any = None,
    scheduler: Any = None,
    *,
    scaler: Any = None,
    restore_rng: bool = False,
) -> dict[str, Any]:
    """Load a checkpoint (``weights_only=True``) into whatever is given; return the whole dict.

    Raises ``FileNotFoundError`` if there is no file and ``CheckpointError`` (a ``ValueError``)
    for a corrupt or truncated file, a file that is not a course checkpoint, or one saved from a
    different model (the message names the mismatched parameters).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file {path.name} in {path.parent.name or '.'}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        why = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        if why is None:  # not a refused type: the bytes themselves are damaged
            raise _unreadable(path, e) from None
        raise CheckpointError(
            f"checkpoint {path.name} is intact but holds a {why.group(1)}, which "
            "torch.load(weights_only=True) refuses to load; if you trust the file, read it with "
            "torch.load(path, weights_only=False) and save it again with plain Python values."
        ) from None
    except Exception as e:
        raise _unreadable(path, e) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(
            f"{path.name} is not a course_lib.train checkpoint (expected a dict with format {FORMAT!r})"
        )
    if model is not None:
        target = unwrap(model)
        _check_same_model(path, ckpt["model"], target)
        target.load_state_dict(ckpt["model"])
    if optimizer is not None and ckpt.get("optimizer") is not None:
        try:
            optimizer.load_state_dict(ckpt["optimizer"])
        except (ValueError, KeyError, RuntimeError) as e:
            raise CheckpointError(
                f"checkpoint {path.name}: the optimizer state does not fit this optimizer ({e})"
            ) from None
    if scheduler is not None and ckpt.get("scheduler") is not None:
        scheduler.load_state_dict(ckpt["scheduler"])
    if scaler is not None and ckpt.get("scaler") is not None:
        scaler.load_state_dict(ckpt["scaler"])
    if restore_rng:
        set_rng_state(ckpt["rng"])
    return ckpt
