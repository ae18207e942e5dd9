"""A weight update drawn (chapter 14): its singular values, and how much of it a rank-r update can hold."""

from __future__ import annotations

import torch
from matplotlib.axes import Axes

__all__ = ["low_rank_energy", "plot_update_spectrum"]


def low_rank_energy(delta: torch.Tensor) -> torch.Tensor:
    """The share of ``delta``'s squared Frobenius norm that the best rank-k matrix keeps, k = 1..K.

    ``delta (out, in)`` -> ``(K,)`` with ``K = min(out, in)``, rising to 1. By the Eckart-Young
    theorem the best rank-k approximation keeps the k largest singular values ``s_i``, so entry
    ``k - 1`` is ``sum(s[:k]**2) / sum(s**2)``. A zero ``delta`` gives all ones (nothing to lose).
    Raises ``ValueError`` for a tensor that is not 2-D.
    """
    if not isinstance(delta, torch.Tensor) or delta.dim() != 2:
        raise ValueError(
            f"delta must be a 2-D weight update (out, in), got {getattr(delta, 'shape', delta)}"
        )
    s2 = torch.linalg.svdvals(delta.detach().double().cpu()) ** 2  # (K,), largest first
    total = s2.sum()
    if total == 0:
        return torch.ones_like(s2)
    return s2.cumsum(0) / total


def plot_update_spectrum(
    ax_s: Axes, ax_e: Axes, delta: torch.Tensor, r: int, name: str = ""
) -> float:
    """Singular values of ``delta (out, in)`` (the first ``r`` coloured) and its kept share vs rank.

    Left axes: the singular values, largest first (log scale); right axes: ``low_rank_energy``
    with rank ``r`` marked. Returns the share of the update a rank-``r`` LoRA could hold at best.
    """
    s = torch.linalg.svdvals(delta.detach().double().cpu())  # (K,)
    energy = low_rank_energy(delta)
    k = torch.arange(1, len(s) + 1)
    r = max(1, min(int(r), len(s)))
    kept = float(energy[r - 1])
    ax_s.bar(
        k[:r].numpy(),
        s[:r].numpy(),
        color="tab:blue",
        width=1.0,
        label=f"the {r} a rank-{r} update keeps",
    )
    ax_s.bar(k[r:].numpy(), s[r:].numpy(), color="lightgray", width=1.0, label="left out")
    ax_s.set_yscale("log")
    ax_s.set(
        xlabel="singular value number",
        ylabel="singular value",
        title=f"{name} update: singular values",
    )
    ax_s.legend(fontsize=7)
    ax_e.plot(k.numpy(), energy.numpy(), color="k", lw=1)
    ax_e.plot([r], [kept], "o", color="tab:blue")
    ax_e.axvline(r, color="tab:blue", lw=0.8, ls="--")
    ax_e.text(r, 0.05, f" rank {r} keeps {kept:.0%}", color="tab:blue", fontsize=8)
    ax_e.set(
        xlabel="rank k",
        ylabel="share of ||ΔW||² kept",
        ylim=(0, 1.02),
        title="best rank-k approximation",
    )
    ax_e.grid(alpha=0.3)
    return kept
