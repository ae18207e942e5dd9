"""Explorer for chapter 12: one model in float32, bfloat16, float16 and int8 -> memory, speed, loss."""

from __future__ import annotations

import copy
import math
import statistics
import time
from typing import Any

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from ..compress import HAS_DYNAMIC_QUANT, model_size_bytes, quantize_int8
from ..viz.precision import plot_rounding_error, stored_value
from .core import Explorer, dropdown, explorer, slider

__all__ = ["PRECISIONS", "measure_precisions", "precision_explorer"]

PRECISIONS = ("float32", "bfloat16", "float16", "int8")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


@torch.no_grad()
def measure_precisions(
    model: torch.nn.Module, idx: torch.Tensor, targets: torch.Tensor, repeat: int = 3
) -> dict[str, dict[str, Any]]:
    """The same model stored in each of ``PRECISIONS``: its size, forward time and loss on one batch.

    ``model(idx)`` must return ``(logits (B, T, V), ...)`` (as ``GPT`` does); ``idx`` and ``targets``
    ``(B, T)`` go to the model's device. float32/bfloat16/float16: a copy with every parameter cast
    (``.to(dtype)``); int8: ``compress.quantize_int8`` (dynamic, CPU only, so a CPU copy and the
    batch on the CPU). The loss is cross-entropy of the logits taken to float32. Returns, per name,
    ``bytes`` (``model_size_bytes``), ``ms`` (median of ``repeat`` timed forward passes after one
    warm-up), ``loss``, ``device`` and ``error`` (why it could not run here, else ``None``).
    """
    device = next(model.parameters()).device
    results = {}
    for name in PRECISIONS:
        row: dict[str, Any] = {"bytes": math.nan, "ms": math.nan, "loss": math.nan, "error": None}
        try:
            if name == "int8":
                if not HAS_DYNAMIC_QUANT:
                    raise RuntimeError("this PyTorch has no dynamic int8 quantization")
                m = quantize_int8(copy.deepcopy(model).cpu())
                dev = torch.device("cpu")
            else:
                m, dev = copy.deepcopy(model).to(getattr(torch, name)), device
            m.eval()
            x, y = idx.to(dev), targets.to(dev)
            row["bytes"], row["device"] = model_size_bytes(m), dev.type
            logits = m(x)[0]  # warm-up, and the loss
            row["loss"] = F.cross_entropy(logits.float().flatten(0, 1), y.flatten()).item()
            times = []
            for _ in range(repeat):
                _sync(dev)
                start = time.perf_counter()
                m(x)
                _sync(dev)
                times.append(time.perf_counter() - start)
            row["ms"] = 1000 * statistics.median(times)
        except (RuntimeError, ValueError, NotImplementedError) as e:
            row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"
        results[name] = row
    return results


def precision_explorer(
    model: torch.nn.Module, idx: torch.Tensor, targets: torch.Tensor
) -> Explorer:
    """Pick a precision and a number: the model's size, speed and loss in each, and how the number is stored.

    The four precisions are measured once (``measure_precisions``) when the explorer is made, so
    moving a control only redraws. The lower panel shows the rounding error of each float format
    over sixteen decades, with float16's overflow at 65504.
    """
    results = measure_precisions(model, idx, targets)

    def draw(precision: str, log10_value: float) -> None:
        fig = plt.figure(figsize=(10, 6))
        # a fixed layout: tight_layout would measure every log-axis label (seconds on a busy CPU)
        grid = fig.add_gridspec(
            2, 3, height_ratios=[1, 1.2], left=0.08, right=0.98, bottom=0.09, top=0.9,
            hspace=0.35, wspace=0.3,
        )  # fmt: skip
        names = list(PRECISIONS)
        colors = ["crimson" if n == precision else "0.7" for n in names]
        base = results["float32"]
        panels = [
            ("size (MB)", [results[n]["bytes"] * 1e-6 for n in names], "{:.3g}"),
            ("ms per forward pass", [results[n]["ms"] for n in names], "{:.3g}"),
            (
                "loss minus float32's loss",
                [results[n]["loss"] - base["loss"] for n in names],
                "{:+.1e}",
            ),
        ]
        for k, (label, vals, fmt) in enumerate(panels):
            ax = fig.add_subplot(grid[0, k])
            ax.bar(range(4), [0 if math.isnan(v) else v for v in vals], color=colors)
            ax.set_xticks(range(4), [n.replace("float", "f") for n in names], fontsize=8)
            for i, v in enumerate(vals):
                text = "n/a" if math.isnan(v) else fmt.format(v)
                ax.text(i, 0, text, ha="center", va="bottom", fontsize=7)
            ax.set_title(label, fontsize=9)
        row = results[precision]
        if row["error"]:
            note = f"{precision} could not run here: {row['error']}"
        else:
            note = (
                f"{precision} ({row['device']}): {row['bytes'] / base['bytes']:.2f}x the float32 size, "
                f"{row['ms']:.2f} ms per forward, loss {row['loss']:.4f} "
                f"(float32: {base['loss']:.4f})"
            )
        fig.suptitle(note, fontsize=9)
        value = 10.0**log10_value
        ax = fig.add_subplot(grid[1, :])
        plot_rounding_error(ax, value)
        if precision == "int8":
            stored = "int8 stores integers -128..127 times one float scale per tensor"
        else:
            stored = f"{precision} stores {stored_value(value, getattr(torch, precision)):.6g}"
        ax.set_title(f"the number {value:.6g}: {stored}", fontsize=9)

    return explorer(
        draw,
        {
            "precision": dropdown(list(PRECISIONS), "float16", "precision"),
            "log10_value": slider(4.9, -9.0, 5.5, 0.1, "log10(number)"),
        },
    )
