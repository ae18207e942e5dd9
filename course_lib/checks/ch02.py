"""Checkers for workbook 02: activations, their derivatives, and gradients through depth."""

from __future__ import annotations

from typing import Any

import torch

from ._core import CaseFailed, Check, checker, only_low_slices_fail
from .ch01 import _diagnose

__all__ = [
    "ex02_sigmoid_slope",
    "ex02_sigmoid",
    "ex02_grad_sigmoid",
    "ex02_grad_relu",
    "ex02_tanh",
    "ex02_softmax",
    "ex02_depth_factor",
]


def _own(*names: str) -> tuple[str, ...]:
    """The function an exercise writes, in each of its spellings (switched off while checked)."""
    return tuple(
        path
        for name in names
        for path in (f"torch.{name}", f"torch.Tensor.{name}", f"torch.nn.functional.{name}")
    )


def _own_hint(name: str) -> str:
    return (
        f"this exercise writes {name} itself, so torch.{name} (and F.{name}, x.{name}()) is "
        "switched off while it is checked: build it from torch.exp and arithmetic"
    )


_GRAD_HINT = (
    "the values are right but autograd's gradient is not: torch.where evaluates BOTH branches "
    "(an inf in the branch it does not pick still makes a nan gradient), and torch.sign(x) and "
    "x.abs() have a slope of 0 at x = 0 in autograd"
)


def _finite(got: Any) -> bool:
    """Is ``got`` a tensor without nan or inf? (Other answers get their own sentence.)"""
    return isinstance(got, torch.Tensor) and bool(torch.isfinite(got.detach()).all())


def _input_gradient(c: Check, fn: Any, x: torch.Tensor, *, case: str) -> torch.Tensor | None:
    """d sum(fn(x)) / dx through autograd, or None when the learner's result has no graph."""
    x = x.clone().requires_grad_()
    y = c.call(fn, x, case=case)
    if not isinstance(y, torch.Tensor) or not y.requires_grad:
        return None
    try:
        (g,) = torch.autograd.grad(y.sum(), x)
    except RuntimeError as e:
        raise CaseFailed(case, f"autograd failed on your function: {e}"[:200]) from None
    return g


# --------------------------------------------------------------------------- predictions


@checker
def ex02_sigmoid_slope(c: Check, answer: Any) -> str:
    """Your prediction of the largest value of sigmoid'(x) over all x: a number."""
    case = "largest slope of the sigmoid"
    known = {
        0.5: "0.5 is sigmoid(0), the VALUE at 0; the slope there is s (1 - s) with s = 0.5",
        1.0: "1 is the largest slope of tanh, not of the sigmoid",
    }
    c.number(
        answer,
        0.25,
        case=case,
        known_wrong=known,
        hint="sigmoid'(x) = s (1 - s) with s in (0, 1); a product p (1 - p) peaks at p = 1/2",
    )
    return "sigmoid'(0) = 0.5 * 0.5 = 0.25, its maximum"


@checker
def ex02_depth_factor(c: Check, answer: Any) -> str:
    """Your prediction of the largest factor 10 sigmoid layers' slopes can multiply a gradient by."""
    case = "gradient factor through 10 sigmoid layers"
    known = {
        2.5: "the chain rule MULTIPLIES the factors of the layers; it does not add them",
        0.25: "that is one layer; the gradient passes through ten of them",
        0.5**10: "0.5 is sigmoid(0), not its slope",
        0.75**10: "the slope at 0 is 0.25; 0.75 is 1 - 0.25",
    }
    c.number(
        answer,
        0.25**10,
        case=case,
        known_wrong=known,
        rel=2e-2,
        abs_tol=0.0,
        hint="each layer multiplies the gradient by sigmoid'(a) <= 0.25 (times its weight, here 1)",
    )
    return "0.25 ** 10 is about 9.5e-07: a millionth"


# --------------------------------------------------------------------------- sigmoid


