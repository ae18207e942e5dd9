"""Explorer for the losses chapter: drag one outlier and watch the MSE, MAE and Huber lines move."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import torch

from .. import losses
from .core import Explorer, explorer, slider

__all__ = ["fit_line", "outlier_data", "outlier_explorer"]


def outlier_data(n: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points ``(x, y)``, each ``(n,)`` float64, near the line y = 0.5 x + 1 (seeded)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.linspace(0, 10, n, dtype=torch.float64)
    y = 0.5 * x + 1 + 0.4 * torch.randn(n, generator=g, dtype=torch.float64)
    return x, y


def fit_line(
    x: torch.Tensor, y: torch.Tensor, loss: str = "mse", delta: float = 1.0
) -> tuple[float, float]:
    """Slope and intercept of the line that minimizes ``loss`` ("mse", "mae" or "huber") on ``(n,)`` points.

    MSE: least squares in closed form. MAE: some best line passes through two of the points, so
    we try every pair (exact, fine for a few dozen points). Huber: iteratively reweighted least
    squares (points beyond ``delta`` get weight ``delta / |r|``), started from the MAE line.
    """
    if loss not in ("mse", "mae", "huber"):
        raise ValueError(f"loss must be 'mse', 'mae' or 'huber', got {loss!r}")
    x, y = x.to(torch.float64).flatten(), y.to(torch.float64).flatten()
    if x.shape != y.shape or x.numel() < 2:
        raise ValueError(
            f"need two or more points with x and y of equal shape, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    design = torch.stack([x, torch.ones_like(x)], dim=1)  # (n, 2)
    if loss == "mse":
        coef = torch.linalg.lstsq(design, y[:, None]).solution[:, 0]
        return float(coef[0]), float(coef[1])
    pairs = [(i, j) for i, j in itertools.combinations(range(x.numel()), 2) if x[i] != x[j]]
    i, j = torch.tensor(pairs).T  # (P,) each
    slopes = (y[j] - y[i]) / (x[j] - x[i])  # (P,)
    intercepts = y[i] - slopes * x[i]
    cost = (slopes[:, None] * x + intercepts[:, None] - y).abs().mean(dim=1)  # (P,)
    best = int(cost.argmin())
    coef = torch.stack([slopes[best], intercepts[best]])
    if loss == "mae":
        return float(coef[0]), float(coef[1])
    for _ in range(100):
        r = (design @ coef - y).abs()
        w = torch.where(r <= delta, torch.ones_like(r), delta / r.clamp(min=1e-12))  # (n,)
        a = design.T @ (w[:, None] * design)  # (2, 2)
        new = torch.linalg.solve(a, design.T @ (w * y))
        if torch.allclose(new, coef, atol=1e-12, rtol=0):
            break
        coef = new
    return float(coef[0]), float(coef[1])


def _draw(outlier_y: float, outlier_x: float, delta: float) -> None:
    x, y = outlier_data()
    x = torch.cat([x, torch.tensor([outlier_x], dtype=x.dtype)])
    y = torch.cat([y, torch.tensor([outlier_y], dtype=y.dtype)])
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.scatter(x[:-1], y[:-1], color="0.3", s=18, label="data")
    ax.scatter(x[-1:], y[-1:], color="crimson", s=60, marker="X", label="outlier (move me)")
    grid = torch.linspace(-0.5, 10.5, 2, dtype=torch.float64)
    for name, title, color in (
        ("mse", "MSE", "C0"),
        ("mae", "MAE", "C1"),
        ("huber", "Huber", "C2"),
    ):
        slope, icept = fit_line(x, y, name, delta)
        pred = slope * x + icept
        value = getattr(losses, name)(pred, y, **({"delta": delta} if name == "huber" else {}))
        label = f"{title} fit: slope {slope:.2f} ({name} {value.item():.2f})"
        ax.plot(grid, slope * grid + icept, color=color, label=label)
    ax.plot(grid, 0.5 * grid + 1, ":", color="0.5", label="true line: slope 0.50")
    ax.set(xlabel="x", ylabel="y", xlim=(-0.5, 10.5), ylim=(-12, 32))
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(
        f"One outlier at ({outlier_x:g}, {outlier_y:g}); Huber $\\delta$ = {delta:g}", fontsize=10
    )
    fig.tight_layout()


def outlier_explorer() -> Explorer:
    """Sliders for the outlier's position and Huber's delta; lines fitted by MSE, MAE and Huber."""
    return explorer(
        _draw,
        {
            "outlier_y": slider(25.0, -10.0, 30.0, 0.5, "outlier y"),
            "outlier_x": slider(9.0, 0.0, 10.0, 0.5, "outlier x"),
            "delta": slider(1.0, 0.25, 5.0, 0.25, "Huber delta"),
        },
    )
