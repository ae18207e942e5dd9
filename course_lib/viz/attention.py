"""Attention plots: weight heat-maps with token labels, and the positional-encoding matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import torch

__all__ = ["plot_attention", "plot_positional_encoding"]


def _as_2d(weights: Any) -> torch.Tensor:
    w = torch.as_tensor(weights).detach().to("cpu", torch.float32)
    if w.dim() != 2:
        raise ValueError(f"weights must be 2-D (T_query, T_key), got shape {tuple(w.shape)}")
    return w


def plot_attention(
    weights: Any,
    keys: Sequence[str] | None = None,
    queries: Sequence[str] | None = None,
    ax: Any = None,
    title: str | None = None,
    annotate: bool = False,
) -> Any:
    """Heat-map of attention weights ``(T_query, T_key)``: row = who looks, column = at whom.

    ``keys`` / ``queries`` label the columns / rows (default: the keys for both). Returns the Axes.
    """
    w = _as_2d(weights)
    T, S = w.shape
    queries = keys if queries is None else queries
    for name, labels, n in (("keys", keys, S), ("queries", queries, T)):
        if labels is not None and len(labels) != n:
            raise ValueError(
                f"{len(labels)} {name} labels for {n} {name} (weights {tuple(w.shape)})"
            )
    if ax is None:
        _, ax = plt.subplots(figsize=(max(3.5, 0.45 * S + 1.5), max(3.0, 0.4 * T + 1.0)))
    im = ax.imshow(w.numpy(), cmap="Blues", vmin=0.0, vmax=max(1e-9, float(w.max())))
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if keys is not None:
        ax.set_xticks(range(S), labels=list(keys), rotation=60, ha="right", fontsize=8)
    if queries is not None:
        ax.set_yticks(range(T), labels=list(queries), fontsize=8)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    if annotate:
        for i in range(T):
            for j in range(S):
                value = float(w[i, j])
                color = "white" if value > 0.6 * float(w.max()) else "black"
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6, color=color)
    if title:
        ax.set_title(title)
    return ax


def plot_positional_encoding(pe: Any, ax: Any = None, title: str | None = None) -> Any:
    """Image of a positional encoding ``(max_len, d_model)``: positions down, dimensions across."""
    m = _as_2d(pe)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    im = ax.imshow(m.numpy(), cmap="RdBu", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    ax.figure.colorbar(im, ax=ax)
    ax.set_xlabel("dimension")
    ax.set_ylabel("position")
    ax.set_title(title or "positional encoding")
    return ax
