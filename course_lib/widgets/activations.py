"""Explorer for the activations chapter: how big are the gradients in each layer of a deep stack?"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch

from .. import activations
from .core import Explorer, dropdown, explorer, slider

__all__ = ["layer_gradients", "gradient_explorer", "rms"]


def layer_gradients(
    activation: str = "tanh",
    depth: int = 10,
    init_scale: float = 1.0,
    width: int = 64,
    batch: int = 128,
    seed: int = 0,
) -> list[torch.Tensor]:
    """Backpropagated gradients ``dL/dz_l``, each ``(batch, width)``, of a deep stack, first layer first.

    The stack is ``z_l = h_{l-1} @ W_l``, ``h_l = f(z_l)`` for ``l = 1..depth``, with
    ``W_l ~ N(0, init_scale^2 / width)`` (no biases), inputs ``(batch, width)`` from N(0, 1), and a
    fixed random linear read-out of ``h_depth`` as the loss, so the gradient's size at the top does
    not depend on ``depth``. Going down one layer multiplies the gradient by ``f'(z_l)`` and by
    ``W_l^T``: with ReLU its mean square changes by ``init_scale^2 / 2`` per layer (Kaiming's
    ``init_scale = sqrt(2)`` keeps it), with the sigmoid it shrinks at least 16-fold.
    """
    if activation not in activations.ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}; choose from {list(activations.ACTIVATIONS)}"
        )
    if depth < 1 or width < 1 or batch < 1:
        raise ValueError(f"depth, width and batch must be >= 1, got {depth}, {width}, {batch}")
    f = activations.ACTIVATIONS[activation]
    g = torch.Generator().manual_seed(seed)
    std = init_scale / math.sqrt(width)
    weights = [torch.randn(width, width, generator=g) * std for _ in range(depth)]
    h = torch.randn(batch, width, generator=g)  # (B, W)
    readout = torch.randn(width, generator=g) / math.sqrt(width)  # (W,)
    zs = []
    for w in weights:
        z = (h @ w).requires_grad_()  # (B, W) pre-activation; a leaf only at the first layer
        zs.append(z)
        h = f(z)  # (B, W)
    loss = (h @ readout).sum()  # summed over the batch: each example's gradient has unit scale
    return [gr.detach() for gr in torch.autograd.grad(loss, zs)]


def rms(t: torch.Tensor) -> float:
    """Root mean square of a tensor's entries (zeros included), as a float."""
    return t.double().pow(2).mean().sqrt().item()


def _draw(activation: str, depth: int, init_scale: float) -> None:
    grads = layer_gradients(activation, depth, init_scale)
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.3), gridspec_kw={"width_ratios": [3, 2]})
    cmap = plt.get_cmap("viridis")
    logs = [gr.abs().flatten() for gr in grads]
    logs = [m[m > 0].double().log10() for m in logs]  # zeros (switched-off ReLUs) left out
    found = [lg for lg in logs if lg.numel()]
    if found:
        lo = min(lg.min().item() for lg in found)
        hi = max(lg.max().item() for lg in found)
        bins = torch.linspace(lo, hi + 1e-9, 61).numpy()  # shared edges, so layers compare
        for i, lg in enumerate(logs):
            if lg.numel():
                left.hist(
                    lg.numpy(),
                    bins=bins,
                    histtype="step",
                    color=cmap(i / max(depth - 1, 1)),
                    label=f"layer {i + 1}" if i in (0, depth - 1) else None,
                )
    left.set(xlabel="log10 |dL/dz| per unit and example (zeros left out)", ylabel="count")
    left.legend(fontsize=7)
    left.set_title(f"{activation}, depth {depth}, init scale {init_scale:g}", fontsize=10)
    right.semilogy(range(1, depth + 1), [max(rms(gr), 1e-300) for gr in grads], "o-", ms=3)
    right.set(xlabel="layer (1 = nearest the input)", ylabel="RMS of dL/dz")
    right.set_title("gradient size per layer", fontsize=10)
    fig.tight_layout()


def gradient_explorer() -> Explorer:
    """Pick an activation, a depth and an init scale; see the gradient histogram of every layer."""
    return explorer(
        _draw,
        {
            "activation": dropdown(list(activations.ACTIVATIONS), "sigmoid", "activation"),
            "depth": slider(10, 2, 30, 1, "depth"),
            "init_scale": slider(1.0, 0.25, 3.0, 0.05, "init scale"),
        },
    )
