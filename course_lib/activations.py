"""Activation functions written from primitives, numerically stable, with their derivatives.

Every function takes a floating-point tensor of any shape ``(*)`` and returns a tensor of the same
shape, device and dtype (float16 and bfloat16 included). Each one equals its ``torch`` counterpart
(``torch.sigmoid``, ``F.gelu``, ``torch.softmax`` ...) and is differentiable with autograd.

Derivatives: ``grad_<name>(x)`` takes the **input** ``x`` (the pre-activation), never the output,
and returns ``d name(x) / dx`` elementwise, shape ``(*)``. Backprop code that cached the output
``y = sigmoid(x)`` may use ``y * (1 - y)`` directly; ``grad_sigmoid`` wants ``x``. At a kink
(ReLU and LeakyReLU at ``x = 0``) we use the value PyTorch's autograd uses: the left slope.
``grad_softmax`` and ``grad_log_softmax`` return full Jacobians ``(*, C, C)``, because softmax
mixes the entries along ``dim``.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "sigmoid",
    "tanh",
    "tanh_exp2",
    "tanh_exp",
    "relu",
    "leaky_relu",
    "gelu",
    "silu",
    "softmax",
    "log_softmax",
    "grad_sigmoid",
    "grad_tanh",
    "grad_relu",
    "grad_leaky_relu",
    "grad_gelu",
    "grad_silu",
    "grad_softmax",
    "grad_log_softmax",
    "ACTIVATIONS",
    "GRADIENTS",
]

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _check_float(x: object, name: str = "x", ndim: int | None = None) -> torch.Tensor:
    """Return ``x`` if it is a floating-point tensor (with ``ndim`` dims if given); otherwise raise
    a TypeError (ValueError for the dims) naming what it is."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got dtype {x.dtype}; "
            f"convert it first, e.g. {name}.float()"
        )
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")
    return x


def _same_shape(a: torch.Tensor, shape: torch.Size, name: str, other: str) -> None:
    """ValueError unless ``a`` (called ``name``) has exactly the shape of ``other``: no broadcasting."""
    if a.shape != shape:
        raise ValueError(
            f"{name} has shape {tuple(a.shape)} but {other} has shape {tuple(shape)}; "
            "they must match exactly (no broadcasting: (N, 1) against (N,) would silently "
            "compare every prediction with every target)"
        )


def _check_dim(x: torch.Tensor, dim: int) -> int:
    """Return ``dim`` as a non-negative index into ``x.shape``; ValueError when out of range."""
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    nd = max(x.dim(), 1)
    if not -nd <= dim < nd:
        raise ValueError(f"dim={dim} is out of range for a tensor of shape {tuple(x.shape)}")
    return dim % nd


def _neg_abs(x: torch.Tensor) -> torch.Tensor:
    """``-|x|`` with derivative -1 at ``x = 0`` (``abs`` has derivative 0 there, which would be wrong)."""
    return torch.where(x >= 0, -x, x)