@checker
def ex02_sigmoid(c: Check, fn: Any) -> str:
    """``fn(x) -> (*)`` sigmoid with finite values and finite gradients for x = +-1e4."""
    g = torch.Generator().manual_seed(5)
    cases = {
        "ordinary inputs": torch.tensor([-3.0, -0.5, 0.0, 0.5, 3.0]),
        "a (4, 3) float64 batch": torch.randn(4, 3, generator=g, dtype=torch.float64) * 5,
        "x = +-1e4 and +-100": torch.tensor([1e4, -1e4, 100.0, -100.0, 0.0]),
        "tiny outputs: x = -30, -100, -700 in float64": torch.tensor(
            [-30.0, -100.0, -700.0], dtype=torch.float64
        ),
    }
    for case, x in cases.items():
        with c.forbidding(_own("sigmoid") + ("torch.special.expit",), _own_hint("sigmoid")):
            got = c.call(fn, x.clone(), case=case)
        tiny = case.startswith("tiny")
        hint = (
            "exp(x) / (1 + exp(x)) is inf / inf = nan for x = 1e4: use only exp(-|x|), "
            "which lies in (0, 1], with 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0"
            if not _finite(got)
            else "sigmoid(x) = 1 / (1 + exp(-x)); compute it from e = exp(-|x|): 1 / (1 + e) for "
            "x >= 0 and e / (1 + e) for x < 0"
        )
        if tiny:
            hint = (
                "sigmoid(-100) is 3.7e-44 and sigmoid(-700) 1e-304; e / (1 + e) with "
                "e = exp(-|x|) gets them right"
            )
            out = got.detach() if isinstance(got, torch.Tensor) and got.shape == x.shape else None
            if out is not None and out[1] == out[2] != 0:
                hint = (
                    "your outputs for x = -100 and x = -700 are equal, as if x were clamped: "
                    "don't clamp x; e / (1 + e) with e = exp(-|x|) is exact here"
                )
        _diagnose(
            c,
            got,
            torch.sigmoid(x),
            case=case,
            hint=hint,
            wrongs=[
                (torch.exp(x) / (1 + torch.exp(x)), "exp(x) / (1 + exp(x))", "this overflows"),
                (1 / (1 + torch.exp(x)), "1 / (1 + exp(x)) = sigmoid(-x)", "the sign of x"),
            ],
            scale=1.0,  # outputs lie in [0, 1]: float rounding of numbers of that size
            atol=0.0 if tiny else 1e-6,
            rtol=1e-5,
        )
    x = torch.tensor([1e4, -1e4, 50.0, -50.0, 0.0])
    case = "gradient at x = +-1e4 (autograd)"
    with c.forbidding(_own("sigmoid") + ("torch.special.expit",), _own_hint("sigmoid")):
        grad = _input_gradient(c, fn, x, case=case)
    c.expect(
        grad is not None,
        case=case,
        problem="your result carries no gradient",
        hint="build it from torch operations on x, without .detach(), torch.no_grad() or .item()",
    )
    if grad is not None:
        c.expect(
            bool(torch.isfinite(grad).all()),
            case=case,
            problem=f"the gradient is {grad.tolist()}",
            hint="1 / (1 + exp(-x)) has the right VALUE at x = -1e4 (1 / inf = 0) but exp(-x) = inf "
            "makes its gradient inf / inf = nan; compute with e = exp(-|x|) instead. torch.where "
            "evaluates BOTH branches: an inf in the branch it does not pick still makes a nan "
            "gradient, so clamp x inside each branch (x.clamp(min=0), x.clamp(max=0))",
        )
        c.expect(
            abs(float(grad[4]) - 0.25) < 1e-6,
            case="gradient at x = 0 (autograd)",
            problem=f"the slope at x = 0 is {float(grad[4]):.4g}, it should be 0.25",
            hint="autograd gives x.abs() a gradient of 0 at x = 0, so exp(-x.abs()) has a zero "
            "slope there; use x.clamp(min=0) / x.clamp(max=0) or torch.where(x >= 0, -x, x)",
        )
        c.close(grad, torch.sigmoid(x) * (1 - torch.sigmoid(x)), case=case, atol=1e-6)
    return "values and gradients, including x = +-1e4"


