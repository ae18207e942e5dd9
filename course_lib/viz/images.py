"""Image grids (chapters 06-07): digit samples with labels/predictions, feature maps, kernels."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

__all__ = ["show_feature_maps", "show_images", "show_kernels"]


def _grid(n: int, ncols: int, cell: float) -> tuple[Figure, list]:
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(cell * ncols, cell * nrows + 0.3), squeeze=False
    )
    flat = list(axes.flat)
    for ax in flat:
        ax.axis("off")
    return fig, flat


def _as_images(images: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(
            f"{name} must have shape (N, H, W) or (N, 1, H, W), got shape {tuple(images.shape)}"
        )
    if images.shape[0] == 0:
        raise ValueError(f"{name} is empty: nothing to show")
    return images.detach().to("cpu", torch.float32)


def show_images(
    images: torch.Tensor,
    labels: Sequence[int] | torch.Tensor | None = None,
    preds: Sequence[int] | torch.Tensor | None = None,
    ncols: int = 10,
    title: str | None = None,
    cell: float = 0.9,
) -> Figure:
    """Grid of grayscale images ``(N, 1, H, W)`` or ``(N, H, W)``; titles show label (and prediction, red if wrong)."""
    imgs = _as_images(images, "images")
    fig, axes = _grid(len(imgs), ncols, cell)
    for i, img in enumerate(imgs):
        ax = axes[i]
        ax.imshow(img, cmap="gray", vmin=0, vmax=max(1.0, float(img.max())))
        if labels is not None:
            text, color = f"{int(labels[i])}", "black"
            if preds is not None:
                text += f" ({int(preds[i])})"
                color = "black" if int(preds[i]) == int(labels[i]) else "crimson"
            ax.set_title(text, fontsize=8, color=color, pad=2)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def show_feature_maps(
    maps: torch.Tensor, ncols: int = 8, title: str | None = None, cell: float = 0.9
) -> Figure:
    """The channels of one image's activations ``(C, H, W)`` (or ``(1, C, H, W)``), each on its own colour scale."""
    if isinstance(maps, torch.Tensor) and maps.ndim == 4:
        if maps.shape[0] != 1:
            raise ValueError(
                f"give the feature maps of one image, (1, C, H, W); got shape {tuple(maps.shape)}"
            )
        maps = maps[0]
    fmaps = _as_images(maps, "maps")
    fig, axes = _grid(len(fmaps), ncols, cell)
    for i, m in enumerate(fmaps):
        axes[i].imshow(m, cmap="viridis")
        axes[i].set_title(f"ch {i}", fontsize=7, pad=2)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def show_kernels(
    weight: torch.Tensor, ncols: int = 8, title: str | None = None, cell: float = 0.7
) -> Figure:
    """First-layer kernels ``(C_out, 1, kh, kw)`` as small images (blue negative, red positive)."""
    if not isinstance(weight, torch.Tensor) or weight.ndim != 4 or weight.shape[1] != 1:
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise ValueError(f"show_kernels expects weights of shape (C_out, 1, kh, kw), got {shape}")
    w = weight.detach().to("cpu", torch.float32)[:, 0]
    lim = float(w.abs().max()) or 1.0
    fig, axes = _grid(len(w), ncols, cell)
    for i, k in enumerate(w):
        axes[i].imshow(k, cmap="RdBu_r", vmin=-lim, vmax=lim)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
