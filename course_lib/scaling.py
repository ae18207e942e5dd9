"""Compute accounting: training FLOPs, a machine's measured peak, model FLOPs utilization (MFU).

Sources: Kaplan et al., "Scaling Laws for Neural Language Models", 2020 (the ``6 N D`` estimate);
Chowdhery et al., "PaLM", 2022 (model FLOPs utilization).
"""

from __future__ import annotations

import time

import torch


def training_flops(n_params: int, n_tokens: int) -> float:
    """Estimated floating-point operations to train ``n_params`` parameters on ``n_tokens`` tokens.

    ``6 * N * D``: each parameter takes part in one multiply-add (2 FLOPs) per token in the forward
    pass and about twice that in the backward pass. Attention's ``T x T`` work is left out, which is
    fair when the context is short next to the model width.

    Raises ValueError when either count is negative.
    """
    if n_params < 0 or n_tokens < 0:
        raise ValueError(f"n_params and n_tokens must be >= 0, got {n_params} and {n_tokens}")
    return 6.0 * n_params * n_tokens


def matmul_peak_flops(n: int = 1024, repeat: int = 5, device: torch.device | str = "cpu") -> float:
    """Measured FLOP/s of an ``(n, n) @ (n, n)`` float32 matmul: the best of ``repeat`` timings.

    A dense matmul is the fastest thing a machine does, so this stands in for its peak (an
    estimate: a vendor's datasheet peak is higher). ``2 n^3`` FLOPs per product.

    Raises ValueError when ``n`` or ``repeat`` is below 1.
    """
    if n < 1 or repeat < 1:
        raise ValueError(f"n and repeat must be >= 1, got {n} and {repeat}")
    device = torch.device(device)
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / max(best, 1e-12)


def mfu(flops: float, seconds: float, peak_flops_per_s: float) -> float:
    """Model FLOPs utilization: achieved ``flops / seconds`` as a fraction of ``peak_flops_per_s``.

    Raises ValueError when ``seconds`` or ``peak_flops_per_s`` is not positive.
    """
    if seconds <= 0 or peak_flops_per_s <= 0:
        raise ValueError(
            f"seconds and peak_flops_per_s must be > 0, got {seconds} and {peak_flops_per_s}"
        )
    return flops / seconds / peak_flops_per_s