@checker
def ex02_grad_sigmoid(c: Check, fn: Any) -> str:
    """``fn(x) -> (*)`` the derivative of the sigmoid at the INPUT x."""
    g = torch.Generator().manual_seed(6)
    cases = {
        "x = [-2, 0, 0.5, 3]": torch.tensor([-2.0, 0.0, 0.5, 3.0]),
        "a (3, 4) float64 batch": torch.randn(3, 4, generator=g, dtype=torch.float64) * 3,
        "x = +-1e4": torch.tensor([1e4, -1e4]),
    }
    for case, x in cases.items():
        got = c.call(fn, x.clone(), case=case)
        s = torch.sigmoid(x)
        _diagnose(
            c,
            got,
            s * (1 - s),
            case=case,
            hint="with s = sigmoid(x): sigmoid'(x) = s * (1 - s)",
            wrongs=[
                (
                    x * (1 - x),
                    "x * (1 - x): the output-form formula applied to the input",
                    "y * (1 - y) holds for the OUTPUT y = sigmoid(x); you are given the input x, "
                    "so compute s = sigmoid(x) first, then s * (1 - s)",
                ),
                (s, "sigmoid(x) itself", "multiply by (1 - sigmoid(x))"),
                (s * (1 + s), "s * (1 + s)", "it is s * (1 - s)"),
                (
                    -s * (1 - s),
                    "minus the derivative",
                    "the sigmoid increases: its slope is positive",
                ),
            ],
        )
    return "3 cases including x = +-1e4"


# --------------------------------------------------------------------------- ReLU


@checker
def ex02_grad_relu(c: Check, fn: Any) -> str:
    """``fn(x) -> (*)`` ReLU's derivative: 1 where x > 0, 0 elsewhere (0 at x = 0, as PyTorch)."""
    cases = {
        "x = [-2, -0.5, 0, 0.5, 3]": torch.tensor([-2.0, -0.5, 0.0, 0.5, 3.0]),
        "a float64 (2, 3) batch with zeros": torch.tensor(
            [[0.0, 1e-30, -1e-30], [7.0, -0.0, 0.0]], dtype=torch.float64
        ),
    }
    for case, x in cases.items():
        got = c.call(fn, x.clone(), case=case)
        if isinstance(got, torch.Tensor) and got.dtype == torch.bool:
            raise CaseFailed(
                case,
                "your result has dtype torch.bool",
                "multiply gradients with it later: convert with .to(x.dtype)",
            )
        want = (x > 0).to(x.dtype)
        zero_hint = (
            "ReLU has a kink at 0 where no slope exists; the convention (PyTorch's autograd) "
            "is 0 there: use (x > 0), not (x >= 0)"
        )
        _diagnose(
            c,
            got,
            want,
            case=case,
            hint="1.0 where x > 0, else 0.0: (x > 0).to(x.dtype)",
            wrongs=[
                ((x >= 0).to(x.dtype), "1 at x = 0", zero_hint),
                (torch.where(x == 0, 0.5, want), "0.5 at x = 0", zero_hint),
                (
                    torch.where(x == 0, float("nan"), want),
                    "nan at x = 0",
                    "x / |x| is 0/0 at x = 0; " + zero_hint,
                ),
                (torch.relu(x), "relu(x) itself", "return the slope (0 or 1), not the value"),
            ],
        )
    return "including x = 0 and -0.0"


# --------------------------------------------------------------------------- tanh, softmax


@checker
def ex02_tanh(c: Check, fn: Any) -> str:
    """``fn(x) -> (*)`` tanh that equals torch.tanh everywhere, x = +-1e4 included."""
    g = torch.Generator().manual_seed(7)
    cases = {
        "ordinary inputs": torch.tensor([-2.0, -0.3, 0.0, 0.3, 2.0]),
        "a (3, 3) float64 batch": torch.randn(3, 3, generator=g, dtype=torch.float64) * 4,
        "x = +-1e4 and +-100": torch.tensor([1e4, -1e4, 100.0, -100.0]),
    }
    for case, x in cases.items():
        with c.forbidding(_own("tanh"), _own_hint("tanh")):
            got = c.call(fn, x.clone(), case=case)
        _diagnose(
            c,
            got,
            torch.tanh(x),
            scale=1.0,
            case=case,
            hint="exp(2x) and exp(x) overflow to inf for large x, giving inf / inf = nan: rewrite "
            "with e = exp(-2|x|) in (0, 1], tanh(|x|) = (1 - e) / (1 + e), and restore the sign"
            if not _finite(got)
            else "tanh(|x|) = (1 - e) / (1 + e) with e = exp(-2|x|), then the sign of x restored: "
            "tanh(-x) = -tanh(x)",
            wrongs=[
                (
                    2 * torch.sigmoid(x) - 1,
                    "2 sigmoid(x) - 1 = tanh(x / 2)",
                    "tanh(x) = 2 sigmoid(2x) - 1: double x inside",
                ),
            ],
        )
        with c.forbidding(_own("tanh"), _own_hint("tanh")):
            if case == "ordinary inputs":
                slope = _input_gradient(c, fn, torch.tensor([0.0, 1.0]), case="slope at x = 0")
                c.expect(
                    slope is not None and abs(float(slope[0]) - 1.0) < 1e-6,
                    case="slope at x = 0 (autograd)",
                    problem="the slope at x = 0 is "
                    + ("missing" if slope is None else f"{float(slope[0]):.4g}, it should be 1"),
                    hint="autograd gives torch.sign(x) and x.abs() a slope of 0 at x = 0: take "
                    "a = torch.where(x >= 0, x, -x) for |x|, and restore the sign with "
                    "torch.where(x >= 0, t, -t)",
                )
            c.gradients(fn, torch.tanh, x, case=case, hint=_GRAD_HINT)
    return "including x = +-1e4, where both textbook forms give nan"


