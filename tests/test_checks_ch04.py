"""Workbook 04 checkers: the reference passes, each usual mistake fails with a hint, stubs say 'not done'."""

from __future__ import annotations

import pytest
import torch

from course_lib import checks


# ---- reference answers ---------------------------------------------------------------------
def linear_backward(dout, x, W):
    return dout @ W, dout.T @ x, dout.sum(dim=0)


def relu_backward(dout, x):
    return dout * (x > 0)


def softmax_ce_backward(logits, target, divide=True):
    p = torch.softmax(logits, dim=1)
    p[torch.arange(len(target)), target] -= 1
    return p / len(target) if divide else p


def mlp_backward(x, y, params, divide=True, transpose=False):
    z1 = x @ params["W1"].T + params["b1"]
    h = torch.relu(z1)
    logits = h @ params["W2"].T + params["b2"]
    d = softmax_ce_backward(logits, y, divide=divide)
    dW2 = (d.T @ h).T if transpose else d.T @ h
    dh = d @ params["W2"]
    dz1 = dh * (z1 > 0)
    return {"W2": dW2, "b2": d.sum(0), "W1": dz1.T @ x, "b1": dz1.sum(0)}


def relu_grad_theta(theta, x):
    return x * (theta @ x > 0)


def test_reference_answers_pass(checker_line):
    checker_line.passes(checks.ex04_linear_backward, linear_backward)
    checker_line.passes(checks.ex04_relu_backward, relu_backward)
    checker_line.passes(checks.ex04_softmax_ce_backward, softmax_ce_backward)
    checker_line.passes(checks.ex04_mlp_backward, mlp_backward)
    checker_line.passes(checks.ex04_dot_product, 38.5)
    checker_line.passes(checks.ex04_relu_grad_theta, relu_grad_theta)


def test_course_lib_layers_pass_the_checkers(checker_line):
    from course_lib.nn import Linear, SoftmaxCrossEntropy

    def via_layer(dout, x, W):
        layer = Linear(W.shape[1], W.shape[0], dtype=W.dtype)
        layer.params["weight"] = W
        dx = layer.backward(dout, (x,))
        return dx, layer.grads["weight"], layer.grads["bias"]

    def via_ce(logits, target):
        ce = SoftmaxCrossEntropy()
        return ce.backward(1.0, ce.forward(logits, target)[1])

    checker_line.passes(checks.ex04_linear_backward, via_layer)
    checker_line.passes(checks.ex04_softmax_ce_backward, via_ce)


def test_linear_wrong_transpose_fails(checker_line):
    checker_line.fails(
        checks.ex04_linear_backward,
        lambda d, x, W: (d @ W, x.T @ d, d.sum(0)),
        needles=("transpose",),
    )
    # dx = dout @ W.T fails on non-square weights with PyTorch's own error, reported as a sentence
    checker_line.fails(
        checks.ex04_linear_backward,
        lambda d, x, W: (d @ W.T, d.T @ x, d.sum(0)),
        needles=("RuntimeError",),
    )
    checker_line.fails(
        checks.ex04_linear_backward, lambda d, x, W: (d @ W, d.T @ x, d.mean(0)), needles=("sums",)
    )


def test_linear_square_only_transpose_bug_is_caught(checker_line):
    # passes the first case (non-square) by reshaping, wrong on the square case
    def sneaky(d, x, W):
        dW = d.T @ x
        if W.shape[0] == W.shape[1]:
            dW = dW.T
        return d @ W, dW, d.sum(0)

    checker_line.fails(checks.ex04_linear_backward, sneaky, needles=("square", "transpose"))


def test_softmax_ce_not_divided_by_batch_fails(checker_line):
    checker_line.fails(
        checks.ex04_softmax_ce_backward,
        lambda lg, t: softmax_ce_backward(lg, t, divide=False),
        needles=("MEAN", "N=6"),
    )
    checker_line.fails(
        checks.ex04_softmax_ce_backward,
        lambda lg, t: -softmax_ce_backward(lg, t),
        needles=("sign",),
    )

    def naive(lg, t):
        e = lg.exp()
        p = e / e.sum(dim=1, keepdim=True)
        p[torch.arange(len(t)), t] -= 1
        return p / len(t)

    checker_line.fails(checks.ex04_softmax_ce_backward, naive, needles=("1e4", "maximum"))


def test_mlp_mistakes(checker_line):
    checker_line.fails(
        checks.ex04_mlp_backward,
        lambda x, y, p: mlp_backward(x, y, p, divide=False),
        needles=("mean",),
    )
    checker_line.fails(
        checks.ex04_mlp_backward,
        lambda x, y, p: mlp_backward(x, y, p, transpose=True),
        needles=("shape",),
    )


