"""Loss functions written from primitives, numerically stable, with mean reduction.

Each loss returns a 0-dim tensor on the input's device with the input's dtype, equals its
``torch.nn.functional`` counterpart (default ``reduction="mean"``), and is differentiable with
autograd. float16 and bfloat16 inputs are accepted: the arithmetic runs in float32 and the result
is cast back, so a half-precision loss is as accurate as its dtype allows.

Bad input raises at once, with a message that names the problem: ``ValueError`` for mismatched
shapes, class indices outside ``0..C-1``, probabilities outside [0, 1] or tensors on different
devices; ``TypeError`` for integer or boolean tensors where floats are needed.
"""

from __future__ import annotations

from typing import Any

import torch

from .activations import _check_float, _neg_abs, _same_shape, log_softmax

__all__ = [
    "mse",
    "mae",
    "huber",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
]

_LOW_PRECISION = (torch.float16, torch.bfloat16)
# Lower bound of p (1 - p) in the BCE gradient: PyTorch's kernel uses the float literal 1e-12f,
# which is this number in float64 too, so float64 gradients match it to the last digit.
_BCE_EPS = 9.999999960041972e-13


def _same_device(a: torch.Tensor, b: torch.Tensor, names: tuple[str, str]) -> None:
    if a.device != b.device:
        raise ValueError(
            f"{names[0]} is on {a.device} but {names[1]} is on {b.device}; "
            f"move both to one device, e.g. {names[1]}.to({names[0]}.device)"
        )


def _pair(
    a: object, b: object, names: tuple[str, str]
) -> tuple[torch.Tensor, torch.Tensor, torch.dtype]:
    """Validate two float tensors of equal shape on one device; upcast half precision to float32.

    Returns the two tensors to compute with and the dtype the result must have.
    """
    a, b = _check_float(a, names[0]), _check_float(b, names[1])
    _same_device(a, b, names)
    _same_shape(a, b.shape, *names)
    out_dtype = torch.promote_types(a.dtype, b.dtype)
    work = torch.float32 if out_dtype in _LOW_PRECISION else out_dtype
    return a.to(work), b.to(work), out_dtype


def _in_unit_interval(x: torch.Tensor, name: str) -> None:
    bad = (x < 0) | (x > 1) | torch.isnan(x)
    if bool(bad.any()):
        value = x[bad][0].item()
        raise ValueError(
            f"{name} must lie in [0, 1], found {value:g} (range of {name}: "
            f"{x.nan_to_num().min().item():g} to {x.nan_to_num().max().item():g})"
            + (
                "; if these are logits, use binary_cross_entropy_with_logits"
                if name == "probs"
                else ""
            )
        )


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error ``mean((pred - target)^2)``; pred and target ``(*)``, result ``()``."""
    p, t, dtype = _pair(pred, target, ("pred", "target"))
    return ((p - t) ** 2).mean().to(dtype)


def mae(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error ``mean(|pred - target|)`` (``F.l1_loss``); ``(*)`` -> ``()``."""
    p, t, dtype = _pair(pred, target, ("pred", "target"))
    return (p - t).abs().mean().to(dtype)


