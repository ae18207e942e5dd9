"""Workbook 03 checkers: the reference passes, each usual mistake fails with a hint, stubs say 'not done'."""

from __future__ import annotations

import math

import pytest

from course_lib import checks
from course_lib.autograd import Value, topological_order


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


def test_reference_answers_pass(checker_line):
    checker_line.passes(checks.ex03_numeric_derivative, numeric_derivative)
    checker_line.passes(checks.ex03_mul, mul)
    checker_line.passes(checks.ex03_backward, backward)
    checker_line.passes(checks.ex03_sigmoid, sigmoid)
    checker_line.passes(checks.ex03_sigmoid, lambda v: v.sigmoid())
    checker_line.passes(checks.ex03_predict_grad, 68.0)


def test_mul_with_assignment_instead_of_accumulation_fails(checker_line):
    checker_line.fails(checks.ex03_mul, mul_assign, needles=("twice", "+="))


def test_mul_without_children_fails(checker_line):
    checker_line.fails(checks.ex03_mul, lambda a, b: Value(a.data * b.data), needles=("still 0",))


def test_backward_without_topological_order_fails(checker_line):
    checker_line.fails(checks.ex03_backward, backward_no_topo, needles=("diamond", "topological"))
    checker_line.fails(checks.ex03_backward, backward_bfs_visited, needles=("topological",))


def test_backward_that_calls_the_engine_fails(checker_line):
    checker_line.fails(
        checks.ex03_backward,
        lambda root: root.backward(),
        needles=("switched off", "Value.backward"),
    )


def test_mul_that_reuses_the_engine_fails(checker_line):
    checker_line.fails(checks.ex03_mul, lambda a, b: a * b, needles=("Value.__mul__",))


def test_backward_forgetting_root_grad_fails(checker_line):
    def no_seed(root):
        for node in reversed(topological_order(root)):
            node._backward()

    checker_line.fails(checks.ex03_backward, no_seed, needles=("root.grad = 1.0",))


def test_numeric_derivative_mistakes(checker_line):
    checker_line.fails(
        checks.ex03_numeric_derivative,
        lambda f, x, eps: (f(x + eps) - f(x)) / eps,
        needles=("central",),
    )
    checker_line.fails(
        checks.ex03_numeric_derivative,
        lambda f, x, eps: (f(x + eps) - f(x - eps)) / eps,
        needles=("2*eps",),
    )


def test_sigmoid_mistakes(checker_line):
    checker_line.fails(checks.ex03_sigmoid, lambda v: 1.0 / (1.0 + v.exp()), needles=("sign",))
    checker_line.fails(
        checks.ex03_sigmoid, lambda v: Value(1 / (1 + math.exp(-v.data))), needles=("math.exp",)
    )


def test_predict_grad(checker_line):
    assert not checks.ex03_predict_grad(None)
    assert "not done yet" in checker_line.line()
    checker_line.fails(checks.ex03_predict_grad, 7.0, needles=("4a**3",))


@pytest.mark.parametrize(
    "check",
    [checks.ex03_numeric_derivative, checks.ex03_mul, checks.ex03_backward, checks.ex03_sigmoid],
)
def test_stub_is_not_done_yet(checker_line, check):
    checker_line.not_done(check)


def test_learner_exception_becomes_a_sentence(checker_line):
    def broken(*args):
        raise KeyError("oops")

    checker_line.fails(checks.ex03_mul, broken, needles=("KeyError",))
    checker_line.fails(checks.ex03_sigmoid, "not a function", needles=("function",))
