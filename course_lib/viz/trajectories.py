"""Optimizer paths on 2-D test surfaces (Rosenbrock, an ill-conditioned bowl), and their plots.

``optimize_2d("Adam", "rosenbrock", steps=300, lr=0.03)`` runs one of the course optimizers on a
point ``(x, y)`` and returns its path ``(steps + 1, 2)``; ``plot_trajectories`` draws paths over the
surface's contour lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import optim

__all__ = [
    "Surface",
    "SURFACES",
    "OPTIMIZER_NAMES",
    "rosenbrock",
    "bowl",
    "make_optimizer",
    "optimize_2d",
    "plot_trajectories",
]


def rosenbrock(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(1 - x)^2 + 100 (y - x^2)^2``: a curved, narrow valley; minimum 0 at ``(1, 1)``."""
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def bowl(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(x^2 + 20 y^2) / 2``: a quadratic bowl 20 times steeper along y; minimum 0 at ``(0, 0)``."""
    return 0.5 * (x**2 + 20 * y**2)


@dataclass(frozen=True)
class Surface:
    """A 2-D loss surface: the function, its minimum, a start point and the plotting window."""

    name: str
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    minimum: tuple[float, float]
    start: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    log_levels: bool


SURFACES: dict[str, Surface] = {
    "rosenbrock": Surface(
        "Rosenbrock", rosenbrock, (1.0, 1.0), (-1.5, 2.0), (-2, 2), (-1, 3), True
    ),
    "bowl": Surface("ill-conditioned bowl", bowl, (0.0, 0.0), (-4.5, 1.5), (-5, 5), (-2, 2), False),
}

#: what ``make_optimizer`` understands; "SGD" is GD on noisy gradients (see ``optimize_2d``)
OPTIMIZER_NAMES = [
    "GD",
    "SGD",
    "Momentum",
    "Nesterov",
    "RMSprop",
    "Adam",
    "Adam (no bias correction)",
    "AdamW",
]


def make_optimizer(
    name: str,
    params: list[torch.Tensor],
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    weight_decay: float = 0.01,
) -> optim.Optimizer:
    """One course optimizer by display name; ``beta1`` is the momentum, ``beta2`` RMSprop's alpha."""
    if name in ("GD", "SGD"):
        return optim.SGD(params, lr=lr)
    if name in ("Momentum", "Nesterov"):
        return optim.SGD(params, lr=lr, momentum=beta1, nesterov=name == "Nesterov")
    if name == "RMSprop":
        return optim.RMSprop(params, lr=lr, alpha=beta2)
    if name.startswith("Adam"):
        cls = optim.AdamW if name == "AdamW" else optim.Adam
        corrected = name != "Adam (no bias correction)"
        return cls(
            params,
            lr=lr,
            betas=(beta1, beta2),
            bias_correction=corrected,
            weight_decay=weight_decay if name == "AdamW" else 0.0,
        )
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZER_NAMES)}")


def _surface(surface: str | Surface) -> Surface:
    if isinstance(surface, Surface):
        return surface
    if surface not in SURFACES:
        raise ValueError(f"unknown surface {surface!r}; choose one of {', '.join(SURFACES)}")
    return SURFACES[surface]


def optimize_2d(
    name: str,
    surface: str | Surface = "rosenbrock",
    *,
    steps: int = 200,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    start: tuple[float, float] | None = None,
    noise: float | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """Path ``(steps + 1, 2)`` (float64) of optimizer ``name`` started at ``start`` on ``surface``.

    ``noise`` adds Gaussian noise of that size to each gradient (default: 0, or 2.0 for "SGD"),
    standing in for the noise of mini-batch gradients. Diverging runs stop at the first inf/nan.
    """
    s = _surface(surface)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    noise = (2.0 if name == "SGD" else 0.0) if noise is None else float(noise)
    point = torch.tensor(start if start is not None else s.start, dtype=torch.float64)
    point.requires_grad_()
    opt = make_optimizer(name, [point], lr, beta1, beta2)
    gen = torch.Generator().manual_seed(seed)
    path = [point.detach().clone()]
    for _ in range(steps):
        opt.zero_grad()
        s.fn(point[0], point[1]).backward()
        if noise:
            point.grad += noise * torch.randn(2, generator=gen, dtype=torch.float64)
        opt.step()
        if not torch.isfinite(point).all() or point.abs().max() > 1e3:  # diverged
            break
        path.append(point.detach().clone())
    return torch.stack(path)


def plot_trajectories(
    surface: str | Surface,
    paths: dict[str, torch.Tensor],
    ax: plt.Axes | None = None,
    title: str | None = None,
) -> plt.Axes:
    """Contour lines of ``surface`` with each path ``(n, 2)`` drawn over them and its end marked."""
    s = _surface(surface)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    xs = torch.linspace(*s.xlim, 200, dtype=torch.float64)
    ys = torch.linspace(*s.ylim, 200, dtype=torch.float64)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    z = s.fn(gx, gy).numpy()
    levels = (
        np.logspace(-1, 3.5, 15) if s.log_levels else np.linspace(0.5, np.sqrt(z.max()), 15) ** 2
    )
    ax.contour(gx.numpy(), gy.numpy(), z, levels=levels, cmap="Greys", linewidths=0.7)
    ax.plot(*s.minimum, marker="*", color="black", markersize=12, linestyle="none")
    for label, path in paths.items():
        p = path.detach().to("cpu", torch.float64).numpy()
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(f"path {label!r} must have shape (n, 2), got {p.shape}")
        final = s.fn(*torch.from_numpy(p[-1])).item()
        note = f"{final:.2g}" if final < 1e4 else "diverged"
        (line,) = ax.plot(p[:, 0], p[:, 1], lw=1.3, label=f"{label} ({note})")
        ax.plot(p[-1, 0], p[-1, 1], "o", color=line.get_color(), markersize=4)
    ax.set_xlim(*s.xlim)
    ax.set_ylim(*s.ylim)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title or f"{s.name}: paths (final loss)", fontsize=10)
    if paths:
        ax.legend(fontsize=7, loc="best")
    return ax
