"""Histograms of several tensors on one axis (activations or gradients of each layer)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes

__all__ = ["plot_histograms"]


def plot_histograms(
    tensors: Mapping[str, torch.Tensor],
    *,
    ax: Axes | None = None,
    bins: int = 60,
    title: str | None = None,
    xlabel: str = "value",
) -> Axes:
    """One outline histogram (as a density) per named tensor, all on ``ax``; the legend gives each std.

    Every tensor is flattened; non-finite values are left out. Raises ValueError if ``tensors`` is
    empty.
    """
    if not tensors:
        raise ValueError("tensors is empty: pass a dict {name: tensor} with at least one entry")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    for name, t in tensors.items():
        v = t.detach().float().flatten().cpu()
        v = v[torch.isfinite(v)]
        if v.numel() == 0:
            continue
        ax.hist(
            v.numpy(), bins=bins, density=True, histtype="step", label=f"{name} (std {v.std():.2e})"
        )
    ax.set(xlabel=xlabel, ylabel="density", title=title or "")
    ax.legend(fontsize=8)
    return ax
