"""Callbacks for ``course_lib.train.fit`` (chapter 06): progress bar, early stopping, live plot.

A callback is any ``cb(event, history, step)``; ``fit`` calls it with the events "start", "log",
"eval" and "end" on the main process. Raising ``StopTraining`` from one ends training cleanly.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from typing import Any

import torch
from torch import nn

from .checkpoint import History, save_checkpoint

__all__ = ["EarlyStopping", "LivePlot", "Progress", "StopTraining"]


class StopTraining(Exception):
    """Raise from a callback to end ``fit`` cleanly after the current step (early stopping)."""


class Progress:
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


class EarlyStopping:
    """Stop when the validation loss has not improved for ``patience`` evaluations.

    With ``restore_best=True`` the model gets the weights of its best evaluation back at the end.
    With ``save_best`` (a path) each new best is also written there (``save_checkpoint``), so the
    best model survives the session.
    """

    def __init__(
        self,
        model: nn.Module,
        patience: int = 3,
        min_delta: float = 0.0,
        restore_best: bool = True,
        save_best: str | os.PathLike[str] | None = None,
    ) -> None:
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.model, self.patience, self.min_delta = model, patience, min_delta
        self.restore_best, self.save_best = restore_best, save_best
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
                if self.save_best is not None:
                    save_checkpoint(self.save_best, self.model, step=step, history=history)
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
