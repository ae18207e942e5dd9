"""Embedding space in 2-D: project vectors on their two main directions (PCA) and label the points."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes

__all__ = ["pca_2d", "plot_embedding_space"]

_COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]


def pca_2d(x: torch.Tensor) -> torch.Tensor:
    """Coordinates of the rows of ``x`` ``(N, D)`` on its two principal directions -> ``(N, 2)``.

    Centred, computed with an SVD; each direction's sign is chosen so that its largest coordinate
    is positive, so the same vectors always give the same picture. Keeps dtype and device.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"pca_2d takes a tensor (N, D), got {type(x).__name__}")
    if x.dim() != 2:
        raise ValueError(f"pca_2d takes a matrix (N, D), got shape {tuple(x.shape)}")
    if x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError(
            f"pca_2d needs at least 2 points in at least 2 dimensions, got {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(f"pca_2d needs floating-point vectors, got dtype {x.dtype}")
    xc = x - x.mean(dim=0, keepdim=True)  # (N, D)
    _, _, vh = torch.linalg.svd(xc, full_matrices=False)  # vh: (min(N, D), D)
    coords = xc @ vh[:2].T  # (N, 2)
    idx = coords.abs().argmax(dim=0)  # (2,)
    signs = torch.sign(coords[idx, torch.arange(2, device=x.device)])
    signs = torch.where(signs == 0, torch.ones_like(signs), signs)
    return coords * signs


def plot_embedding_space(
    vectors: torch.Tensor,
    words: Sequence[str],
    groups: Sequence[str] | None = None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    annotate: bool = True,
) -> Axes:
    """Scatter ``vectors`` ``(N, D)`` in 2-D (PCA), one point per word, coloured by ``groups``."""
    if not isinstance(vectors, torch.Tensor) or vectors.dim() != 2:
        shape = (
            tuple(vectors.shape) if isinstance(vectors, torch.Tensor) else type(vectors).__name__
        )
        raise ValueError(f"vectors must be a tensor of shape (N, D), got {shape}")
    if len(words) != vectors.shape[0]:
        raise ValueError(f"{vectors.shape[0]} vectors but {len(words)} words")
    if groups is not None and len(groups) != len(words):
        raise ValueError(f"{len(words)} words but {len(groups)} groups")
    xy = pca_2d(vectors.detach().float().cpu())
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    names = list(dict.fromkeys(groups)) if groups is not None else [""]
    for k, name in enumerate(names):
        ix = [i for i in range(len(words)) if groups is None or groups[i] == name]
        color = _COLORS[k % len(_COLORS)]
        ax.scatter(xy[ix, 0], xy[ix, 1], s=18, color=color, label=name or None)
        if annotate:
            for i in ix:
                ax.annotate(
                    words[i],
                    (float(xy[i, 0]), float(xy[i, 1])),
                    fontsize=7,
                    color=color,
                    xytext=(2, 2),
                    textcoords="offset points",
                )
    ax.set(
        xlabel="first principal direction", ylabel="second principal direction", title=title or ""
    )
    if groups is not None:
        ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    return ax
