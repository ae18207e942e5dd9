"""A scalar autograd engine: ``Value`` records how it was computed and back-propagates gradients.

Primitive operations (each with its own local derivative): ``+``, ``*``, ``** number``, ``exp``,
``log``, ``tanh``, ``relu``. Everything else is built from them, so it needs no backward rule of
its own: ``-a`` is ``a * -1``, ``a - b`` is ``a + (-b)``, ``a / b`` is ``a * b**-1`` and
``sigmoid(a)`` is ``(1 + tanh(a / 2)) / 2`` (the same function as ``1 / (1 + exp(-a))``, and it never
overflows; below 0 it is ``e / (1 + e)`` with ``e = exp(a)``, which keeps tiny outputs accurate).

At the edges of a domain each operation gives what torch gives in float64 (``0 ** 0`` has slope
0, ``0 ** 0.5`` slope inf, ``exp(1000)`` and ``1e200 ** 2`` are inf), or raises a ValueError at
once, in the forward pass, naming the operation and the value where torch's answer would be a
division by zero or not a real number (``log(0)``, ``log(-1)``, ``x / 0``, ``0 ** -1``,
``(-8) ** (1/3)``).

>>> x = Value(2.0, label="x")
>>> y = x * x + x            # x is used twice: its gradient is the sum of both uses
>>> y.backward()
>>> x.grad
5.0
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

__all__ = ["Value", "draw_graph", "numeric_grad", "topological_order"]


def _as_float(data: Any, what: str = "Value") -> float:
    """``data`` as a Python float, or a TypeError that says what was given instead."""
    if isinstance(data, bool) or not isinstance(data, numbers.Real):
        if isinstance(data, torch.Tensor):
            raise TypeError(
                f"{what} holds one Python number, got a tensor of shape {tuple(data.shape)}; "
                "use tensor.item() for a one-element tensor (this engine is scalar-only)"
            )
        if isinstance(data, (list, tuple)):
            raise TypeError(
                f"{what} holds one number, got a {type(data).__name__} of length {len(data)}; "
                "make one Value per number (this engine is scalar-only)"
            )
        raise TypeError(f"{what} needs an int or float, got {type(data).__name__} {data!r:.60}")
    return float(data)


def _power(x: float, k: float) -> float:
    """``x ** k`` for floats as IEEE arithmetic (and torch) has it: overflow gives inf, not an error.

    Python raises ``OverflowError`` for ``1e200 ** 2`` and ``ZeroDivisionError`` for ``0.0 ** -1``;
    torch gives ``inf`` (``-inf`` for a negative base and an odd exponent) for both.
    """
    try:
        return x**k
    except (OverflowError, ZeroDivisionError):
        odd = k.is_integer() and k % 2 == 1
        return math.copysign(math.inf, x) if odd else math.inf


class Value:
    """One number in a computation graph: ``data``, its gradient ``grad``, and how it was made.

    ``_prev`` holds the Values it was computed from, ``_op`` names the operation, and
    ``_backward`` adds this node's gradient, times the local derivatives, into the ``grad`` of
    each node in ``_prev`` (always ``+=``: a node used twice gets both contributions).
    """

    def __init__(
        self, data: float, _children: Iterable[Value] = (), _op: str = "", label: str = ""
    ) -> None:
        self.data: float = _as_float(data)
        self.grad: float = 0.0
        self.label: str = str(label)
        self._prev: tuple[Value, ...] = tuple(_children)
        for child in self._prev:
            if not isinstance(child, Value):
                raise TypeError(f"children of a Value must be Values, got {type(child).__name__}")
        self._op: str = str(_op)
        self._backward: Callable[[], None] = lambda: None

    # ---- primitives: each defines its output and its local derivative ------------------------
    def __add__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent: float) -> Value:
        if isinstance(exponent, Value):
            raise TypeError(
                "Value ** Value is not a primitive here; write it as (exponent * base.log()).exp()"
            )
        k = _as_float(exponent, "the exponent")
        if self.data == 0.0 and k < 0:
            raise ValueError(
                f"Value({self.data!r}) ** {k:g} is a division by zero; keep the base away from 0 "
                "(add a small epsilon) or use an exponent >= 0"
            )
        if self.data < 0.0 and not k.is_integer():
            raise ValueError(
                f"Value({self.data!r}) ** {k:g} is not a real number (a negative base needs an "
                "integer exponent); raise abs(base) or a positive base instead"
            )
        out = Value(_power(self.data, k), (self,), f"**{k:g}")

        def _backward() -> None:  # d x^k / dx = k x^(k-1); 0 for k = 0, even at x = 0 (as torch)
            slope = 0.0 if k == 0 else k * _power(self.data, k - 1)
            self.grad += slope * out.grad

        out._backward = _backward
        return out

    def exp(self) -> Value:
        """e ** self (inf, not an error, when it overflows, like torch.exp)."""
        try:
            e = math.exp(self.data)
        except OverflowError:
            e = math.inf
        out = Value(e, (self,), "exp")

        def _backward() -> None:
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self) -> Value:
        """Natural logarithm; the input must be positive."""
        if not self.data > 0.0:
            raise ValueError(f"log needs a positive input, got {self.data!r}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward() -> None:
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        """Hyperbolic tangent; its derivative is 1 - tanh**2."""
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward() -> None:
            self.grad += (1.0 - t * t) * out.grad

        out._backward = _backward
        return out

    def relu(self) -> Value:
        """max(0, self); derivative 1 where the input is > 0, else 0 (as in PyTorch)."""
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward() -> None:
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad

        out._backward = _backward
        return out

    # ---- derived operations: no backward rule of their own ------------------------------------
    def sigmoid(self) -> Value:
        """1 / (1 + exp(-self)), written as (1 + tanh(self / 2)) / 2 so it never overflows.

        Below 0 it uses the equal form e / (1 + e) with e = exp(self): there 1 + tanh(...) would
        round tiny outputs such as sigmoid(-40) = 4.2e-18 (and their gradients) to 0.
        """
        if self.data < 0:
            e = self.exp()
            return e / (1.0 + e)
        return ((self * 0.5).tanh() + 1.0) * 0.5

    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other: Value | float) -> Value:
        return self + (-other)

    def __truediv__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        if other.data == 0.0:
            raise ValueError(
                f"division by zero: the divisor is Value({other.data!r}); keep it away from 0 "
                "(add a small epsilon) or skip this term"
            )
        return self * other**-1

    def __radd__(self, other: float) -> Value:
        return self + other

    def __rmul__(self, other: float) -> Value:
        return self * other

    def __rsub__(self, other: float) -> Value:
        return Value(other) + (-self)

    def __rtruediv__(self, other: float) -> Value:
        return Value(other) / self

    def __rpow__(self, base: float) -> Value:
        """``number ** Value`` as exp(Value * log(number)); the number must be positive."""
        b = _as_float(base, "the base")
        if b <= 0:
            raise ValueError(
                f"{b:g} ** Value needs a positive base, since it is computed as "
                f"exp(Value * log({b:g})); use a base > 0"
            )
        return (self * math.log(b)).exp()

    # ---- backward pass -------------------------------------------------------------------------
    def backward(self) -> None:
        """Fill ``grad`` of every Value this one depends on with d(self)/d(that Value).

        Visits the graph in reverse topological order, so each node's gradient is complete before
        it is passed on. Leaves accumulate over calls (like ``torch``: zero them between steps
        with ``zero_grad()``); intermediate nodes are reset first, so calling it twice is safe.
        """
        order = topological_order(self)
        for node in order:
            if node._prev:
                node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            node._backward()

    def zero_grad(self) -> None:
        """Set ``grad`` to 0 on this Value and everything it was computed from."""
        for node in topological_order(self):
            node.grad = 0.0

    def __repr__(self) -> str:
        name = f"{self.label}, " if self.label else ""
        return f"Value({name}data={self.data:.4g}, grad={self.grad:.4g})"


def topological_order(root: Value) -> list[Value]:
    """Every Value ``root`` depends on, each after all of its inputs (``root`` comes last).

    Iterative depth-first search, so deep graphs (a sum of 10 000 terms) need no recursion.
    """
    if not isinstance(root, Value):
        raise TypeError(f"expected a Value, got {type(root).__name__}")
    order: list[Value] = []
    seen: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node._prev) if id(child) not in seen)
    return order


def _scalar(y: Any) -> float:
    """A function result (number, Value or one-element tensor) as a float."""
    if isinstance(y, Value):
        return y.data
    if isinstance(y, torch.Tensor):
        if y.numel() != 1:
            raise ValueError(f"f must return a scalar, got a tensor of shape {tuple(y.shape)}")
        return float(y.item())
    return _as_float(y, "the result of f")


def numeric_grad(f: Callable[[Any], Any], x: Any, eps: float = 1e-6) -> Any:
    """Central-difference gradient (f(x + eps) - f(x - eps)) / (2 eps) of a scalar function.

    ``x`` is a number (returns a float), a sequence of numbers (returns a list, one partial
    derivative per entry) or a tensor of any shape (returns a tensor of the same shape, dtype and
    device; use float64, since float32 rounding swamps small ``eps``). ``f`` returns a number, a
    ``Value`` or a one-element tensor. The error of the central difference shrinks like eps**2.
    """
    eps = _as_float(eps, "eps")
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    if isinstance(x, torch.Tensor):
        if not x.is_floating_point():
            raise TypeError(f"x must be a floating-point tensor, got dtype {x.dtype}")
        base = x.detach().clone()
        grad = torch.zeros_like(base)
        flat, gflat = base.view(-1), grad.view(-1)
        for i in range(flat.numel()):
            old = flat[i].item()
            flat[i] = old + eps
            up = _scalar(f(base))
            flat[i] = old - eps
            down = _scalar(f(base))
            flat[i] = old
            gflat[i] = (up - down) / (2 * eps)
        return grad
    if isinstance(x, Sequence) and not isinstance(x, str):
        xs = [_as_float(v, "each entry of x") for v in x]
        out = []
        for i in range(len(xs)):
            up, down = list(xs), list(xs)
            up[i] += eps
            down[i] -= eps
            out.append((_scalar(f(up)) - _scalar(f(down))) / (2 * eps))
        return out
    x0 = _as_float(x, "x")
    return (_scalar(f(x0 + eps)) - _scalar(f(x0 - eps))) / (2 * eps)


def _layout(root: Value) -> tuple[list[Value], dict[int, tuple[float, float]]]:
    """Place each node: column = longest path from a leaf, rows ordered by the inputs' rows."""
    order = topological_order(root)
    depth: dict[int, int] = {}
    for node in order:
        depth[id(node)] = 1 + max((depth[id(c)] for c in node._prev), default=-1)
    columns: dict[int, list[Value]] = {}
    for node in order:
        columns.setdefault(depth[id(node)], []).append(node)
    row: dict[int, float] = {}
    for d in sorted(columns):
        nodes = columns[d]
        if d > 0:  # order by the mean row of the inputs, to reduce crossing edges
            nodes.sort(key=lambda n: sum(row[id(c)] for c in n._prev) / len(n._prev))
        for i, node in enumerate(nodes):
            row[id(node)] = i - (len(nodes) - 1) / 2
    return order, {id(n): (float(depth[id(n)]), -row[id(n)]) for n in order}


