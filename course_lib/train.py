"""The one training loop of the course (chapters 06-12): ``fit``, ``evaluate`` and checkpoints.

``fit`` works with any model, loss and optimizer. It puts the model on the device, runs mixed
precision on CUDA (bf16 where supported, fp16 with a gradient scaler otherwise), clips gradients,
steps a schedule, evaluates now and then, shows a ``tqdm.auto`` progress bar, calls callbacks
(such as ``LivePlot``) and saves checkpoints atomically. Run it again with the same checkpoint
path and it resumes exactly where it stopped: model, optimizer, scheduler, step, random states,
history and the position inside the current pass over a ``DataLoader``.

The loop is lean: the loss is read back to the host only every ``log_every`` steps, so the GPU
(or the CPU) never waits for Python between steps.

>>> history = fit(model, torch.optim.AdamW(model.parameters()), train_loader, steps=500,
...               loss_fn=F.cross_entropy, val_data=val_loader, metrics={"acc": accuracy})
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .device import get_device
from .nn import accuracy  # one definition, re-exported here for metrics={"acc": accuracy}

__all__ = [
    "CheckpointError",
    "EarlyStopping",
    "History",
    "LivePlot",
    "StopTraining",
    "accuracy",
    "evaluate",
    "fit",
    "load_checkpoint",
    "save_checkpoint",
]

FORMAT = "course_lib.train/1"
Batch = tuple[Any, Any]
Callback = Callable[[str, "History", int], None]


class CheckpointError(ValueError):
    """A checkpoint file is corrupt, truncated, not a course checkpoint, or from another model."""


class StopTraining(Exception):
    """Raise from a callback to end ``fit`` cleanly after the current step (early stopping)."""


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
# Random states, batches, precision


def _rng_state() -> dict[str, Any]:
    """Every generator a training step may draw from, in a form ``weights_only`` loads."""
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


def _set_rng_state(state: dict[str, Any]) -> None:
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


def _to(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, (tuple, list)):
        return type(obj)(_to(o, device) for o in obj)
    if isinstance(obj, dict):
        return {k: _to(v, device) for k, v in obj.items()}
    return obj


def _batch_size(y: Any) -> int:
    if isinstance(y, torch.Tensor) and y.ndim > 0:
        return int(y.shape[0])
    return 1


def _resolve_amp(amp: str | None, device: torch.device) -> torch.dtype | None:
    if amp not in ("auto", "bf16", "fp16", None):
        raise ValueError(f"amp must be 'auto', 'bf16', 'fp16' or None, got {amp!r}")
    if amp is None:
        return None
    if amp == "auto":
        if device.type != "cuda":
            return None
        bf16_ok = getattr(torch.cuda, "is_bf16_supported", lambda: False)()
        return torch.bfloat16 if bf16_ok else torch.float16
    return torch.bfloat16 if amp == "bf16" else torch.float16


def _autocast(device: torch.device, dtype: torch.dtype | None) -> Any:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _make_scaler(device: torch.device, dtype: torch.dtype | None) -> Any:
    if dtype is not torch.float16:
        return None
    if hasattr(torch, "amp") and hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler(device.type)
    return torch.cuda.amp.GradScaler()  # pragma: no cover - old PyTorch


def _is_main_process() -> bool:
    dist = torch.distributed
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _forward(
    model: nn.Module, loss_fn: Callable[..., Any] | None, x: Any, y: Any
) -> tuple[Any, Any]:
    if loss_fn is None:
        try:
            out = model(x, y)
        except TypeError as e:
            if "positional argument" not in str(e):
                raise
            raise TypeError(
                f"with loss_fn=None the model must return (output, loss) from model(x, y), like GPT, "
                f"but calling it with (x, y) failed ({e}). Pass loss_fn=F.cross_entropy (or similar)."
            ) from None
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError(
                "with loss_fn=None the model must return (output, loss) from model(x, y), like GPT; "
                f"it returned {type(out).__name__}. Pass loss_fn=F.cross_entropy (or similar) instead."
            )
        return out[0], out[1]
    out = model(x)
    return out, loss_fn(out, y)


def _split(batch: Any) -> Batch:
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    raise TypeError(
        f"each batch must be a pair (x, y); got {type(batch).__name__}"
        + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
    )


class _Batches:
    """Cycles an iterable of (x, y) pairs (a DataLoader) or calls ``batch_fn(i)``.

    For an iterable it remembers the random state at the start of the current pass and how many
    batches were taken since, so a resumed run can replay the pass to exactly the same place.
    """

    def __init__(self, data: Any, name: str) -> None:
        if callable(data) and not hasattr(data, "__iter__"):
            self.fn: Callable[[int], Any] | None = data
            self.data = None
        elif isinstance(data, Iterable):
            self.fn, self.data = None, data
        else:
            raise TypeError(
                f"{name} must be a callable batch_fn(step) -> (x, y) or an iterable of (x, y) "
                f"such as a DataLoader; got {type(data).__name__}"
            )
        self.name = name
        self.calls = 0  # batches drawn so far (argument of batch_fn)
        self.it: Iterator[Any] | None = None
        self.epoch_rng: dict[str, Any] | None = None
        self.consumed = 0

    def _new_pass(self) -> None:
        self.epoch_rng = _rng_state()
        self.it = iter(self.data)  # type: ignore[arg-type]
        self.consumed = 0

    def next(self) -> Batch:
        if self.fn is not None:
            batch = self.fn(self.calls)
        else:
            if self.it is None:
                self._new_pass()
            try:
                batch = next(self.it)  # type: ignore[arg-type]
            except StopIteration:
                if self.consumed == 0:
                    raise ValueError(
                        f"{self.name} produced no batches (is the data set empty?)"
                    ) from None
                self._new_pass()
                try:
                    batch = next(self.it)  # type: ignore[arg-type]
                except StopIteration:
                    raise ValueError(
                        f"{self.name} produced no batches on its second pass: an exhausted "
                        "generator cannot be cycled; pass a list or a DataLoader"
                    ) from None
            self.consumed += 1
        self.calls += 1
        return _split(batch)

    def state(self) -> dict[str, Any]:
        return {"calls": self.calls, "epoch_rng": self.epoch_rng, "consumed": self.consumed}

    def restore(self, state: dict[str, Any]) -> None:
        """Replay the current pass up to where the checkpoint was taken (random state restored after)."""
        self.calls = int(state.get("calls", 0))
        if self.fn is None and state.get("epoch_rng") is not None:
            _set_rng_state(state["epoch_rng"])
            self._new_pass()
            for _ in range(int(state.get("consumed", 0))):
                next(self.it)  # type: ignore[arg-type]
            self.consumed = int(state.get("consumed", 0))


# --------------------------------------------------------------------------------------------
# Evaluation


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Any,
    loss_fn: Callable[..., Any] | None = None,
    batches: int | None = 20,
    metrics: dict[str, Callable[[Any, Any], float]] | None = None,
    device: torch.device | str | None = None,
    amp: str | None = None,
    seed: int = 1234,
) -> dict[str, float]:
    """Average loss (and metrics) over ``batches`` batches of ``data``, in eval mode, without grads.

    ``data`` is a callable ``batch_fn(i) -> (x, y)`` or an iterable of ``(x, y)``;
    ``batches=None`` takes a whole pass over an iterable. Averages are weighted by batch size.
    The global random state is left untouched (random batch functions get the same batches at
    every evaluation, drawn with ``seed``), so evaluating never changes the course of training.
    """
    if batches is not None and batches <= 0:
        raise ValueError(f"batches must be positive or None, got {batches}")
    dev = torch.device(device) if device is not None else _model_device(model)
    dtype = _resolve_amp(amp, dev)
    source = _Batches(data, "val_data")
    if source.fn is not None and batches is None:
        raise ValueError(
            "batches=None (a whole pass) needs an iterable val_data, not a batch function"
        )
    was_training = model.training
    model.eval()
    fork_devices = (
        [dev.index if dev.index is not None else torch.cuda.current_device()]
        if dev.type == "cuda"
        else []
    )
    totals: dict[str, float] = {}
    count = 0
    try:
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(seed)
            if source.fn is None:
                source._new_pass()
            for _ in range(batches if batches is not None else 2**62):
                if source.fn is not None:
                    x, y = source.next()
                else:
                    try:
                        x, y = _split(next(source.it))  # type: ignore[arg-type]
                    except StopIteration:
                        break
                x, y = _to(x, dev), _to(y, dev)
                with _autocast(dev, dtype):
                    out, loss = _forward(model, loss_fn, x, y)
                n = _batch_size(y)
                totals["loss"] = totals.get("loss", 0.0) + float(loss) * n
                for name, fn in (metrics or {}).items():
                    totals[name] = totals.get(name, 0.0) + float(fn(out, y)) * n
                count += n
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("val_data produced no batches (is the validation set empty?)")
    return {k: v / count for k, v in totals.items()}


# --------------------------------------------------------------------------------------------
# Checkpoints


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
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {
        "format": FORMAT,
        "model": _unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "step": int(step),
        "history": (history or History()).to_dict(),
        "rng": _rng_state(),
        "extra": extra or {},
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


def _unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DDP / compiled wrapper, so its checkpoint loads into a plain model."""
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner


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
    except Exception as e:
        raise CheckpointError(
            f"checkpoint {path.name} is corrupt or truncated and cannot be read "
            f"({type(e).__name__}: {str(e)[:200]}). Delete it (or pass resume=False) and train again."
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(
            f"{path.name} is not a course_lib.train checkpoint (expected a dict with format {FORMAT!r})"
        )
    if model is not None:
        target = _unwrap(model)
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
        _set_rng_state(ckpt["rng"])
    return ckpt


# --------------------------------------------------------------------------------------------
# Progress


class _Progress:
    """A tqdm.auto bar that degrades to the plain bar, then to nothing; it never raises."""

    def __init__(self, enabled: bool, total: int, initial: int) -> None:
        self.bar = None
        if not enabled:
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "IProgress not found": we fall back quietly
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)
        except Exception:
            try:
                from tqdm.std import tqdm as std_tqdm

                self.bar = std_tqdm(total=total, initial=initial, unit="step")
            except Exception:
                self.bar = None

    def update(self, n: int, **postfix: Any) -> None:
        if self.bar is None:
            return
        try:
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(n)
        except Exception:
            self.bar = None

    def close(self) -> None:
        if self.bar is not None:
            with contextlib.suppress(Exception):
                self.bar.close()


