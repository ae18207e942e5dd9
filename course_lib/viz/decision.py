"""Decision boundaries of a 2-D classifier: the predicted class over a grid, and the data on top."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap

__all__ = ["plot_decision_boundary"]

_COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]


@torch.no_grad()
def plot_decision_boundary(
    predict: Callable[[torch.Tensor], torch.Tensor],
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    ax: Axes | None = None,
    resolution: int = 200,
    margin: float = 0.3,
    title: str | None = None,
) -> Axes:
    """Colour the plane by ``predict``'s class and scatter the points ``X`` (N, 2) by label ``y`` (N,).

    ``predict`` maps a (M, 2) tensor (on ``X``'s device, with its dtype) to class scores (M, C)
    or to class indices (M,).
    """
    if not isinstance(X, torch.Tensor) or X.ndim != 2 or X.shape[1] != 2:
        shape = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
        raise ValueError(f"X must be a tensor of shape (N, 2), got {shape}")
    if not isinstance(y, torch.Tensor) or y.shape != X.shape[:1]:
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"y must be a tensor of shape ({X.shape[0]},), got {shape}")
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
    pts = X.detach().to("cpu", torch.float64)
    lo, hi = pts.min(dim=0).values - margin, pts.max(dim=0).values + margin
    gx = torch.linspace(lo[0].item(), hi[0].item(), resolution, dtype=torch.float64)
    gy = torch.linspace(lo[1].item(), hi[1].item(), resolution, dtype=torch.float64)
    xx, yy = torch.meshgrid(gx, gy, indexing="xy")  # (R, R) each
    grid = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1).to(X.device, X.dtype)  # (R*R, 2)
    out = predict(grid)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"predict must return a tensor, got {type(out).__name__}")
    cls = out.argmax(dim=1) if out.ndim == 2 else out
    if cls.shape != (grid.shape[0],):
        raise ValueError(f"predict returned shape {tuple(out.shape)} for {grid.shape[0]} points")
    labels = y.detach().to("cpu").long()
    n_cls = int(max(labels.max().item(), cls.max().item())) + 1
    cmap = ListedColormap([_COLORS[i % len(_COLORS)] for i in range(n_cls)])
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    ax.contourf(
        xx.numpy(),
        yy.numpy(),
        cls.reshape(resolution, resolution).cpu().numpy(),
        levels=torch.arange(n_cls + 1).numpy() - 0.5,
        cmap=cmap,
        alpha=0.3,
    )
    ax.scatter(
        pts[:, 0],
        pts[:, 1],
        c=labels.numpy(),
        cmap=cmap,
        vmin=-0.5,
        vmax=n_cls - 0.5,
        s=12,
        edgecolors="k",
        linewidths=0.3,
    )
    ax.set_xlim(lo[0].item(), hi[0].item())
    ax.set_ylim(lo[1].item(), hi[1].item())
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax
