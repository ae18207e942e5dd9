"""Checkers for workbook 04: backward passes of Linear, ReLU, softmax cross-entropy and an MLP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ._core import AUTOGRAD_TOOLS, CaseFailed, Check, _describe, checker

__all__ = [
    "ex04_dot_product",
    "ex04_linear_backward",
    "ex04_mlp_backward",
    "ex04_relu_backward",
    "ex04_relu_grad_theta",
    "ex04_softmax_ce_backward",
]

F64 = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _tensor_out(c: Check, got: Any, n: int, *, case: str, what: str) -> tuple[Any, ...]:
    """The learner's result as a tuple of ``n`` tensors, or a failed case saying what it was."""
    items = got if isinstance(got, (tuple, list)) else (got,)
    c.expect(
        len(items) == n and all(isinstance(t, torch.Tensor) for t in items),
        case=case,
        problem=f"expected {what}, got {_describe(got)}",
        hint=f"return {what}",
    )
    return tuple(items)


BY_HAND = (
    "this exercise computes gradients by hand, so autograd is switched off while it is checked "
    "(torch.no_grad, and .backward(), torch.autograd.grad, torch.func and torch.enable_grad "
    "refuse): use the formulas"
)


def _by_hand(c: Check, fn: Callable[..., Any], *args: Any, case: str, hint: str = BY_HAND) -> Any:
    """Call the learner's hand-written backward with autograd switched off and its tools refusing."""
    with torch.no_grad(), c.forbidding(AUTOGRAD_TOOLS, BY_HAND):
        return c.call(fn, *args, case=case, error_hint=hint)


def _is_close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), rtol=1e-5, atol=1e-7)


@checker
def ex04_linear_backward(c: Check, linear_backward: Callable[..., Any]) -> str:
    """``linear_backward(dout, x, W) -> (dx, dW, db)`` for out = x @ W.T + b, W of shape (out, in)."""
    for name, n, d_in, d_out, dtype in [
        ("N=4, in=3, out=2", 4, 3, 2, torch.float32),
        ("square weights: N=5, in=out=3", 5, 3, 3, torch.float32),
        ("a batch of one, float64", 1, 4, 6, F64),
    ]:
        g = _gen(n * 100 + d_in)
        x = torch.randn(n, d_in, generator=g, dtype=dtype)
        W = torch.randn(d_out, d_in, generator=g, dtype=dtype)
        b = torch.randn(d_out, generator=g, dtype=dtype)
        dout = torch.randn(n, d_out, generator=g, dtype=dtype)
        xt, Wt, bt = (t.clone().requires_grad_() for t in (x, W, b))
        F.linear(xt, Wt, bt).backward(dout)
        got = _by_hand(c, linear_backward, dout.clone(), x.clone(), W.clone(), case=name)
        dx, dW, db = _tensor_out(c, got, 3, case=name, what="a tuple (dx, dW, db) of tensors")
        for label, t in (("dx", dx), ("dW", dW), ("db", db)):
            c.expect(
                t.dtype == dtype,
                case=f"{name}: {label}",
                problem=f"{label} has dtype {t.dtype}, the inputs {dtype}",
                hint="compute with the input tensors; do not convert them",
            )
        if _is_close(dW.T, Wt.grad) and not _is_close(dW, Wt.grad):
            raise CaseFailed(
                f"{name}: dW",
                "dW is the transpose of the right answer",
                "W has shape (out, in), so dW = dout.T @ x, of shape (out, in); x.T @ dout is (in, out)",
            )
        c.close(
            dW,
            Wt.grad,
            case=f"{name}: dW",
            hint="dW = dout.T @ x: shape (out, in), like W; it sums over the batch",
        )
        hint_dx = "dx = dout @ W: shape (N, in), like x (not dout @ W.T)"
        c.close(dx, xt.grad, case=f"{name}: dx", hint=hint_dx)
        hint_db = "db = dout.sum(dim=0): the bias is added to every row, so its gradient sums over the batch"
        if _is_close(db, bt.grad / n) and n > 1:
            hint_db = "db sums dout over the batch (dim 0); a mean divides by N once too often"
        c.close(db, bt.grad, case=f"{name}: db", hint=hint_db)
    return f"{c.cases} checks against torch.autograd, square weights included"