# --------------------------------------------------------------------------------------------
# The loop


def fit(
    model: nn.Module,
    optimizer: Any,
    train_data: Any,
    steps: int = 2000,
    loss_fn: Callable[..., Any] | None = None,
    val_data: Any = None,
    eval_every: int = 250,
    eval_batches: int | None = 20,
    metrics: dict[str, Callable[[Any, Any], float]] | None = None,
    scheduler: Any = None,
    grad_clip: float | None = None,
    accumulate: int = 1,
    amp: str | None = "auto",
    device: torch.device | str | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = True,
    callbacks: Iterable[Callback] = (),
    progress: bool = True,
    log_every: int = 10,
) -> History:
    """Train ``model`` for ``steps`` optimizer steps (in total, counting resumed ones); return the History.

    ``train_data``: ``batch_fn(i) -> (x, y)`` (``i`` counts micro-batches) or an iterable of
    ``(x, y)`` such as a DataLoader (cycled). ``loss_fn=None``: ``model(x, y)`` returns
    ``(output, loss)``; otherwise ``loss = loss_fn(model(x), y)``. With ``checkpoint`` set, a
    checkpoint is written every ``checkpoint_every`` steps and at the end (and on an interrupt), and
    an existing one is resumed from when ``resume``. Callbacks ``cb(event, history, step)`` get the
    events "start", "log", "eval" and "end"; one may raise ``StopTraining`` to end early.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    for name, value in (
        ("steps", steps),
        ("accumulate", accumulate),
        ("log_every", log_every),
        ("eval_every", eval_every),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if checkpoint_every is not None and (
        not isinstance(checkpoint_every, int) or checkpoint_every <= 0
    ):
        raise ValueError(
            f"checkpoint_every must be a positive int or None, got {checkpoint_every!r}"
        )
    if grad_clip is not None and not grad_clip > 0:
        raise ValueError(f"grad_clip must be positive or None, got {grad_clip!r}")

    dev = torch.device(device) if device is not None else get_device()
    model.to(dev)
    dtype = _resolve_amp(amp, dev)
    scaler = _make_scaler(dev, dtype)
    batches = _Batches(train_data, "train_data")
    callbacks = list(callbacks)
    main = _is_main_process()
    history = History()
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    groups = getattr(optimizer, "param_groups", None)
    params = [p for g in groups for p in g["params"]] if groups else list(model.parameters())

    window = torch.zeros((), device=dev)  # running sum of micro-batch losses since the last log
    window_n = 0
    if ckpt_path is not None and resume and ckpt_path.is_file():
        ckpt = load_checkpoint(ckpt_path, model, optimizer, scheduler, scaler=scaler)
        history = History.from_dict(ckpt["history"])
        batches.restore(ckpt["extra"].get("data", {}))
        _set_rng_state(ckpt["rng"])
        window.fill_(float(ckpt["extra"].get("window", 0.0)))
        window_n = int(ckpt["extra"].get("window_n", 0))
        if main:
            print(f"resumed from checkpoint {ckpt_path.name} at step {history.steps_done}")
    step = history.steps_done
    if step >= steps:
        return history

    def save() -> None:
        if ckpt_path is None or not main:
            return
        history.steps_done = step
        extra = {"data": batches.state(), "window": float(window), "window_n": window_n}
        save_checkpoint(
            ckpt_path,
            model,
            optimizer,
            scheduler,
            step=step,
            history=history,
            scaler=scaler,
            extra=extra,
        )

    def emit(event: str) -> None:
        if main:
            for cb in callbacks:
                cb(event, history, step)

    bar = _Progress(progress and main, steps, step)
    start = time.perf_counter() - history.seconds
    last_logged = step
    no_sync = getattr(model, "no_sync", None)
    model.train()
    try:
        emit("start")
        while step < steps:
            for micro in range(accumulate):
                x, y = batches.next()
                x, y = _to(x, dev), _to(y, dev)
                sync_ctx = (
                    no_sync()
                    if (no_sync is not None and micro < accumulate - 1)
                    else contextlib.nullcontext()
                )
                with sync_ctx:
                    with _autocast(dev, dtype):
                        _, loss = _forward(model, loss_fn, x, y)
                    scaled = loss / accumulate if accumulate > 1 else loss
                    (scaler.scale(scaled) if scaler is not None else scaled).backward()
                window += loss.detach()
            window_n += accumulate
            if scaler is not None:
                if grad_clip is not None:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(params, grad_clip)
                scaler.step(optimizer)
                scaler.update()
            else:
                if grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(params, grad_clip)
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if scheduler is not None:
                scheduler.step()
            step += 1
            history.steps_done = step

            if step % log_every == 0 or step == steps:
                value = float(window) / max(window_n, 1)  # the one host sync per log_every steps
                window.zero_()
                window_n = 0
                if not math.isfinite(value):
                    raise FloatingPointError(
                        f"the training loss became {value} by step {step}; lower the learning rate, "
                        "set grad_clip, or check the data for nan/inf"
                    )
                history.train.append((step, value))
                history.lr.append((step, float(optimizer.param_groups[0]["lr"])))
                history.seconds = time.perf_counter() - start
                bar.update(step - last_logged, loss=f"{value:.4f}")
                last_logged = step
                emit("log")
            if val_data is not None and (step % eval_every == 0 or step == steps):
                result = evaluate(
                    model,
                    val_data,
                    loss_fn,
                    eval_batches,
                    metrics,
                    dev,
                    amp=None if dtype is None else amp,
                )
                history.val.append((step, result))
                if result["loss"] < history.best_val_loss:
                    history.best_val_loss, history.best_step = result["loss"], step
                emit("eval")
            if checkpoint_every is not None and step % checkpoint_every == 0 and step < steps:
                save()
    except StopTraining:
        pass
    except KeyboardInterrupt:
        history.seconds = time.perf_counter() - start
        save()
        bar.close()
        if main:
            where = " Checkpoint saved: run the same cell again to resume." if ckpt_path else ""
            print(f"interrupted at step {step}.{where}")
        return history
    finally:
        bar.close()
    history.seconds = time.perf_counter() - start
    emit("end")
    save()
    return history


# --------------------------------------------------------------------------------------------
# Callbacks


class EarlyStopping:
    """Stop when the validation loss has not improved for ``patience`` evaluations.

    With ``restore_best=True`` the model gets the weights of its best evaluation back at the end.
    """

    def __init__(
        self, model: nn.Module, patience: int = 3, min_delta: float = 0.0, restore_best: bool = True
    ) -> None:
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.model, self.patience, self.min_delta, self.restore_best = (
            model,
            patience,
            min_delta,
            restore_best,
        )
        self.best = math.inf
        self.bad = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stopped_at: int | None = None

    def __call__(self, event: str, history: History, step: int) -> None:
        if event == "eval":
            loss = history.val[-1][1]["loss"]
            if loss < self.best - self.min_delta:
                self.best, self.bad = loss, 0
                if self.restore_best:
                    self.best_state = {
                        k: v.detach().clone() for k, v in self.model.state_dict().items()
                    }
            else:
                self.bad += 1
                if self.bad >= self.patience:
                    self.stopped_at = step
                    self._restore()
                    raise StopTraining
        elif event == "end":
            self._restore()

    def _restore(self) -> None:
        if self.restore_best and self.best_state is not None:
            self.model.load_state_dict(self.best_state)


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class LivePlot:
    """Callback that redraws the train/val loss curves in a notebook while ``fit`` runs.

    Redraws at most every ``every`` seconds (and once at the end) into one display handle, so a
    notebook keeps a single figure output. Outside a notebook kernel it does nothing; if drawing
    fails it switches itself off with a warning instead of stopping training.
    """

    def __init__(
        self,
        every: float = 2.0,
        logy: bool = False,
        figsize: tuple[float, float] = (6, 3.5),
        title: str | None = None,
    ) -> None:
        self.every, self.logy, self.figsize, self.title = every, logy, figsize, title
        self._handle: Any = None
        self._last = -math.inf
        self.enabled = _in_kernel()
        self.draws = 0

    def figure(self, history: History) -> Any:
        """The loss figure for ``history`` (a matplotlib Figure, not attached to pyplot)."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=self.figsize)
        ax = fig.add_subplot()
        if history.train:
            s, v = zip(*history.train)
            ax.plot(s, v, label="train", lw=1.2)
        if history.val:
            s, v = history.metric("loss")
            ax.plot(s, v, "o-", label="validation", ms=3)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        if self.logy:
            ax.set_yscale("log")
        ax.set_title(self.title or f"step {history.steps_done}")
        if history.train or history.val:
            ax.legend()
        fig.tight_layout()
        return fig

    def __call__(self, event: str, history: History, step: int) -> None:
        if not self.enabled or event not in ("log", "eval", "end"):
            return
        now = time.monotonic()
        if event != "end" and now - self._last < self.every:
            return
        self._last = now
        try:
            import io

            from IPython.display import Image, display

            buf = io.BytesIO()
            self.figure(history).savefig(buf, format="png", dpi=80)
            image = Image(data=buf.getvalue(), format="png")
            if self._handle is None:
                self._handle = display(image, display_id=True)
            else:
                self._handle.update(image)
            self.draws += 1
        except Exception as e:  # a plot must never stop training
            self.enabled = False
            warnings.warn(
                f"LivePlot switched off: {type(e).__name__}: {e}", RuntimeWarning, stacklevel=2
            )
