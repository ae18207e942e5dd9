"""Checkers for workbook 03: numeric derivatives, the Value engine's multiply, backward, sigmoid."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import torch

from ..autograd import Value
from ._core import Check, checker

__all__ = [
    "ex03_backward",
    "ex03_mul",
    "ex03_numeric_derivative",
    "ex03_predict_grad",
    "ex03_sigmoid",
]


def _central(f: Callable[[float], float], x: float, eps: float) -> float:
    return (f(x + eps) - f(x - eps)) / (2 * eps)


@checker
def ex03_numeric_derivative(c: Check, numeric_derivative: Callable[..., float]) -> str:
    """``numeric_derivative(f, x, eps)``: the central difference (f(x+eps) - f(x-eps)) / (2 eps)."""
    cases = [
        ("x**3 at x=2, eps=1e-4", lambda x: x**3, 2.0, 1e-4),
        ("exp at x=5, eps=1e-3", math.exp, 5.0, 1e-3),
        ("sin at x=0.3, eps=1e-5", math.sin, 0.3, 1e-5),
        ("a constant function", lambda x: 4.0, 1.0, 1e-3),
    ]
    for name, f, x, eps in cases:
        got = c.call(numeric_derivative, f, x, eps, case=name)
        want = _central(f, x, eps)
        c.expect(
            isinstance(got, (int, float)) or (isinstance(got, torch.Tensor) and got.numel() == 1),
            case=name,
            problem=f"expected a number, got {type(got).__name__}",
            hint="return the difference quotient as a float",
        )
        g = float(got)
        hint = "evaluate f at x+eps and x-eps and divide the difference by 2*eps"
        if math.isclose(g, (f(x + eps) - f(x)) / eps, rel_tol=1e-7, abs_tol=1e-9):
            hint = (
                "that is the one-sided difference (f(x+eps) - f(x)) / eps; the central one, "
                "(f(x+eps) - f(x-eps)) / (2*eps), is far more accurate"
            )
        elif math.isclose(g, 2 * want, rel_tol=1e-6):
            hint = "the two points are 2*eps apart: divide by 2*eps, not eps"
        c.close(g, want, case=name, hint=hint, rtol=1e-7, atol=1e-9)
    return f"{len(cases)} functions, central difference"


def _grads_after(
    build: Callable[..., Value], values: list[float], mul: Callable | None
) -> tuple[float, list[float]]:
    """Build an expression from fresh leaves (with the learner's mul or the reference *) and run backward."""
    leaves = [Value(v) for v in values]
    out = build(mul, *leaves)
    if not isinstance(out, Value):
        raise TypeError(f"mul must return a Value, got {type(out).__name__}")
    out.backward()
    return out.data, [leaf.grad for leaf in leaves]


def _ref_mul(a: Value, b: Value) -> Value:
    return a * b


@checker
def ex03_mul(c: Check, mul: Callable[[Value, Value], Value]) -> str:
    """``mul(a, b)``: a Value node for a * b whose ``_backward`` accumulates into a.grad and b.grad."""
    cases: list[tuple[str, Callable[..., Value], list[float]]] = [
        ("mul(x, y) with x=3, y=-2", lambda m, x, y: m(x, y), [3.0, -2.0]),
        ("mul(x, x): the same node twice", lambda m, x: m(x, x), [3.0]),
        (
            "mul(a, b) + mul(a, c): a used in two products",
            lambda m, a, b, c_: m(a, b) + m(a, c_),
            [1.5, 2.0, -4.0],
        ),
        ("tanh(mul(mul(x, y), x))", lambda m, x, y: m(m(x, y), x).tanh(), [0.7, -0.4]),
    ]
    for name, build, values in cases:
        want_data, want_grads = _grads_after(build, values, _ref_mul)
        leaves = [Value(v) for v in values]
        with _engine_disabled("__mul__", "__rmul__"):
            out = c.call(build, mul, *leaves, case=name)
        c.expect(
            isinstance(out, Value),
            case=name,
            problem=f"mul must return a Value, got {type(out).__name__}",
            hint="return Value(a.data * b.data, (a, b), '*') with its _backward set",
        )
        c.close(out.data, want_data, case=name, hint="the forward value is a.data * b.data")
        c.call(out.backward, case=name)
        got = [leaf.grad for leaf in leaves]
        if all(g == 0.0 for g in got) and any(w != 0.0 for w in want_grads):
            c.expect(
                False,
                case=name,
                problem="every input's grad is still 0 after backward()",
                hint="give the output its children, Value(a.data * b.data, (a, b), '*'), and set out._backward = _backward",
            )
        for i, (g, w) in enumerate(zip(got, want_grads)):
            hint = "d(a*b)/da = b.data and d(a*b)/db = a.data, each times out.grad"
            if "twice" in name or "two products" in name:
                hint = (
                    "a node used more than once must get the SUM of its gradients: write "
                    "a.grad += ... and b.grad += ... in _backward, never a.grad = ..."
                )
            c.close(g, w, case=f"{name}, grad of input {i}", hint=hint, rtol=1e-9, atol=1e-12)
    return f"{c.cases} checks, including a node used twice"


def _diamond(x: Value) -> Value:
    a = x * 2.0
    b = a * 3.0
    return a + b  # a reaches the output along two paths of different length


def _long_and_short(x: Value, y: Value) -> Value:
    h = (x * y).tanh()
    return (h * h + x).exp() * 0.1 + h


@contextlib.contextmanager
def _engine_disabled(*names: str) -> Iterator[None]:
    """While the learner's code runs, the engine's own ``Value.<name>`` (the answer itself) refuses."""

    def refuse(name: str) -> Callable[..., Any]:
        def stub(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(
                f"this exercise writes that operation itself, so Value.{name} is switched off "
                "while it is checked: build the node from .data and set its _backward"
            )

        return stub

    saved = {name: getattr(Value, name) for name in names}
    for name in names:
        setattr(Value, name, refuse(name))
    try:
        yield
    finally:
        for name, method in saved.items():
            setattr(Value, name, method)


@checker
def ex03_backward(c: Check, backward: Callable[[Value], None]) -> str:
    """``backward(root)``: topological order, root.grad = 1, then each ``_backward`` in reverse."""
    cases: list[tuple[str, Callable[..., Value], list[float]]] = [
        ("a chain: tanh(x * 2 + 1)", lambda x: (x * 2.0 + 1.0).tanh(), [0.3]),
        ("a diamond: a = 2x, b = 3a, out = a + b", _diamond, [1.0]),
        ("x * x + x", lambda x: x * x + x, [3.0]),
        ("paths of different lengths through tanh and exp", _long_and_short, [0.4, -1.2]),
    ]
    for name, build, values in cases:
        ref_leaves = [Value(v) for v in values]
        build(*ref_leaves).backward()
        leaves = [Value(v) for v in values]
        root = build(*leaves)
        with _engine_disabled("backward"):
            c.call(backward, root, case=name)
        c.close(
            root.grad,
            1.0,
            case=f"{name}: the root's grad",
            hint="start with root.grad = 1.0 (d root / d root)",
        )
        for i, (leaf, ref) in enumerate(zip(leaves, ref_leaves)):
            c.close(
                leaf.grad,
                ref.grad,
                case=f"{name}: grad of input {i}",
                rtol=1e-9,
                atol=1e-12,
                hint=(
                    "a node's _backward may run only after every node that uses it has added its share: "
                    "build a topological order (children before parents), then call _backward in REVERSED order"
                ),
            )
    return f"{c.cases} checks, including a diamond-shaped graph"


@checker
def ex03_sigmoid(c: Check, sigmoid: Callable[[Value], Value]) -> str:
    """``sigmoid(v)``: 1 / (1 + exp(-v)) built from Value operations, so backward flows through it."""
    for x in (-4.0, -0.5, 0.0, 1.3, 6.0):
        name = f"sigmoid(Value({x}))"
        v = Value(x)
        out = c.call(sigmoid, v, case=name)
        c.expect(
            isinstance(out, Value),
            case=name,
            problem=f"expected a Value, got {type(out).__name__}",
            hint="combine Value operations: (1 + (-v).exp()) ** -1",
        )
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        torch.sigmoid(t).backward()
        hint = "sigmoid(x) = 1 / (1 + exp(-x)); check the sign inside exp"
        c.close(out.data, torch.sigmoid(t).item(), case=name, hint=hint, rtol=1e-9)
        c.call(out.backward, case=name)
        c.close(
            v.grad,
            t.grad.item(),
            case=f"{name}: gradient",
            rtol=1e-7,
            atol=1e-12,
            hint="build the result from Value operations (exp, +, **, /) on v, not from math.exp(v.data), so backward reaches v",
        )
    return f"{c.cases} checks against torch.sigmoid"


@checker
def ex03_predict_grad(c: Check, answer: Any) -> str:
    """Predict a.grad for a = Value(2.0); b = a * a; cc = b + a * 3.0; d = cc * b; d.backward()."""
    c.expect(
        answer is not None and answer is not ...,
        case="your prediction",
        problem="no answer yet",
        hint="set answer = the number you predict, then run this check",
    )
    a = Value(2.0)
    b = a * a
    d = (b + a * 3.0) * b
    d.backward()
    c.close(
        answer,
        a.grad,
        case="your prediction",
        hint="d = (a**2 + 3a) * a**2 = a**4 + 3a**3, so dd/da = 4a**3 + 9a**2; every path from a to d adds up",
    )
    return "d = a**4 + 3 a**3"