@checker
def ex02_softmax(c: Check, fn: Any) -> str:
    """``fn(x, dim=-1) -> same shape`` softmax that subtracts the max and honours ``dim``."""
    g = torch.Generator().manual_seed(8)
    cases = {
        "a (2, 4) batch along the last dim": (torch.randn(2, 4, generator=g), -1),
        "a square (3, 3) matrix": (
            torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0], [2.0, 1.0, 0.0]]),
            -1,
        ),
        "a (3, 2) batch along dim=0": (torch.randn(3, 2, generator=g), 0),
        "a 1-D float64 vector": (torch.randn(5, generator=g, dtype=torch.float64), -1),
        "logits of 1e4 (three rows)": (
            torch.tensor([[1e4, 0.0, -1e4], [1e4, 1e4, 0.0], [-1e4, -1e4, -1e4]]),
            -1,
        ),
        "rows on different scales (max 1e4 in one, -9999 in the other)": (
            torch.tensor([[1e4, 0.0, 0.0], [-1e4, -1e4, -9999.0]]),
            -1,
        ),
        "columns on different scales along dim=0": (
            torch.tensor([[1e4, -1e4], [0.0, -9999.0], [0.0, -1e4]]),
            0,
        ),
    }
    for case, (x, dim) in cases.items():
        with c.forbidding(_own("softmax", "log_softmax"), _own_hint("softmax")):
            got = c.call(fn, x.clone(), dim, case=case)
        e = torch.exp(x)
        wrongs = []
        if x.dim() == 2:
            other = 1 - dim % 2
            wrongs = [
                (
                    e / e.sum(dim=other, keepdim=True),
                    "softmax along the other dimension",
                    f"sum along dim={dim} (the one you are given), with keepdim=True",
                ),
            ]
            if x.shape[0] == x.shape[1]:  # only square inputs broadcast without keepdim
                wrongs.append(
                    (
                        e / e.sum(dim=dim),
                        "exp(x) / exp(x).sum(dim) without keepdim=True",
                        "without keepdim the sums broadcast against the wrong axis: use keepdim=True",
                    )
                )
        finite = isinstance(got, torch.Tensor) and bool(torch.isfinite(got.detach()).all())
        hint = f"exp(x - max) / sum of it along dim={dim}, keepdim=True"
        if (
            not finite
            and isinstance(got, torch.Tensor)
            and got.shape == x.shape
            and only_low_slices_fail(got, x, dim)
        ):
            hint = (
                f"each slice along dim={dim} needs its own max: x.amax(dim={dim}, keepdim=True). "
                "Subtracting the largest value of the whole tensor (1e4) from a slice whose "
                "values are near -1e4 leaves exp(-2e4) = 0 everywhere, and 0 / 0 = nan"
            )
        elif x.abs().max() > 100 and not finite:
            hint = (
                "exp(1e4) overflows to inf and inf / inf = nan: subtract x.amax(dim, keepdim=True) "
                "first (the result does not change, since softmax(x + c) = softmax(x))"
            )
        _diagnose(
            c,
            got,
            torch.softmax(x, dim=dim),
            case=case,
            hint=hint,
            wrongs=wrongs,
            scale=float(x.abs().max()),
        )
        with c.forbidding(_own("softmax", "log_softmax"), _own_hint("softmax")):
            c.gradients(fn, torch.softmax, x, dim, case=case, hint=_GRAD_HINT)
    return "7 cases: dims, a square matrix, float64, logits of 1e4 on different scales, gradients"