def draw_graph(
    root: Value,
    *,
    ax: Any = None,
    show_grad: bool = True,
    backward: bool = False,
    max_nodes: int = 80,
) -> Any:
    """Draw the computation graph of ``root`` with matplotlib (inputs left, ``root`` right).

    Each box shows a Value's label, ``data`` and (if ``show_grad``) ``grad``; the operation that
    made it is written in a circle on its left. With ``backward=True`` every forward arrow (grey)
    gets a dashed red twin pointing the other way: the path along which ``backward()`` sends
    gradients. Returns the matplotlib ``Axes``.
    """
    import matplotlib.pyplot as plt

    order, pos = _layout(root)
    if len(order) > max_nodes:
        raise ValueError(
            f"the graph has {len(order)} nodes, more than max_nodes={max_nodes}; "
            "draw a smaller expression or raise max_nodes"
        )
    n_cols = 1 + max(x for x, _ in pos.values())
    n_rows = 1 + max(sum(1 for p in pos.values() if p[0] == c) for c in range(int(n_cols)))
    if ax is None:
        fig, ax = plt.subplots(figsize=(min(2.2 * n_cols + 0.5, 14), min(0.9 * n_rows + 0.8, 9)))
        fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.99)
    sx = 3.0  # horizontal spacing between columns
    box = {"boxstyle": "round,pad=0.3", "fc": "#eef3fb", "ec": "#3b6ea5"}
    opbox = {"boxstyle": "circle,pad=0.25", "fc": "#fff4d6", "ec": "#b8860b"}
    arrow = {"arrowstyle": "->", "color": "#555555", "lw": 1.0, "shrinkA": 4, "shrinkB": 4}
    back = {**arrow, "color": "#c0392b", "linestyle": "--"}

    def connect(head: Any, tail: Any, rad: float = 0.0) -> None:
        """Forward arrow from ``tail``'s right edge to ``head``'s left edge (+ its backward twin)."""
        bent = {**arrow, "connectionstyle": f"arc3,rad={rad:g}"}
        ax.annotate(
            "", xy=(0, 0.5), xycoords=head, xytext=(1, 0.5), textcoords=tail, arrowprops=bent
        )
        if backward:  # the same edge walked the other way, bent to the other side
            twin = {**back, "connectionstyle": f"arc3,rad={rad + 0.35:g}"}
            ax.annotate(
                "", xy=(1, 0.5), xycoords=tail, xytext=(0, 0.5), textcoords=head, arrowprops=twin
            )

    boxes, ops = {}, {}
    for node in order:
        x, y = pos[id(node)]
        text = f"{node.label + ' | ' if node.label else ''}data {node.data:.4g}"
        text += f"\ngrad {node.grad:.4g}" if show_grad else ""
        boxes[id(node)] = ax.text(x * sx, y, text, ha="center", va="center", fontsize=8, bbox=box)
        if node._prev:
            ops[id(node)] = ax.text(
                x * sx - 1.35, y, node._op, ha="center", va="center", fontsize=8, bbox=opbox
            )
    # arrows between the edges of the boxes (artists as coordinate systems: (0, .5) = left middle)
    for node in order:
        if not node._prev:
            continue
        op = ops[id(node)]
        connect(boxes[id(node)], op)
        seen_here: dict[int, int] = {}
        for child in node._prev:
            # bend an edge that skips columns (so it avoids the nodes between) or that repeats
            repeat = seen_here.get(id(child), 0)
            seen_here[id(child)] = repeat + 1
            skips = pos[id(node)][0] - pos[id(child)][0] > 1
            connect(op, boxes[id(child)], 0.25 * skips + 0.3 * repeat)
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(-1.1, (n_cols - 1) * sx + 0.9)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.axis("off")
    return ax
