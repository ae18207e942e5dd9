"""Layers with hand-written backward passes on tensors (the cache pattern), and a gradient check.

Each layer has ``forward(x) -> (out, cache)`` and ``backward(dout, cache) -> dx``; ``cache`` holds
what the backward pass needs from the forward pass. Layers with parameters keep them in
``params`` and write the gradients of the last backward pass into ``grads`` (same keys). Nothing
here uses ``torch.autograd``: the tests compare every backward with it.

>>> mlp = MLP([2, 16, 3], seed=0)
>>> logits, cache = mlp.forward(torch.randn(8, 2))
>>> loss, lcache = SoftmaxCrossEntropy().forward(logits, torch.randint(0, 3, (8,)))
>>> dx = mlp.backward(SoftmaxCrossEntropy().backward(1.0, lcache), cache)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .activations import _check_float, _same_shape

__all__ = ["MLP", "Linear", "ReLU", "SoftmaxCrossEntropy", "accuracy", "gradient_check"]


def _check_dout(dout: Any, shape: torch.Size) -> None:
    _same_shape(_check_float(dout, "dout"), shape, "dout", "the layer's output")


class Linear:
    """y = x @ W.T + b with ``W`` of shape (out_features, in_features), like ``torch.nn.Linear``.

    Weights start uniform in +-1/sqrt(in_features) (PyTorch's default), drawn on the CPU from
    ``seed`` (or the global generator when ``seed`` is None), then moved to ``device``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        seed: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        for name, n in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"{name} must be a positive int, got {n!r}")
        if not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating-point dtype, got {dtype}")
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        bound = 1.0 / math.sqrt(in_features)

        def uniform(*shape: int) -> torch.Tensor:
            u = torch.rand(*shape, generator=gen, dtype=torch.float64) * 2 - 1
            return (u * bound).to(device=device, dtype=dtype)

        self.params: dict[str, torch.Tensor] = {"weight": uniform(out_features, in_features)}
        if bias:
            self.params["bias"] = uniform(out_features)
        self.grads: dict[str, torch.Tensor] = {
            k: torch.zeros_like(v) for k, v in self.params.items()
        }

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor]]:
        """x: (N, in_features) -> out: (N, out_features); cache: (x,)."""
        w = self.params["weight"]
        _check_float(x, "x", ndim=2)
        if x.shape[1] != w.shape[1]:
            raise ValueError(
                f"x has {x.shape[1]} features (shape {tuple(x.shape)}), the layer expects {w.shape[1]}"
            )
        if x.dtype != w.dtype or x.device != w.device:
            raise TypeError(
                f"x is {x.dtype} on {x.device}, the weights are {w.dtype} on {w.device}; "
                "convert one with .to(...)"
            )
        out = x @ w.T  # (N, out)
        if "bias" in self.params:
            out = out + self.params["bias"]
        return out, (x,)

    def backward(self, dout: torch.Tensor, cache: tuple[torch.Tensor]) -> torch.Tensor:
        """dout: (N, out_features) -> dx: (N, in_features); fills grads['weight'] (out, in), ['bias']."""
        (x,) = cache
        w = self.params["weight"]
        _check_dout(dout, torch.Size((x.shape[0], w.shape[0])))
        self.grads["weight"] = dout.T @ x  # (out, N) @ (N, in) -> (out, in)
        if "bias" in self.params:
            self.grads["bias"] = dout.sum(dim=0)  # (out,)
        return dout @ w  # (N, out) @ (out, in) -> (N, in)