@checker
def ex04_relu_backward(c: Check, relu_backward: Callable[..., Any]) -> str:
    """``relu_backward(dout, x) -> dx``: dout where x > 0, else 0 (also 0 at x == 0, as in PyTorch)."""
    g = _gen(4)
    cases = [
        ("random values", torch.randn(5, 4, generator=g)),
        ("exact zeros in x", torch.tensor([[-1.0, 0.0, 2.0], [0.0, 3.0, -0.5]])),
        ("float64, 1-D", torch.randn(7, generator=g, dtype=F64)),
    ]
    for name, x in cases:
        dout = torch.randn(x.shape, generator=g, dtype=x.dtype)
        xt = x.clone().requires_grad_()
        torch.relu(xt).backward(dout)
        got = _by_hand(c, relu_backward, dout.clone(), x.clone(), case=name)
        (dx,) = _tensor_out(c, got, 1, case=name, what="one tensor dx")
        c.expect(
            dx.dtype == x.dtype,
            case=name,
            problem=f"dx has dtype {dx.dtype}, x has {x.dtype}",
            hint="multiply dout by the mask (x > 0) rather than building a new tensor",
        )
        hint = "pass dout through where x > 0 and put 0 elsewhere: dout * (x > 0)"
        if _is_close(dx, dout * (x >= 0)):
            hint = "at x == 0 PyTorch uses slope 0: the mask is x > 0, not x >= 0"
        elif _is_close(dx, (x > 0).to(x.dtype)):
            hint = "multiply the mask by dout: the chain rule needs the upstream gradient"
        c.close(dx, xt.grad, case=name, hint=hint)
    return f"{c.cases} checks, including x == 0"


@checker
def ex04_softmax_ce_backward(c: Check, softmax_ce_backward: Callable[..., Any]) -> str:
    """``softmax_ce_backward(logits, target) -> dlogits`` of the MEAN cross-entropy: (p - onehot) / N."""
    g = _gen(5)
    cases = [
        ("N=6, C=4", torch.randn(6, 4, generator=g), torch.tensor([0, 3, 1, 1, 2, 0])),
        (
            "logits of +-1e4",
            torch.tensor([[1e4, -1e4, 0.0], [0.0, 1e4, 1e4]]),
            torch.tensor([1, 2]),
        ),
        ("float64, N=1", torch.randn(1, 5, generator=g, dtype=F64), torch.tensor([4])),
        (
            "N=3, C=5, no example of the last class",
            torch.randn(3, 5, generator=g),
            torch.tensor([0, 2, 1]),
        ),
        (
            "rows on different scales (max 1e4 in one, -9999 in the other)",
            torch.tensor([[1e4, 0.0, 0.0], [-1e4, -1e4, -9999.0]]),
            torch.tensor([0, 2]),  # autograd: row 2 of dlogits is [0.106, 0.106, -0.212]
        ),
    ]
    for name, logits, target in cases:
        lt = logits.clone().requires_grad_()
        F.cross_entropy(lt, target).backward()
        want = lt.grad
        got = _by_hand(
            c,
            softmax_ce_backward,
            logits.clone(),
            target.clone(),
            case=name,
            hint="if you used F.one_hot(target), pass num_classes=logits.shape[1]: without it the "
            "one-hot has only max(target) + 1 columns. Otherwise: " + BY_HAND,
        )
        (d,) = _tensor_out(c, got, 1, case=name, what="one tensor dlogits of shape (N, C)")
        c.expect(
            d.shape == logits.shape,
            case=name,
            problem=f"expected shape {tuple(logits.shape)}, got {tuple(d.shape)}",
            hint="dlogits has one entry per logit",
        )
        c.expect(
            d.dtype == logits.dtype,
            case=name,
            problem=f"dlogits has dtype {d.dtype}, logits {logits.dtype}",
            hint="keep the dtype of the logits",
        )
        n = logits.shape[0]
        hint = "dlogits = (softmax(logits) - one_hot(target)) / N"
        if not torch.isfinite(d).all():
            hint = "subtract each row's maximum before exp, so exp never overflows"
            if "different scales" in name:
                hint = (
                    "each row needs its own max: logits.max(dim=1, keepdim=True).values. "
                    "Subtracting the batch's largest logit (1e4) from the second row leaves "
                    "exp(-2e4) = 0 everywhere, and 0 / 0 = nan"
                )
        elif n > 1 and _is_close(d, want * n):
            hint = (
                "the loss is the MEAN over the batch, so each row's gradient is divided by N "
                f"(here N={n}): (softmax(logits) - one_hot(target)) / N"
            )
        elif _is_close(d, -want):
            hint = "the sign is flipped: it is softmax minus one-hot, not one-hot minus softmax"
        c.close(d, want, case=name, hint=hint, scale=float(logits.abs().max()))
    return f"{c.cases} checks, including logits of 1e4 on rows of different scales"


def _mlp_reference(x, y, params):
    p = {k: v.clone().requires_grad_() for k, v in params.items()}
    h = torch.relu(x @ p["W1"].T + p["b1"])
    loss = F.cross_entropy(h @ p["W2"].T + p["b2"], y)
    loss.backward()
    return {k: v.grad for k, v in p.items()}