def test_relu_mistakes(checker_line):
    checker_line.fails(checks.ex04_relu_backward, lambda d, x: d * (x >= 0), needles=("x == 0",))
    checker_line.fails(
        checks.ex04_relu_backward, lambda d, x: (x > 0).to(x.dtype), needles=("dout",)
    )
    checker_line.fails(checks.ex04_relu_grad_theta, lambda th, x: x.clone(), needles=("flat",))


def test_dot_product_answers(checker_line):
    checker_line.fails(checks.ex04_dot_product, 6.5, needles=("source material",))
    assert not checks.ex04_dot_product(None)
    assert "not done yet" in checker_line.line()


@pytest.mark.parametrize(
    "check",
    [
        checks.ex04_linear_backward,
        checks.ex04_relu_backward,
        checks.ex04_softmax_ce_backward,
        checks.ex04_mlp_backward,
        checks.ex04_relu_grad_theta,
    ],
)
def test_stub_is_not_done_yet(checker_line, check):
    checker_line.not_done(check)


def test_wrong_return_types_are_sentences(checker_line):
    checker_line.fails(checks.ex04_linear_backward, lambda d, x, W: d @ W, needles=("tuple",))
    checker_line.fails(checks.ex04_mlp_backward, lambda x, y, p: [1, 2], needles=("dict",))


def test_one_hot_without_num_classes_is_named(checker_line):
    def short_one_hot(logits, target):
        onehot = torch.nn.functional.one_hot(target)  # only max(target) + 1 columns
        return (torch.softmax(logits, 1) - onehot) / len(target)

    checker_line.fails(checks.ex04_softmax_ce_backward, short_one_hot, needles=("num_classes",))


def test_autograd_inside_a_hand_written_backward_fails(checker_line):
    def via_autograd(dout, x, W):
        x, W = x.clone().requires_grad_(), W.clone().requires_grad_()
        b = torch.zeros(W.shape[0], dtype=W.dtype, requires_grad=True)
        (x @ W.T + b).backward(dout)
        return x.grad, W.grad, b.grad

    checker_line.fails(
        checks.ex04_linear_backward, via_autograd, needles=("autograd is switched off",)
    )


def test_mlp_dtype_change_fails(checker_line):
    def as_float32(x, y, params):
        return {k: v.float() for k, v in mlp_backward(x, y, params).items()}

    checker_line.fails(checks.ex04_mlp_backward, as_float32, needles=("dtype",))


# ---- issue 16: the planted answers of each kind


def _batch_max_softmax_ce_backward(logits, target):
    e = torch.exp(logits - logits.max())  # the batch's largest logit, not each row's
    p = e / e.sum(dim=1, keepdim=True)
    onehot = torch.zeros_like(p)
    onehot[torch.arange(len(target)), target] = 1
    return (p - onehot) / len(target)


def test_softmax_ce_backward_per_row_max(checker_line) -> None:
    """logits [[1e4, 0, 0], [-1e4, -1e4, -9999]]: a batch-wide max gives nan in row 2 (kind 1)."""
    checker_line.fails(
        checks.ex04_softmax_ce_backward,
        _batch_max_softmax_ce_backward,
        needles=("rows on different scales", "its own max"),
    )


def _mlp_forward(x, y, p):
    h = torch.relu(x @ p["W1"].T + p["b1"])
    return torch.nn.functional.cross_entropy(h @ p["W2"].T + p["b2"], y)


def test_mlp_backward_rules_out_torch_func(checker_line) -> None:
    """torch.func.grad and enable_grad ignore torch.no_grad: they are switched off (kind 4)."""

    def with_func(x, y, params):
        return torch.func.grad(lambda p: _mlp_forward(x, y, p))(params)

    checker_line.fails(
        checks.ex04_mlp_backward, with_func, needles=("your code called torch.func", "by hand")
    )

    def with_enable_grad(x, y, params):
        with torch.enable_grad():
            p = {k: v.clone().requires_grad_() for k, v in params.items()}
            _mlp_forward(x, y, p).backward()
        return {k: v.grad for k, v in p.items()}

    checker_line.fails(
        checks.ex04_mlp_backward, with_enable_grad, needles=("your code called torch.enable_grad",)
    )

    def swallowed(x, y, params):  # catching the refusal does not hide it
        try:
            return with_enable_grad(x, y, params)
        except Exception:  # noqa: BLE001
            return {k: torch.zeros_like(v) for k, v in params.items()}

    checker_line.fails(checks.ex04_mlp_backward, swallowed, needles=("torch.enable_grad",))


def test_relu_backward_rules_out_names_imported_before_the_check(checker_line) -> None:
    from torch.autograd.functional import jacobian

    checker_line.fails(
        checks.ex04_relu_backward,
        lambda dout, x: jacobian(lambda t: (torch.relu(t) * dout).sum(), x),
        needles=("your code called torch.autograd.functional",),
    )
