"""Explorer for chapter 06: dropout, weight decay, training-set size and augmentation -> train/val curves."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from ..config import pick
from ..data.digits import random_affine
from ..train import accuracy, fit
from .core import Explorer, dropdown, explorer

__all__ = ["regularization_explorer", "train_regularized"]

_RUNS: dict[tuple, Any] = {}


def _mlp(hidden: int, dropout: float) -> nn.Sequential:
    """Flatten -> Linear(784, hidden) -> ReLU -> (Dropout) -> Linear(hidden, hidden) -> ReLU -> (Dropout) -> Linear(10)."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = 28 * 28
    for _ in range(2):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = hidden
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def train_regularized(
    train_ds: Any,
    val_ds: Any,
    n_train: int = 300,
    dropout: float = 0.0,
    weight_decay: float = 0.0,
    augment: bool = False,
    steps: int = 300,
    hidden: int = 128,
    progress: bool = False,
) -> Any:
    """Train a 2-hidden-layer MLP on the first ``n_train`` images of ``train_ds``; return fit's History.

    ``train_ds``/``val_ds``: datasets of digit images ``(N, 1, 28, 28)`` and labels ``(N,)``.
    AdamW (lr 2e-3, ``weight_decay``), batches of 50 drawn at random (seeded), each image randomly
    rotated/shifted (``random_affine``) when ``augment``; validation loss and accuracy on the
    first 500 images of ``val_ds``, ten times per run. Trains on ``get_device()`` (``fit``'s
    default). Runs are cached by their settings (``progress``, a ``tqdm`` bar, is not one of them).
    """
    if not 1 <= n_train <= len(train_ds):
        raise ValueError(f"n_train must be in 1..{len(train_ds)}, got {n_train}")
    if not 0 <= dropout < 1 or weight_decay < 0:
        raise ValueError(
            f"need 0 <= dropout < 1 and weight_decay >= 0, got {dropout}, {weight_decay}"
        )
    key = (train_ds, val_ds, n_train, dropout, weight_decay, augment, steps, hidden)
    if key in _RUNS:
        return _RUNS[key]
    x_all, y_all = train_ds[:n_train]
    g = torch.Generator().manual_seed(0)

    def batch_fn(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(0, n_train, (50,), generator=g)
        x = x_all[idx]
        if augment:
            x = random_affine(x, degrees=12, translate=0.08, generator=g)
        return x, y_all[idx]

    torch.manual_seed(0)
    model = _mlp(hidden, dropout)
    history = fit(
        model,
        torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=weight_decay),
        batch_fn,
        steps=steps,
        loss_fn=F.cross_entropy,
        val_data=[val_ds[:500]],  # one batch: the first 500 validation images
        eval_every=max(steps // 10, 1),
        eval_batches=None,
        metrics={"acc": accuracy},
        amp=None,
        progress=progress,
        log_every=max(steps // 40, 1),
    )
    _RUNS[key] = history
    return history


def regularization_explorer(
    train_ds: Any, val_ds: Any, steps: int | None = None, hidden: int = 128
) -> Explorer:
    """Dropout, weight decay, training-set size and augmentation on/off -> train and validation curves.

    Each setting trains once (``steps``, default 300, 40 in FAST mode; a progress bar shows after the
    first figure) and is cached; the validation curves of the other runs with the same training-set
    size are drawn in grey for comparison.
    """
    steps = pick(300, 40) if steps is None else steps
    sizes = [n for n in (100, 300, 1000, 3000) if n <= len(train_ds)] or [len(train_ds)]
    drawn: list[tuple] = []

    def draw(n_train: int, dropout: float, weight_decay: float, augmentation: str) -> None:
        args = (n_train, dropout, weight_decay, augmentation == "on", steps, hidden)
        h = train_regularized(train_ds, val_ds, *args[:4], steps, hidden, progress=bool(drawn))
        drawn.append(args)
        fig, (a_loss, a_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
        for other in dict.fromkeys(drawn):
            if other != args and other[0] == n_train:
                o = train_regularized(train_ds, val_ds, *other)
                a_loss.plot(*o.metric("loss"), color="0.8", lw=1)
                a_acc.plot(*o.metric("acc"), color="0.8", lw=1)
        tsteps, tloss = zip(*h.train)
        a_loss.plot(tsteps, tloss, color="tab:blue", label="train")
        a_loss.plot(*h.metric("loss"), "o-", color="tab:orange", ms=3, label="validation")
        a_loss.set(yscale="log", xlabel="step", ylabel="loss")
        a_loss.legend(fontsize=8)
        a_loss.grid(alpha=0.3)
        val_loss = h.val[-1][1]["loss"]
        a_loss.set_title(
            f"final train {tloss[-1]:.3f}, val {val_loss:.3f} (gap {val_loss - tloss[-1]:+.3f})",
            fontsize=9,
        )
        a_acc.plot(*h.metric("acc"), "o-", color="tab:orange", ms=3)
        a_acc.set(xlabel="step", ylabel="validation accuracy")
        a_acc.grid(alpha=0.3)
        a_acc.set_title(
            f"final validation accuracy {h.val[-1][1]['acc']:.3f} (grey: earlier runs)", fontsize=9
        )
        fig.suptitle(
            f"{n_train} training images, dropout {dropout}, weight decay {weight_decay}, "
            f"augmentation {augmentation}, {steps} steps",
            fontsize=10,
        )
        fig.tight_layout()

    return explorer(
        draw,
        {
            "n_train": dropdown(sizes, sizes[min(1, len(sizes) - 1)], "training images"),
            "dropout": dropdown([0.0, 0.2, 0.5], 0.0, "dropout"),
            "weight_decay": dropdown([0.0, 0.01, 0.1, 1.0], 0.0, "weight decay"),
            "augmentation": dropdown(["off", "on"], "off", "augmentation"),
        },
        columns=4,
    )