class ReLU:
    """max(0, x) elementwise; the gradient is passed only where x > 0 (0 at x == 0, as in PyTorch)."""

    def __init__(self) -> None:
        self.params: dict[str, torch.Tensor] = {}  # no parameters
        self.grads: dict[str, torch.Tensor] = {}

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: any shape -> (out, cache) where cache is the mask x > 0."""
        _check_float(x, "x")
        mask = x > 0
        return x * mask, mask

    def backward(self, dout: torch.Tensor, cache: torch.Tensor) -> torch.Tensor:
        """dout: shape of x -> dx = dout where x > 0, else 0."""
        _check_dout(dout, cache.shape)
        return dout * cache


class SoftmaxCrossEntropy:
    """Mean cross-entropy of softmax(logits) against class indices, computed from the logits.

    Uses log-sum-exp with the row maximum subtracted, so logits of +-1e4 stay finite. The
    gradient with respect to the logits is (softmax(logits) - one_hot(target)) / N.
    """

    def __init__(self) -> None:
        self.params: dict[str, torch.Tensor] = {}  # no parameters
        self.grads: dict[str, torch.Tensor] = {}

    def forward(
        self, logits: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """logits: (N, C) float, target: (N,) int in [0, C) -> (loss: 0-d tensor, cache)."""
        _check_float(logits, "logits", ndim=2)
        n, c = logits.shape
        if n == 0:
            raise ValueError("logits has an empty batch (shape (0, C)); the mean loss is undefined")
        if (
            not isinstance(target, torch.Tensor)
            or target.dtype.is_floating_point
            or target.dtype == torch.bool
        ):
            what = (
                f"dtype {target.dtype}"
                if isinstance(target, torch.Tensor)
                else type(target).__name__
            )
            raise TypeError(f"target must be an integer tensor of class indices, got {what}")
        if target.shape != (n,):
            raise ValueError(
                f"target must have shape ({n},) to match logits {tuple(logits.shape)}, got {tuple(target.shape)}"
            )
        if target.device != logits.device:
            raise ValueError(f"target is on {target.device}, logits on {logits.device}")
        lo, hi = int(target.min()), int(target.max())
        if lo < 0 or hi >= c:
            raise ValueError(f"class indices must be in [0, {c - 1}], got values from {lo} to {hi}")
        shifted = logits - logits.max(dim=1, keepdim=True).values  # (N, C), max 0 per row
        log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()  # (N, C)
        loss = -log_probs[torch.arange(n, device=logits.device), target].mean()
        return loss, (log_probs.exp(), target)

    def backward(
        self, dout: torch.Tensor | float, cache: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        """dout: the scalar gradient of the final loss w.r.t. this loss (1.0) -> dlogits (N, C)."""
        probs, target = cache
        if isinstance(dout, torch.Tensor):
            if dout.numel() != 1:
                raise ValueError(
                    f"the loss is a scalar, so dout must be one number, got shape {tuple(dout.shape)}"
                )
        elif isinstance(dout, bool) or not isinstance(dout, (int, float)):
            raise TypeError(
                f"dout must be a number or a one-element tensor, got {type(dout).__name__}"
            )
        n = probs.shape[0]
        d = probs.clone()
        d[torch.arange(n, device=probs.device), target] -= 1
        return d * (dout / n)


class MLP:
    """Linear -> ReLU -> ... -> Linear (no activation on the output: it returns logits).

    ``sizes = [d_in, h1, ..., d_out]``. ``params`` and ``grads`` are flat dicts with keys like
    ``"0.weight"``, ``"2.bias"`` (the index of the layer, as in ``torch.nn.Sequential``).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        seed: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least input and output sizes, got {list(sizes)}")
        self.layers: list[Any] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            s = None if seed is None else seed + i
            self.layers.append(Linear(a, b, seed=s, device=device, dtype=dtype))
            if i < len(sizes) - 2:
                self.layers.append(ReLU())

    @property
    def params(self) -> dict[str, torch.Tensor]:
        """Every parameter tensor by name (the tensors themselves: update them in place)."""
        return {
            f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()
        }

    @property
    def grads(self) -> dict[str, torch.Tensor]:
        """The gradients of the last backward pass, keyed like ``params``."""
        return {
            f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.grads.items()
        }

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[Any]]:
        """x: (N, d_in) -> (logits: (N, d_out), cache: one entry per layer)."""
        caches = []
        for layer in self.layers:
            x, cache = layer.forward(x)
            caches.append(cache)
        return x, caches

    def backward(self, dout: torch.Tensor, cache: list[Any]) -> torch.Tensor:
        """dout: (N, d_out) -> dx: (N, d_in), layers visited in reverse; fills ``grads``."""
        if len(cache) != len(self.layers):
            raise ValueError(
                f"cache has {len(cache)} entries, the MLP has {len(self.layers)} layers"
            )
        for layer, c in zip(reversed(self.layers), reversed(cache)):
            dout = layer.backward(dout, c)
        return dout

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, d_in) -> logits (N, d_out), without keeping a cache."""
        return self.forward(x)[0]

    def sgd_step(self, lr: float) -> None:
        """Plain gradient descent: p -= lr * grad for every parameter, in place."""
        if not lr >= 0:
            raise ValueError(f"lr must be >= 0, got {lr!r}")
        grads = self.grads
        for name, p in self.params.items():
            p -= lr * grads[name]


def accuracy(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Fraction of rows whose largest logit is the target class: logits ``(..., C)``, target ``(...)``."""
    _check_float(logits, "logits")
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a tensor of class indices, got {type(target).__name__}")
    if target.shape != logits.shape[:-1]:
        raise ValueError(
            f"target shape {tuple(target.shape)} does not match logits {tuple(logits.shape)}"
        )
    if target.numel() == 0:
        raise ValueError("accuracy of an empty batch is undefined")
    return (logits.argmax(dim=-1) == target).double().mean().item()


def gradient_check(
    f: Callable[[], Any],
    params: dict[str, torch.Tensor],
    grads: dict[str, torch.Tensor],
    *,
    eps: float = 1e-6,
    max_entries: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Relative error between analytic ``grads`` and central differences of ``f``, per parameter.

    ``f()`` computes the scalar loss from the current ``params`` (the same tensors: each entry is
    nudged in place by +-eps and put back). The error of a parameter is
    ``|g - n| / max(|g| + |n|, 1e-12)`` with Euclidean norms of the analytic gradient ``g`` and
    the numeric one ``n``. In float64 a correct backward gives about 1e-8 or less; a wrong one
    about 1e-1 or more. ``max_entries`` checks a random subset of each parameter's entries.
    """
    if set(params) != set(grads):
        raise ValueError(
            f"params and grads need the same keys, got {sorted(params)} and {sorted(grads)}"
        )
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    gen = torch.Generator().manual_seed(seed)
    report: dict[str, float] = {}
    for name, p in params.items():
        g = grads[name]
        _check_float(p, f"params[{name!r}]")
        if g.shape != p.shape:
            raise ValueError(
                f"grads[{name!r}] has shape {tuple(g.shape)}, the parameter {tuple(p.shape)}"
            )
        flat = p.data.view(-1)
        idx = torch.arange(flat.numel())
        if max_entries is not None and flat.numel() > max_entries:
            idx = torch.randperm(flat.numel(), generator=gen)[:max_entries]
        num = torch.empty(len(idx), dtype=torch.float64)
        for j, i in enumerate(idx.tolist()):
            old = flat[i].item()
            flat[i] = old + eps
            up = float(f())
            flat[i] = old - eps
            down = float(f())
            flat[i] = old
            num[j] = (up - down) / (2 * eps)
        ana = g.detach().reshape(-1)[idx.to(g.device)].to("cpu", torch.float64)
        report[name] = ((ana - num).norm() / max((ana.norm() + num.norm()).item(), 1e-12)).item()
    return report
