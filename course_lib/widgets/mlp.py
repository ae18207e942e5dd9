"""Explorer for chapter 04: the MLP playground on moons or spirals (decision boundary, loss curve)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import nn
from tqdm.auto import tqdm

from ..config import pick
from ..data.points import make_moons, make_spirals
from ..device import get_device
from ..viz.curves import plot_curves
from ..viz.decision import plot_decision_boundary
from .core import Explorer, dropdown, explorer, slider

__all__ = ["PLAYGROUND_ACTIVATIONS", "mlp_playground_explorer", "train_playground_mlp"]

PLAYGROUND_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def _data(dataset: str, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    if dataset == "moons":
        return make_moons(300, noise=0.2, seed=seed)
    if dataset == "spirals":
        return make_spirals(300, classes=3, noise=0.15, seed=seed)
    raise ValueError(f"dataset must be 'moons' or 'spirals', got {dataset!r}")


_RUNS: dict[tuple, tuple[nn.Sequential, list[float], float]] = {}


def train_playground_mlp(
    dataset: str = "moons",
    width: int = 16,
    depth: int = 2,
    activation: str = "relu",
    lr: float = 0.3,
    steps: int = 300,
    device: str | None = None,
    progress: bool = False,
) -> tuple[nn.Sequential, list[float], float]:
    """Train an MLP with ``depth`` hidden layers of ``width`` units by full-batch gradient descent.

    The data: 300 points of ``make_moons`` (2 classes) or ``make_spirals`` (3 classes), seed 0; the
    loss: softmax cross-entropy; the update: ``p -= lr * grad`` (the notebook's ``sgd_step``), with
    torch's autograd in place of the hand-written backward so any activation can be chosen.
    Returns the model (in eval mode, on ``device``, default ``get_device()``), the loss of every
    step and the accuracy on a fresh test set (seed 1). ``progress`` shows a ``tqdm.auto`` bar.
    Results are cached: the same settings return the same trained model at once.
    """
    if activation not in PLAYGROUND_ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {list(PLAYGROUND_ACTIVATIONS)}, got {activation!r}"
        )
    if width < 1 or depth < 0 or steps < 0 or not lr >= 0:
        raise ValueError(
            f"need width >= 1, depth >= 0, steps >= 0, lr >= 0; got {width}, {depth}, {steps}, {lr}"
        )
    dev = torch.device(device) if device else get_device()
    key = (dataset, width, depth, activation, lr, steps, str(dev))
    if key in _RUNS:
        return _RUNS[key]
    X, y = (t.to(dev) for t in _data(dataset, seed=0))
    n_classes = int(y.max()) + 1
    sizes = [2] + [width] * depth + [n_classes]
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(PLAYGROUND_ACTIVATIONS[activation]())
    model = nn.Sequential(*layers).to(dev)
    losses = []
    for _ in tqdm(range(steps), desc="training", leave=False, disable=not progress):
        loss = nn.functional.cross_entropy(model(X), y)
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
        losses.append(loss.item())
    model.eval()
    X_test, y_test = (t.to(dev) for t in _data(dataset, seed=1))
    with torch.no_grad():
        acc = (model(X_test).argmax(1) == y_test).float().mean().item()
    if len(_RUNS) >= 64:  # keep the cache small: forget the oldest run
        del _RUNS[next(iter(_RUNS))]
    _RUNS[key] = (model, losses, acc)
    return _RUNS[key]


def mlp_playground_explorer(dataset: str = "moons", steps: int | None = None) -> Explorer:
    """Dataset, width, depth, activation, log10(lr) and steps -> decision boundary and loss curve.

    ``steps``: the starting number of gradient steps (default 300, 100 in FAST mode).
    """
    steps = pick(300, 100) if steps is None else steps
    drawn = []  # the first (default) figure trains without a progress bar: the static view stays clean

    def draw(
        dataset: str, width: int, depth: int, activation: str, log10_lr: float, steps: int
    ) -> None:
        lr = round(10.0**log10_lr, 6)
        args = (dataset, width, depth, activation, lr, steps)
        model, losses, acc = train_playground_mlp(*args, progress=bool(drawn))
        drawn.append(args)
        dev = next(model.parameters()).device
        X_test, y_test = (t.to(dev) for t in _data(dataset, seed=1))
        fig, (a_loss, a_db) = plt.subplots(1, 2, figsize=(9, 3.8))
        if losses:
            plot_curves(
                {"train": losses},
                ax=a_loss,
                logy=True,
                title=f"training loss (last {losses[-1]:.3f})",
            )
        else:
            a_loss.set_title("no steps: an untrained network")
        plot_decision_boundary(
            model,
            X_test,
            y_test,
            ax=a_db,
            resolution=100,
            title=f"{dataset}: test accuracy {acc:.1%}",
        )
        fig.suptitle(
            f"{depth} hidden layer(s) of {width} {activation} units, lr {lr:.3g}, {steps} steps",
            fontsize=10,
        )
        fig.tight_layout()

    return explorer(
        draw,
        {
            "dataset": dropdown(["moons", "spirals"], dataset, "data"),
            "width": slider(16, 1, 64, 1, "width"),
            "depth": slider(2, 0, 4, 1, "hidden layers"),
            "activation": dropdown(list(PLAYGROUND_ACTIVATIONS), "relu", "activation"),
            "log10_lr": slider(-0.5, -3.0, 1.0, 0.1, "log10(lr)"),
            "steps": slider(steps, 0, 1000, 50, "steps"),
        },
    )
