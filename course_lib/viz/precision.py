"""Number formats drawn (chapter 12): the rounding error of float32, bfloat16 and float16 over magnitudes."""

from __future__ import annotations

import functools

import torch
from matplotlib.axes import Axes

__all__ = ["FLOAT_FORMATS", "plot_rounding_error", "stored_value"]

FLOAT_FORMATS = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
_COLORS = {"float32": "tab:blue", "bfloat16": "tab:green", "float16": "tab:orange"}


def stored_value(x: float, dtype: torch.dtype) -> float:
    """What ``dtype`` stores for the number ``x``: rounded, ``inf`` past its largest value, 0 below its smallest."""
    return torch.tensor(x, dtype=torch.float64).to(dtype).double().item()


@functools.lru_cache(maxsize=4)
def _errors(lo: float, hi: float, n: int = 400) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    x = torch.logspace(lo, hi, n, dtype=torch.float64)
    errors = {}
    for name, dt in FLOAT_FORMATS.items():
        stored = x.to(dt).double()
        errors[name] = ((stored - x).abs() / x).nan_to_num(nan=1.0, posinf=1.0).clamp(1e-10, 1.0)
    return x, errors


def plot_rounding_error(
    ax: Axes, value: float | None = None, lo: float = -10.0, hi: float = 6.0
) -> Axes:
    """Relative rounding error ``|stored(x) - x| / x`` of each float format for ``x`` in ``10**lo .. 10**hi``.

    Overflow (``inf``) and underflow to 0 show as error 1 (everything lost); float16's overflow
    threshold (65504) is marked. ``value``, if given, gets a vertical line and the stored numbers
    in the legend.
    """
    x, errors = _errors(lo, hi)
    for name, dt in FLOAT_FORMATS.items():
        err = errors[name]
        label = name
        if value is not None:
            label += f": stores {stored_value(value, dt):.6g}"
        ax.loglog(x.numpy(), err.numpy(), lw=0.8, color=_COLORS[name], label=label)
    fmax = torch.finfo(torch.float16).max
    ax.axvspan(fmax, 10**hi, color="crimson", alpha=0.08)
    ax.axvline(fmax, color="crimson", lw=0.8, ls="--")
    ax.text(fmax, 2e-10, " float16 overflows (> 65504)", color="crimson", fontsize=7, va="bottom")
    if value is not None:
        ax.axvline(value, color="black", lw=1)
    ax.set(xlabel="magnitude of the number", ylabel="relative rounding error", ylim=(1e-10, 2.0))
    ax.legend(fontsize=7, loc="center left")
    ax.grid(alpha=0.3)
    return ax