# ----------------------------------------------------------------------------- activations


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, shape ``(*)``, without overflow for any finite x.

    ``exp`` only ever sees ``-|x| <= 0``, so it lies in (0, 1]: for ``x >= 0`` we use
    ``1 / (1 + e)`` and for ``x < 0`` the equal form ``e / (1 + e)``, with ``e = exp(-|x|)``.
    The naive ``1 / (1 + exp(-x))`` gives the right value at ``x = -1e4`` but an ``inf / inf``
    (nan) gradient there.
    """
    x = _check_float(x)
    e = torch.exp(_neg_abs(x))
    return torch.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def tanh(x: torch.Tensor) -> torch.Tensor:
    """Hyperbolic tangent, shape ``(*)``, stable for any finite x.

    ``tanh(x) = sign(x) * (1 - e) / (1 + e)`` with ``e = exp(-2|x|)`` in (0, 1]; ``1 - e`` is
    computed as ``-expm1(-2|x|)``, which stays accurate for tiny ``x``.
    """
    x = _check_float(x)
    z = 2.0 * _neg_abs(x)  # -2|x| <= 0
    t = -torch.expm1(z) / (1.0 + torch.exp(z))
    return torch.where(x >= 0, t, -t)


def tanh_exp2(x: torch.Tensor) -> torch.Tensor:
    """Textbook form ``(e^{2x} - 1) / (e^{2x} + 1)``, shape ``(*)``. Overflows (nan) for large x."""
    x = _check_float(x)
    e2 = torch.exp(2.0 * x)
    return (e2 - 1.0) / (e2 + 1.0)


def tanh_exp(x: torch.Tensor) -> torch.Tensor:
    """Textbook form ``(e^x - e^-x) / (e^x + e^-x)``, shape ``(*)``. Overflows (nan) for large |x|."""
    x = _check_float(x)
    a, b = torch.exp(x), torch.exp(-x)
    return (a - b) / (a + b)


def relu(x: torch.Tensor) -> torch.Tensor:
    """``max(x, 0)``, shape ``(*)``; nan stays nan, and the gradient at 0 is 0 (as in PyTorch)."""
    x = _check_float(x)
    return torch.where(x <= 0, torch.zeros_like(x), x)


def leaky_relu(x: torch.Tensor, slope: float = 0.01) -> torch.Tensor:
    """``x`` for ``x > 0`` and ``slope * x`` otherwise, shape ``(*)``; like ``F.leaky_relu``."""
    x = _check_float(x)
    if not isinstance(slope, (int, float)) or isinstance(slope, bool):
        raise TypeError(f"slope must be a number, got {type(slope).__name__}")
    return torch.where(x > 0, x, slope * x)


def gelu(x: torch.Tensor) -> torch.Tensor:
    """Exact GELU ``x * Phi(x)`` with the normal CDF ``Phi``, shape ``(*)``; like ``F.gelu``.

    ``Phi(x) = erfc(-x / sqrt(2)) / 2``: ``erfc`` keeps the far negative tail accurate where
    ``1 + erf(...)`` would cancel to 0.
    """
    x = _check_float(x)
    return 0.5 * x * torch.erfc(-x * _INV_SQRT2)


def silu(x: torch.Tensor) -> torch.Tensor:
    """SiLU (swish) ``x * sigmoid(x)``, shape ``(*)``; like ``F.silu``."""
    return _check_float(x) * sigmoid(x)


def log_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``x - logsumexp(x, dim)``, same shape as ``x``; the max is subtracted first, so no overflow.

    Shifting every entry along ``dim`` by the same constant leaves the result unchanged, so we
    shift by the maximum: all exponents are then <= 0 and the largest is exactly ``exp(0) = 1``.
    """
    x = _check_float(x)
    d = _check_dim(x, dim)
    if x.dim() == 0 or x.shape[d] == 0:
        return x - x  # nothing to normalize over (keeps shape, dtype, device, graph)
    shifted = x - x.amax(dim=d, keepdim=True).detach()  # (*), every entry <= 0 along dim
    return shifted - torch.log(torch.exp(shifted).sum(dim=d, keepdim=True))


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``, same shape as ``x``, computed after subtracting the max."""
    x = _check_float(x)
    d = _check_dim(x, dim)
    if x.dim() == 0:
        return torch.ones_like(x)
    if x.shape[d] == 0:
        return x - x
    e = torch.exp(x - x.amax(dim=d, keepdim=True).detach())  # (*), in (0, 1]
    return e / e.sum(dim=d, keepdim=True)


# ----------------------------------------------------------------------------- derivatives


def grad_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """``d sigmoid(x) / dx = s (1 - s)`` with ``s = sigmoid(x)``; takes the input x, shape ``(*)``.

    Computed as ``e / (1 + e)^2`` with ``e = exp(-|x|)``, the same number without the rounding of
    ``1 - s``: in float32, ``s (1 - s)`` is exactly 0 from ``x = 17`` on (``s`` rounds to 1), where
    the slope is still about 4e-8; this form stays accurate until it underflows near ``|x| = 100``.
    """
    e = torch.exp(_neg_abs(_check_float(x)))  # in (0, 1]; the curve is symmetric in x
    return (e / (1.0 + e) ** 2).clamp(max=0.25)  # rounding may pass the peak by 1 ulp near 0


def grad_tanh(x: torch.Tensor) -> torch.Tensor:
    """``d tanh(x) / dx = 1 - tanh(x)^2``; takes the input x, shape ``(*)``.

    Computed as ``4 e / (1 + e)^2`` with ``e = exp(-2|x|)``, the same number without the rounding
    of ``1 - t^2``, which is exactly 0 in float32 from ``|x| = 9`` on (slope still about 6e-8).
    """
    e = torch.exp(2.0 * _neg_abs(_check_float(x)))  # in (0, 1]
    return (4.0 * e / (1.0 + e) ** 2).clamp(max=1.0)  # rounding may pass 1 by 1 ulp near 0


def grad_relu(x: torch.Tensor) -> torch.Tensor:
    """``1`` where ``x > 0``, else ``0`` (0 at ``x = 0``, as PyTorch's autograd); shape ``(*)``."""
    x = _check_float(x)
    return (x > 0).to(x.dtype)


def grad_leaky_relu(x: torch.Tensor, slope: float = 0.01) -> torch.Tensor:
    """``1`` where ``x > 0``, else ``slope`` (``slope`` at ``x = 0``, as PyTorch); shape ``(*)``."""
    x = _check_float(x)
    if not isinstance(slope, (int, float)) or isinstance(slope, bool):
        raise TypeError(f"slope must be a number, got {type(slope).__name__}")
    return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, slope))


