"""Plots for the activations chapter: each activation beside its derivative (matplotlib only)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .. import activations

__all__ = ["plot_activations"]


def plot_activations(names: list[str] | None = None, span: float = 5.0) -> Figure:
    """One small panel per activation: the function (solid) and its derivative (dashed)."""
    names = list(activations.ACTIVATIONS) if names is None else names
    unknown = [n for n in names if n not in activations.ACTIVATIONS]
    if unknown:
        raise ValueError(
            f"unknown activation(s) {unknown}; choose from {list(activations.ACTIVATIONS)}"
        )
    x = torch.linspace(-span, span, 401)  # (401,)
    cols = 3
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(8, 2.3 * rows), sharex=True, squeeze=False)
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    for ax, name in zip(axes.flat, names):
        ax.axhline(0, color="0.8", lw=0.8)
        ax.plot(x, activations.ACTIVATIONS[name](x), label="f(x)")
        ax.plot(x, activations.GRADIENTS[name](x), "--", label="f'(x)")
        ax.set_title(name, fontsize=10)
        ax.set_ylim(-1.5, 2.5)
    axes.flat[0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig
