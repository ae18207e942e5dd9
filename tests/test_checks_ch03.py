"""Workbook 03 checkers: the reference passes, each usual mistake fails with a hint, stubs say 'not done'."""

from __future__ import annotations

import math

import pytest

from course_lib import checks
from course_lib.autograd import Value, topological_order
from course_lib.checks._core import FAIL, PASS, TODO


def _line(capsys) -> str:
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    return out[0]


def _passes(capsys, check, answer) -> None:
    assert check(answer)
    assert _line(capsys).startswith(PASS)


def _fails(capsys, check, answer, *needles: str) -> str:
    assert not check(answer)
    line = _line(capsys)
    assert line.startswith(FAIL), line
    assert "Hint:" in line
    for needle in needles:
        assert needle in line, line
    return line


# ---- reference answers ---------------------------------------------------------------------
def numeric_derivative(f, x, eps=1e-6):
    return (f(x + eps) - f(x - eps)) / (2 * eps)


def mul(a, b):
    out = Value(a.data * b.data, (a, b), "*")

    def _backward():
        a.grad += b.data * out.grad
        b.grad += a.data * out.grad

    out._backward = _backward
    return out


def backward(root):
    order = topological_order(root)
    root.grad = 1.0
    for node in reversed(order):
        node._backward()


def sigmoid(v):
    return 1.0 / (1.0 + (-v).exp())


# ---- wrong answers -------------------------------------------------------------------------
def mul_assign(a, b):  # `=` instead of `+=`
    out = Value(a.data * b.data, (a, b), "*")

    def _backward():
        a.grad = b.data * out.grad
        b.grad = a.data * out.grad

    out._backward = _backward
    return out


def backward_no_topo(root):  # recursive, calls _backward before all consumers have contributed
    root.grad = 1.0

    def visit(node):
        node._backward()
        for child in node._prev:
            visit(child)

    visit(root)


def backward_bfs_visited(root):  # each node once, in breadth-first order: not a topological order
    root.grad = 1.0
    queue, seen = [root], {id(root)}
    while queue:
        node = queue.pop(0)
        node._backward()
        for child in node._prev:
            if id(child) not in seen:
                seen.add(id(child))
                queue.append(child)


def test_reference_answers_pass(capsys):
    _passes(capsys, checks.ex03_numeric_derivative, numeric_derivative)
    _passes(capsys, checks.ex03_mul, mul)
    _passes(capsys, checks.ex03_backward, backward)
    _passes(capsys, checks.ex03_sigmoid, sigmoid)
    _passes(capsys, checks.ex03_sigmoid, lambda v: v.sigmoid())
    _passes(capsys, checks.ex03_predict_grad, 68.0)


def test_mul_with_assignment_instead_of_accumulation_fails(capsys):
    _fails(capsys, checks.ex03_mul, mul_assign, "twice", "+=")


def test_mul_without_children_fails(capsys):
    _fails(capsys, checks.ex03_mul, lambda a, b: Value(a.data * b.data), "still 0")


def test_backward_without_topological_order_fails(capsys):
    _fails(capsys, checks.ex03_backward, backward_no_topo, "diamond", "topological")
    _fails(capsys, checks.ex03_backward, backward_bfs_visited, "topological")


def test_backward_forgetting_root_grad_fails(capsys):
    def no_seed(root):
        for node in reversed(topological_order(root)):
            node._backward()

    _fails(capsys, checks.ex03_backward, no_seed, "root.grad = 1.0")


def test_numeric_derivative_mistakes(capsys):
    _fails(
        capsys,
        checks.ex03_numeric_derivative,
        lambda f, x, eps: (f(x + eps) - f(x)) / eps,
        "central",
    )
    _fails(
        capsys,
        checks.ex03_numeric_derivative,
        lambda f, x, eps: (f(x + eps) - f(x - eps)) / eps,
        "2*eps",
    )


def test_sigmoid_mistakes(capsys):
    _fails(capsys, checks.ex03_sigmoid, lambda v: 1.0 / (1.0 + v.exp()), "sign")
    _fails(capsys, checks.ex03_sigmoid, lambda v: Value(1 / (1 + math.exp(-v.data))), "math.exp")


def test_predict_grad(capsys):
    assert not checks.ex03_predict_grad(None)
    assert "no answer yet" in _line(capsys)
    _fails(capsys, checks.ex03_predict_grad, 7.0, "4a**3")


@pytest.mark.parametrize(
    "check",
    [checks.ex03_numeric_derivative, checks.ex03_mul, checks.ex03_backward, checks.ex03_sigmoid],
)
def test_stub_is_not_done_yet(capsys, check):
    def stub(*args, **kwargs):
        raise NotImplementedError

    assert not check(stub)
    assert _line(capsys).startswith(TODO)


def test_learner_exception_becomes_a_sentence(capsys):
    def broken(*args):
        raise KeyError("oops")

    _fails(capsys, checks.ex03_mul, broken, "KeyError")
    _fails(capsys, checks.ex03_sigmoid, "not a function", "function")
