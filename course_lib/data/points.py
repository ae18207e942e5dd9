"""Generated 2-D point data sets (moons, spirals, blobs) for chapters 04-06.

Each returns ``(X, y)``: ``X`` of shape (n, 2) and class indices ``y`` of shape (n,) (int64). The
points are drawn on the CPU from ``seed`` alone, so the same seed gives the same data on every
machine and device; they are then moved to ``device`` and cast to ``dtype``.
"""

from __future__ import annotations

import math

import torch

__all__ = ["make_blobs", "make_moons", "make_spirals"]


def _check(n: int, noise: float, classes: int = 1) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < classes:
        raise ValueError(f"n must be an int >= {classes} (one point per class), got {n!r}")
    if not (isinstance(noise, (int, float)) and noise >= 0 and math.isfinite(noise)):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")


def _split(n: int, classes: int) -> torch.Tensor:
    """Class labels for n points, as even as possible: sizes differ by at most one."""
    return torch.arange(n) % classes


def _finish(
    x: torch.Tensor, y: torch.Tensor, device: torch.device | str | None, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    if not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point dtype, got {dtype}")
    return x.to(device=device, dtype=dtype), y.to(device=device)


def make_moons(
    n: int = 200,
    noise: float = 0.1,
    seed: int = 0,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaving half circles (classes 0 and 1) plus Gaussian noise. -> X (n, 2), y (n,)."""
    _check(n, noise, 2)
    gen = torch.Generator().manual_seed(seed)
    y = _split(n, 2)
    t = torch.rand(n, generator=gen, dtype=torch.float64) * math.pi  # angle along the arc
    upper = torch.stack([torch.cos(t), torch.sin(t)], dim=1)  # (n, 2)
    lower = torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], dim=1)
    x = torch.where((y == 0)[:, None], upper, lower)
    x = x + noise * torch.randn(n, 2, generator=gen, dtype=torch.float64)
    return _finish(x, y, device, dtype)


def make_spirals(
    n: int = 300,
    classes: int = 3,
    noise: float = 0.2,
    seed: int = 0,
    *,
    turns: float = 1.0,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``classes`` spiral arms winding out from the origin (radius up to 1). -> X (n, 2), y (n,).

    ``noise`` is the standard deviation of the angle noise in radians; ``turns`` how many times
    each arm winds around.
    """
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
        raise ValueError(f"classes must be an int >= 2, got {classes!r}")
    _check(n, noise, classes)
    if not turns > 0:
        raise ValueError(f"turns must be positive, got {turns!r}")
    gen = torch.Generator().manual_seed(seed)
    y = _split(n, classes)
    r = torch.rand(n, generator=gen, dtype=torch.float64)  # radius in [0, 1)
    angle = 2 * math.pi * (turns * r + y / classes)
    angle = angle + noise * torch.randn(n, generator=gen, dtype=torch.float64)
    x = torch.stack([r * torch.cos(angle), r * torch.sin(angle)], dim=1)  # (n, 2)
    return _finish(x, y, device, dtype)


def make_blobs(
    n: int = 200,
    centers: int = 3,
    std: float = 0.5,
    seed: int = 0,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian blobs around ``centers`` points evenly spaced on a circle of radius 2."""
    if isinstance(centers, bool) or not isinstance(centers, int) or centers < 1:
        raise ValueError(f"centers must be a positive int, got {centers!r}")
    _check(n, std, centers)
    gen = torch.Generator().manual_seed(seed)
    y = _split(n, centers)
    phi = 2 * math.pi * torch.arange(centers, dtype=torch.float64) / centers
    mu = 2 * torch.stack([torch.cos(phi), torch.sin(phi)], dim=1)  # (centers, 2)
    x = mu[y] + std * torch.randn(n, 2, generator=gen, dtype=torch.float64)
    return _finish(x, y, device, dtype)