def huber(pred: torch.Tensor, target: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    """Huber loss (``F.huber_loss``); ``(*)`` -> ``()``.

    With ``r = pred - target``: ``r^2 / 2`` where ``|r| <= delta`` (quadratic near the target,
    like MSE) and ``delta * (|r| - delta / 2)`` beyond (linear, like MAE, so outliers pull less).
    The two pieces meet with equal value and slope at ``|r| = delta``.
    """
    if isinstance(delta, bool) or not isinstance(delta, (int, float)):
        raise TypeError(f"delta must be a positive number, got {type(delta).__name__}")
    if not delta > 0:
        raise ValueError(f"delta must be > 0, got {delta}")
    p, t, dtype = _pair(pred, target, ("pred", "target"))
    r = (p - t).abs()
    quadratic = 0.5 * r * r
    linear = delta * (r - 0.5 * delta)
    return torch.where(r <= delta, quadratic, linear).mean().to(dtype)


class _ClampedBCE(torch.autograd.Function):
    """Elementwise ``-(t log p + (1 - t) log(1 - p))`` with each log clamped at -100, and the
    gradient PyTorch's ``binary_cross_entropy`` uses, which stays finite where the loss is clamped.

    Autograd through ``log(p).clamp(min=-100)`` would give a gradient of exactly 0 wherever the
    clamp is active (``p < e^-100``): a confidently wrong prediction (p = 0, t = 1) could then
    never be corrected. The analytic derivative ``(p - t) / (p (1 - p))`` points toward the target;
    PyTorch bounds its denominator below by 1e-12, so the gradient is large but finite, and so
    does this backward. The gradient for the target is ``-logit(p) = log(1 - p) - log(p)``, also
    as in PyTorch (infinite at p = 0 or 1, where the loss is not differentiable in t).
    """

    @staticmethod
    def forward(ctx: Any, p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(p, t)
        log_p = torch.log(p).clamp(min=-100.0)  # log(0) = -inf becomes -100
        log_1mp = torch.log1p(-p).clamp(min=-100.0)
        return -(t * log_p + (1.0 - t) * log_1mp)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        p, t = ctx.saved_tensors
        dp = dt = None
        if ctx.needs_input_grad[0]:
            dp = grad * (p - t) / (p * (1.0 - p)).clamp(min=_BCE_EPS)
        if ctx.needs_input_grad[1]:
            dt = grad * (torch.log1p(-p) - torch.log(p))
        return dp, dt


def binary_cross_entropy(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy from probabilities (``F.binary_cross_entropy``); ``(*)`` -> ``()``.

    ``-mean(t log p + (1 - t) log(1 - p))``. ``probs`` and ``target`` must lie in [0, 1]. As in
    PyTorch, each log is clamped at -100 so that ``p = 0`` or ``p = 1`` gives a large finite loss
    rather than ``inf``, and the gradient there stays finite and points toward the target
    (``(p - t) / max(p (1 - p), 1e-12)`` per element, then divided by N for the mean), rather
    than the 0 that autograd through a clamp would give. Prefer
    ``binary_cross_entropy_with_logits``, which needs no clamp.
    """
    p, t, dtype = _pair(probs, target, ("probs", "target"))
    _in_unit_interval(p, "probs")
    _in_unit_interval(t, "target")
    return _ClampedBCE.apply(p, t).mean().to(dtype)


def binary_cross_entropy_with_logits(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy from logits (``F.binary_cross_entropy_with_logits``); ``(*)`` -> ``()``.

    With ``p = sigmoid(x)``: ``-t log p - (1 - t) log(1 - p) = max(x, 0) - t x + log(1 + e^{-|x|})``.
    The right-hand side never exponentiates a positive number, so logits of +-1e4 are fine.
    ``max(x, 0)`` and ``-|x|`` take the same branch at ``x = 0`` (``x`` and ``-x``), so the
    gradient there is ``sigmoid(0) - t = 0.5 - t``; ``clamp`` and ``abs`` would give ``1 - t``
    (``abs`` has slope 0 at 0), which is wrong exactly where zero-initialized logits start.
    """
    x, t, dtype = _pair(logits, target, ("logits", "target"))
    _in_unit_interval(t, "target")
    relu_x = torch.where(x >= 0, x, torch.zeros_like(x))  # max(x, 0), slope 1 at 0
    loss = relu_x - t * x + torch.log1p(torch.exp(_neg_abs(x)))
    return loss.mean().to(dtype)


def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy from logits (``F.cross_entropy``); logits ``(N, C)`` -> ``()``.

    ``target`` is either class indices ``(N,)`` (any integer dtype, each in ``0..C-1``) or class
    probabilities ``(N, C)`` (float, each row a distribution). The loss of one row is
    ``-sum_c q_c log softmax(z)_c``, computed with ``log_softmax`` (log-sum-exp after subtracting
    the row max), averaged over the N rows. Feed raw logits: never apply softmax first.
    """
    z = _check_float(logits, "logits")
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a torch.Tensor, got {type(target).__name__}")
    if z.dim() != 2:
        raise ValueError(
            f"logits must have shape (N, C), got {tuple(z.shape)}; "
            "for a single example use logits[None] and target[None]"
        )
    _same_device(z, target, ("logits", "target"))
    n, c = z.shape
    out_dtype = z.dtype
    work = torch.float32 if out_dtype in _LOW_PRECISION else out_dtype
    logp = log_softmax(z.to(work), dim=1)  # (N, C)
    if target.dtype == torch.bool:
        raise TypeError(
            "target has dtype torch.bool; pass class indices as int64 (target.long()) "
            "or class probabilities as floats"
        )
    if target.is_floating_point():  # class probabilities (N, C)
        if target.shape != z.shape:
            raise ValueError(
                f"probability target has shape {tuple(target.shape)} but logits have shape "
                f"{tuple(z.shape)}; they must match (or pass class indices of shape ({n},))"
            )
        q = target.to(work)
        return -(q * logp).sum(dim=1).mean().to(out_dtype)
    if target.is_complex():
        raise TypeError(f"target has dtype {target.dtype}; expected integer class indices")
    if target.shape != (n,):
        raise ValueError(
            f"class-index target must have shape ({n},) for logits of shape {tuple(z.shape)}, "
            f"got {tuple(target.shape)}"
        )
    bad = (target < 0) | (target >= c)
    if bool(bad.any()):
        row = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"class index {int(target[row])} (row {row}) is out of range for {c} classes; "
            f"valid indices are 0..{c - 1}"
        )
    picked = logp.gather(1, target.long().unsqueeze(1)).squeeze(1)  # (N,) log-prob of the label
    return -picked.mean().to(out_dtype)
