"""Broadcasting drawn (chapter 00): each operand stretched to the result's shape, copies shaded."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["broadcast_shape", "plot_broadcast"]


def broadcast_shape(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    """The shape ``a`` and ``b`` broadcast to, by the rule ``torch.broadcast_shapes`` applies.

    The shapes are aligned from the right; a missing dimension counts as 1; two sizes are
    compatible when equal or when one is 1 (it is stretched to the other). Raises ``ValueError``
    naming the first incompatible dimension (counted from the right, ``-1`` = last).
    """
    a, b = tuple(int(n) for n in a), tuple(int(n) for n in b)
    if any(n < 0 for n in a + b):
        raise ValueError(f"sizes must be >= 0, got shapes {a} and {b}")
    n = max(len(a), len(b))
    pa, pb = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    out = []
    for i, (x, y) in enumerate(zip(pa, pb)):
        if x != y and 1 not in (x, y):
            raise ValueError(
                f"shapes {a} and {b} do not broadcast: dimension {i - n} has sizes {x} and {y}, "
                "which are neither equal nor 1"
            )
        out.append(y if x == 1 else x)
    return tuple(out)


def _slice_2d(t: torch.Tensor) -> torch.Tensor:
    """The first ``(rows, cols)`` slice of ``t``: leading dimensions at index 0, 1-D as one row."""
    while t.dim() > 2:
        t = t[0]
    return t.reshape(1, -1) if t.dim() < 2 else t


def _draw_grid(ax: Axes, values: torch.Tensor, copied: torch.Tensor, title: str) -> None:
    """Cells of a 2-D slice: numbers written in, copies (made by stretching) shaded light."""
    rows, cols = values.shape
    ax.imshow(
        (~copied).float().numpy(), cmap="Blues", vmin=-0.3, vmax=2.5, aspect="equal"
    )  # originals darker, copies lighter
    if rows * cols <= 64:
        for r in range(rows):
            for c in range(cols):
                color = "0.45" if copied[r, c] else "black"
                ax.text(
                    c, r, f"{int(values[r, c])}", ha="center", va="center", fontsize=8, color=color
                )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def plot_broadcast(a_shape: Sequence[int], b_shape: Sequence[int]) -> Figure:
    """Draw ``a + b`` for tensors of ``a_shape`` and ``b_shape``: each operand expanded, and the result.

    ``a`` holds 1, 2, 3, ... and ``b`` holds 10, 20, 30, ... so every copy can be traced to its
    source; stretched copies are shaded light. For 3-D and larger results the first 2-D slice is
    drawn. When the shapes do not broadcast, the two operands are drawn with the reason.
    """
    a_shape, b_shape = tuple(a_shape), tuple(b_shape)
    a = torch.arange(1, torch.Size(a_shape).numel() + 1).reshape(a_shape)
    b = 10 * torch.arange(1, torch.Size(b_shape).numel() + 1).reshape(b_shape)
    try:
        out_shape = broadcast_shape(a_shape, b_shape)
    except ValueError as e:
        fig, axes = plt.subplots(1, 3, figsize=(9, 3), gridspec_kw={"width_ratios": [1, 1, 1.2]})
        for ax, t, name, shape in ((axes[0], a, "a", a_shape), (axes[1], b, "b", b_shape)):
            if t.numel():
                s = _slice_2d(t)
                _draw_grid(ax, s, torch.zeros_like(s, dtype=torch.bool), f"{name}: {shape}")
            else:
                ax.set_axis_off()
        axes[2].set_axis_off()
        axes[2].text(
            0.0,
            0.5,
            "error:\n" + str(e).replace(": ", ":\n", 1),
            color="crimson",
            fontsize=9,
            va="center",
            wrap=True,
        )
        axes[2].set_title("a + b", fontsize=9)
        fig.tight_layout()
        return fig
    n = len(out_shape)
    fig, axes = plt.subplots(1, 3, figsize=(9, 3))
    result = a + b
    for ax, t, name, shape in ((axes[0], a, "a", a_shape), (axes[1], b, "b", b_shape)):
        padded = (1,) * (n - len(shape)) + shape
        expanded = t.reshape(padded).expand(out_shape)
        # an entry is a copy when, along some stretched dimension, its index is not 0
        copied = torch.zeros(out_shape, dtype=torch.bool)
        for d, (p, o) in enumerate(zip(padded, out_shape)):
            if p == 1 and o > 1:
                idx = torch.arange(o).reshape([o if k == d else 1 for k in range(n)])
                copied |= idx > 0
        if expanded.numel():
            _draw_grid(
                ax, _slice_2d(expanded), _slice_2d(copied), f"{name}: {shape} -> {out_shape}"
            )
        else:
            ax.set_axis_off()
            ax.set_title(f"{name}: {shape} (empty)", fontsize=9)
    if result.numel():
        s = _slice_2d(result)
        _draw_grid(axes[2], s, torch.zeros_like(s, dtype=torch.bool), f"a + b: {out_shape}")
    else:
        axes[2].set_axis_off()
        axes[2].set_title(f"a + b: {out_shape} (empty)", fontsize=9)
    if n > 2:
        fig.suptitle(
            f"first {out_shape[-2]}x{out_shape[-1]} slice of {n}-D tensors shown", fontsize=9
        )
    fig.tight_layout()
    return fig
