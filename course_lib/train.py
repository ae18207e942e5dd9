"""The one training loop of the course (chapters 06-12): ``fit`` and ``evaluate``.

``fit`` works with any model, loss and optimizer. It puts the model on the device, runs mixed
precision on CUDA (bf16 where supported, fp16 with a gradient scaler otherwise), clips gradients,
steps a schedule, evaluates now and then, shows a ``tqdm.auto`` progress bar, calls callbacks
(``course_lib.callbacks``: ``EarlyStopping``, ``LivePlot``) and saves checkpoints atomically
(``course_lib.checkpoint``). Run it again with the same checkpoint path and it resumes exactly
where it stopped: model, optimizer, scheduler, step, random states, history and the position inside
the current pass over a ``DataLoader``.

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
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

# The names learners import from course_lib.train live in these modules; they stay importable here.
from .callbacks import EarlyStopping, LivePlot, Progress, StopTraining
from .checkpoint import (
    CheckpointError,
    History,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from .device import get_device, is_main_process
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

Batch = tuple[Any, Any]
Callback = Callable[[str, History, int], None]


# --------------------------------------------------------------------------------------------
# Batches and precision


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


def _make_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """A gradient scaler, switched on only for float16 (whose small range needs it)."""
    return torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)


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
        self.epoch_rng = rng_state()
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
            set_rng_state(state["epoch_rng"])
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
    The global random states (PyTorch, NumPy, Python's ``random``) are left untouched: random
    batch functions get the same batches at every evaluation, drawn with ``seed``, so evaluating
    never changes the course of training.
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
    saved = rng_state()
    sizes: list[int] = []
    values: dict[str, list[Any]] = {"loss": [], **{name: [] for name in metrics or {}}}
    try:
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
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
            sizes.append(_batch_size(y))
            values["loss"].append(loss.detach())  # read back once, after the last batch
            for name, fn in (metrics or {}).items():
                values[name].append(fn(out, y))
    finally:
        set_rng_state(saved)
        model.train(was_training)
    if not sizes:
        raise ValueError("val_data produced no batches (is the validation set empty?)")
    values["loss"] = torch.stack(values["loss"]).tolist()
    count = sum(sizes)
    return {k: sum(float(v) * n for v, n in zip(vs, sizes)) / count for k, vs in values.items()}


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
    compile: bool = False,
) -> History:
    """Train ``model`` for ``steps`` optimizer steps (in total, counting resumed ones); return the History.

    ``train_data``: ``batch_fn(i) -> (x, y)`` (``i`` counts micro-batches) or an iterable of
    ``(x, y)`` such as a DataLoader (cycled). ``loss_fn=None``: ``model(x, y)`` returns
    ``(output, loss)``; otherwise ``loss = loss_fn(model(x), y)``. With ``checkpoint`` set, a
    checkpoint is written every ``checkpoint_every`` steps and at the end (and on an interrupt), and
    an existing one is resumed from when ``resume``. Callbacks ``cb(event, history, step)`` get the
    events "start", "log", "eval" and "end"; one may raise ``StopTraining`` to end early.
    ``compile=True`` runs the batches through ``torch.compile(model)`` (training and evaluation;
    the weights stay those of ``model``).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    positive = dict(steps=steps, accumulate=accumulate, log_every=log_every, eval_every=eval_every)
    for name, value in positive.items():
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
    scaler = _make_scaler(dev, dtype)  # does nothing unless float16 needs it
    batches = _Batches(train_data, "train_data")
    callbacks = list(callbacks)
    main = is_main_process()
    history = History()
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    groups = getattr(optimizer, "param_groups", None)
    params = [p for g in groups for p in g["params"]] if groups else list(model.parameters())
    net = torch.compile(model) if compile else model  # runs the batches; weights are model's

    window = torch.zeros((), device=dev)  # running sum of micro-batch losses since the last log
    window_n = 0
    if ckpt_path is not None and resume and ckpt_path.is_file():
        ckpt = load_checkpoint(ckpt_path, model, optimizer, scheduler, scaler=scaler)
        history = History.from_dict(ckpt["history"])
        batches.restore(ckpt["extra"].get("data", {}))
        set_rng_state(ckpt["rng"])
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
        kw = dict(step=step, history=history, scaler=scaler, extra=extra)
        save_checkpoint(ckpt_path, model, optimizer, scheduler, **kw)

    def emit(event: str) -> None:
        if main:
            for cb in callbacks:
                cb(event, history, step)

    bar = Progress(progress and main, steps, step)
    start = time.perf_counter() - history.seconds
    last_logged = step
    no_sync = getattr(model, "no_sync", None)  # DDP: average gradients on the last micro-batch only
    model.train()
    try:
        emit("start")
        while step < steps:
            for micro in range(accumulate):
                x, y = batches.next()
                x, y = _to(x, dev), _to(y, dev)
                last = micro == accumulate - 1
                with no_sync() if no_sync is not None and not last else contextlib.nullcontext():
                    with _autocast(dev, dtype):
                        _, loss = _forward(net, loss_fn, x, y)
                    scaler.scale(loss / accumulate if accumulate > 1 else loss).backward()
                window += loss.detach()
            window_n += accumulate
            if grad_clip is not None:
                scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
                torch.nn.utils.clip_grad_norm_(params, grad_clip)
            scaler.step(optimizer)  # optimizer.step(), skipped if float16 gradients overflowed
            scaler.update()
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
                evaluation = (val_data, loss_fn, eval_batches, metrics, dev)
                result = evaluate(net, *evaluation, amp=None if dtype is None else amp)
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
