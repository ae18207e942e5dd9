"""Explorer for chapter 05: optimizer paths on Rosenbrock and an ill-conditioned bowl."""

from __future__ import annotations

import matplotlib.pyplot as plt

from ..viz.trajectories import OPTIMIZER_NAMES, SURFACES, optimize_2d, plot_trajectories
from .core import Explorer, dropdown, explorer, slider

__all__ = ["optimizer_explorer", "draw_optimizer_paths"]


def draw_optimizer_paths(
    surface: str = "rosenbrock",
    optimizer: str = "Adam",
    log10_lr: float = -1.5,
    beta1: float = 0.9,
    beta2: float = 0.999,
    steps: int = 300,
) -> plt.Figure:
    """One figure: the path of ``optimizer`` (or of every optimizer, for ``"all"``) on ``surface``.

    The learning rate is ``10 ** log10_lr``; ``beta1`` is the momentum (Adam's beta1, SGD's
    momentum), ``beta2`` the decay of the squared-gradient average (Adam's beta2, RMSprop's alpha).
    """
    lr = 10.0**log10_lr
    names = OPTIMIZER_NAMES if optimizer == "all" else [optimizer]
    paths = {
        name: optimize_2d(name, surface, steps=steps, lr=lr, beta1=beta1, beta2=beta2)
        for name in names
    }
    fig, ax = plt.subplots(figsize=(6.5, 4))
    title = (
        f"{SURFACES[surface].name}, lr={lr:.2g}, beta1={beta1:g}, beta2={beta2:g}, {steps} steps"
    )
    plot_trajectories(surface, paths, ax=ax, title=title)
    fig.tight_layout()
    return fig


def optimizer_explorer(
    surface: str = "rosenbrock",
    optimizer: str = "Adam",
    log10_lr: float = -1.5,
    beta1: float = 0.9,
    beta2: float = 0.999,
    steps: int = 300,
) -> Explorer:
    """Sliders for optimizer, log10(lr), beta1, beta2 and steps; redraws the path on a surface."""
    controls = {
        "surface": dropdown(list(SURFACES), surface, "surface"),
        "optimizer": dropdown([*OPTIMIZER_NAMES, "all"], optimizer, "optimizer"),
        "log10_lr": slider(log10_lr, -4.0, 0.0, 0.1, "log10(lr)"),
        "beta1": slider(beta1, 0.0, 0.99, 0.01, "beta1 / momentum"),
        "beta2": slider(beta2, 0.5, 0.999, 0.001, "beta2 / alpha"),
        "steps": slider(steps, 50, 1000, 50, "steps"),
    }
    return explorer(draw_optimizer_paths, controls)