def grad_gelu(x: torch.Tensor) -> torch.Tensor:
    """``d (x Phi(x)) / dx = Phi(x) + x phi(x)`` (normal CDF and density); shape ``(*)``."""
    x = _check_float(x)
    cdf = 0.5 * torch.erfc(-x * _INV_SQRT2)
    pdf = _INV_SQRT_2PI * torch.exp(-0.5 * x * x)
    return cdf + x * pdf


def grad_silu(x: torch.Tensor) -> torch.Tensor:
    """``d (x s) / dx = s + x s (1 - s)`` with ``s = sigmoid(x)``; shape ``(*)``.

    ``s (1 - s)`` comes from ``grad_sigmoid``, so it does not round to 0 for large ``x``.
    """
    return sigmoid(x) + x * grad_sigmoid(x)


def grad_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Jacobian of ``softmax(x, dim)``: ``J[..., i, j] = s_i (delta_ij - s_j)``.

    Shape ``(*, C, C)`` where ``*`` are the other dimensions of ``x`` in order and ``C`` is
    ``x.shape[dim]``.
    """
    d = _check_dim(_check_float(x), dim)
    s = softmax(x, dim=d).movedim(d, -1)  # (*, C)
    return torch.diag_embed(s) - s.unsqueeze(-1) * s.unsqueeze(-2)  # (*, C, C)


def grad_log_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Jacobian of ``log_softmax(x, dim)``: ``J[..., i, j] = delta_ij - s_j``, shape ``(*, C, C)``."""
    d = _check_dim(_check_float(x), dim)
    s = softmax(x, dim=d).movedim(d, -1)  # (*, C)
    eye = torch.eye(s.shape[-1], dtype=s.dtype, device=s.device)  # (C, C)
    return eye - s.unsqueeze(-2).expand(*s.shape[:-1], s.shape[-1], s.shape[-1])


#: Elementwise activations by name, for explorers and loops over "every activation".
ACTIVATIONS = {
    "sigmoid": sigmoid,
    "tanh": tanh,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "gelu": gelu,
    "silu": silu,
}

#: Their derivatives (functions of the input x), under the same names.
GRADIENTS = {
    "sigmoid": grad_sigmoid,
    "tanh": grad_tanh,
    "relu": grad_relu,
    "leaky_relu": grad_leaky_relu,
    "gelu": grad_gelu,
    "silu": grad_silu,
}