@checker
def ex04_mlp_backward(c: Check, mlp_backward: Callable[..., Any]) -> str:
    """``mlp_backward(x, y, params) -> grads`` for mean CE of relu(x @ W1.T + b1) @ W2.T + b2."""
    for name, n, d_in, hidden, classes, dtype in [
        ("N=8, 2 -> 5 -> 3", 8, 2, 5, 3, torch.float32),
        ("N=6, 4 -> 4 -> 4 (square weights), float64", 6, 4, 4, 4, F64),
    ]:
        g = _gen(n + hidden)
        x = torch.randn(n, d_in, generator=g, dtype=dtype)
        y = torch.randint(0, classes, (n,), generator=g)
        params = {
            "W1": torch.randn(hidden, d_in, generator=g, dtype=dtype),
            "b1": torch.randn(hidden, generator=g, dtype=dtype) * 0.1,
            "W2": torch.randn(classes, hidden, generator=g, dtype=dtype),
            "b2": torch.randn(classes, generator=g, dtype=dtype) * 0.1,
        }
        want = _mlp_reference(x, y, params)
        got = _by_hand(
            c,
            mlp_backward,
            x.clone(),
            y.clone(),
            {k: v.clone() for k, v in params.items()},
            case=name,
        )
        c.expect(
            isinstance(got, dict) and set(got) >= set(want),
            case=name,
            problem=f"expected a dict with keys {sorted(want)}, got {type(got).__name__}"
            + (f" with keys {sorted(got)}" if isinstance(got, dict) else ""),
            hint="return {'W1': dW1, 'b1': db1, 'W2': dW2, 'b2': db2}",
        )
        for key in ("b2", "W2", "b1", "W1"):
            t = got[key]
            c.expect(
                isinstance(t, torch.Tensor),
                case=f"{name}: {key}",
                problem=f"grads[{key!r}] is {type(t).__name__}, not a tensor",
            )
            c.expect(
                t.dtype == dtype,
                case=f"{name}: {key}",
                problem=f"grads[{key!r}] has dtype {t.dtype}, the inputs {dtype}",
                hint="compute with the input tensors; do not convert them",
            )
            hint = "go backward one layer at a time: softmax-CE, Linear 2, ReLU, Linear 1"
            if _is_close(t, want[key] * n):
                hint = (
                    f"the loss is a mean over N={n} examples: divide the softmax-CE gradient by N"
                )
            elif t.dim() == 2 and (t.shape == want[key].shape[::-1] or _is_close(t.T, want[key])):
                hint = "a weight's gradient has the weight's shape (out, in): dW = dout.T @ input"
            c.close(t, want[key], case=f"{name}: {key}", hint=hint)
    return f"{c.cases} checks against torch.autograd"


@checker
def ex04_dot_product(c: Check, answer: Any) -> str:
    """theta . x for theta = [0.1, 0.2, ..., 1.0] and x = [1, 2, ..., 10]."""
    theta = torch.arange(1, 11, dtype=F64) / 10
    want = float(theta @ torch.arange(1, 11, dtype=F64))
    hint = (
        "sum theta_i * x_i over i = 1..10: 0.1*1 + 0.2*2 + ... + 1.0*10 = 0.1 * (1 + 4 + ... + 100)"
    )
    wrong = {6.5: "6.5 is the value the source material printed, and it is wrong: " + hint}
    c.number(answer, want, case="theta . x", hint=hint, known_wrong=wrong, rel=1e-6)
    return "theta . x = 38.5"


@checker
def ex04_relu_grad_theta(c: Check, relu_grad_theta: Callable[..., Any]) -> str:
    """``relu_grad_theta(theta, x)``: the gradient of relu(theta . x) w.r.t. theta, shape of theta."""
    g = _gen(6)
    cases = [
        (
            "theta = [0.1..1.0], x = [1..10]",
            torch.arange(1, 11, dtype=F64) / 10,
            torch.arange(1, 11, dtype=F64),
        ),
        (
            "theta = -[0.1..1.0] (theta . x < 0)",
            -torch.arange(1, 11, dtype=F64) / 10,
            torch.arange(1, 11, dtype=F64),
        ),
        ("random, float32", torch.randn(6, generator=g), torch.randn(6, generator=g)),
        ("theta . x exactly 0", torch.tensor([1.0, -1.0]), torch.tensor([2.0, 2.0])),
    ]
    for name, theta, x in cases:
        tt = theta.clone().requires_grad_()
        torch.relu(tt @ x).backward()
        got = _by_hand(c, relu_grad_theta, theta.clone(), x.clone(), case=name)
        (d,) = _tensor_out(c, got, 1, case=name, what="one tensor of the shape of theta")
        hint = "d relu(z)/d theta = x if z = theta . x > 0, and 0 otherwise"
        if _is_close(d, x) and not _is_close(x, tt.grad):
            hint = "relu is flat where theta . x <= 0: the gradient there is 0, not x"
        c.close(d, tt.grad, case=name, hint=hint)
    return f"{c.cases} checks, including theta . x <= 0"
