"""Plots for the losses chapter: each loss as a function of the prediction (matplotlib only)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .. import losses

__all__ = ["plot_regression_losses", "plot_classification_losses"]


def _per_point(loss_fn, pred: torch.Tensor, target: torch.Tensor, **kw) -> torch.Tensor:
    """The loss of each point on its own (the library losses average, so call them per point)."""
    return torch.stack([loss_fn(p[None], t[None], **kw) for p, t in zip(pred, target)])


def plot_regression_losses(delta: float = 1.0, span: float = 3.0) -> Figure:
    """MSE, MAE and Huber(delta) of one prediction against target 0, for residuals in [-span, span]."""
    r = torch.linspace(-span, span, 241, dtype=torch.float64)  # (241,)
    zero = torch.zeros_like(r)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(r, _per_point(losses.mse, r, zero), label="MSE: $r^2$")
    ax.plot(r, _per_point(losses.mae, r, zero), label="MAE: $|r|$")
    ax.plot(r, _per_point(losses.huber, r, zero, delta=delta), label=f"Huber, $\\delta$={delta:g}")
    ax.axvspan(-delta, delta, color="0.92", zorder=0, label="Huber's quadratic zone")
    ax.set(xlabel="residual r = prediction - target", ylabel="loss of one point", ylim=(0, span**2))
    ax.legend(fontsize=8)
    ax.set_title("Regression losses: how hard each one punishes a miss", fontsize=10)
    fig.tight_layout()
    return fig


def plot_classification_losses(span: float = 8.0) -> Figure:
    """BCE-with-logits of one logit z against labels 1 and 0, with the two naive-formula regions."""
    z = torch.linspace(-span, span, 321, dtype=torch.float64)  # (321,)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, style in ((1.0, "-"), (0.0, "--")):
        t = torch.full_like(z, label)
        loss = _per_point(losses.binary_cross_entropy_with_logits, z, t)
        ax.plot(
            z,
            loss,
            style,
            label=f"label {label:g}: $-\\log\\,$"
            + ("$\\sigma(z)$" if label else "$(1-\\sigma(z))$"),
        )
    ax.set(xlabel="logit z", ylabel="loss of one example", ylim=(0, span + 0.5))
    ax.set_title("Cross-entropy grows linearly when a confident answer is wrong", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
