"""Training curves: loss (or any metric) against step, for one or several runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

__all__ = ["plot_curves"]


def plot_curves(
    curves: Mapping[str, Sequence[float] | tuple[Sequence[float], Sequence[float]]],
    *,
    ax: Axes | None = None,
    xlabel: str = "step",
    ylabel: str = "loss",
    title: str | None = None,
    logy: bool = False,
) -> Axes:
    """Plot named curves: each value is ``ys`` (x = 0, 1, ...) or a pair ``(xs, ys)``."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for name, curve in curves.items():
        if isinstance(curve, tuple) and len(curve) == 2:
            xs, ys = curve
        else:
            ys = list(curve)
            xs = range(len(ys))
        ax.plot(list(xs), list(ys), label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title or "")
    if logy:
        ax.set_yscale("log")
    if len(curves) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    return ax
