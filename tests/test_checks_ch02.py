"""Workbook 02 checkers: the reference passes, each usual wrong answer fails with a specific hint."""

from __future__ import annotations

import pytest
import torch

from course_lib import activations, checks

FUNCTION_CHECKS = [
    checks.ex02_sigmoid,
    checks.ex02_grad_sigmoid,
    checks.ex02_grad_relu,
    checks.ex02_tanh,
    checks.ex02_softmax,
]


@pytest.mark.parametrize("check", FUNCTION_CHECKS)
def test_stub_is_not_done_yet(check, checker_line) -> None:
    checker_line.not_done(check)


@pytest.mark.parametrize("check", [checks.ex02_sigmoid_slope, checks.ex02_depth_factor])
def test_value_answers_none(check, checker_line) -> None:
    checker_line.not_done(check, None)


def test_sigmoid_slope(checker_line) -> None:
    checker_line.passes(checks.ex02_sigmoid_slope, 0.25)
    checker_line.fails(checks.ex02_sigmoid_slope, 0.5, needles=("VALUE",))
    checker_line.fails(checks.ex02_sigmoid_slope, 1.0, needles=("tanh",))


def test_depth_factor(checker_line) -> None:
    checker_line.passes(checks.ex02_depth_factor, 0.25**10)
    checker_line.passes(checks.ex02_depth_factor, 9.5e-7)
    checker_line.fails(checks.ex02_depth_factor, 2.5, needles=("MULTIPLIES",))
    checker_line.fails(checks.ex02_depth_factor, 0.25, needles=("one layer",))


def test_sigmoid(checker_line) -> None:
    checker_line.passes(checks.ex02_sigmoid, activations.sigmoid)
    checker_line.passes(checks.ex02_sigmoid, torch.sigmoid)
    checker_line.fails(
        checks.ex02_sigmoid, lambda x: 1 / (1 + torch.exp(-x)), needles=("gradient", "nan")
    )
    checker_line.fails(
        checks.ex02_sigmoid, lambda x: torch.exp(x) / (1 + torch.exp(x)), needles=("overflow",)
    )
    checker_line.fails(
        checks.ex02_sigmoid, lambda x: 1 / (1 + torch.exp(x)), needles=("sigmoid(-x)",)
    )
    checker_line.fails(
        checks.ex02_sigmoid, lambda x: activations.sigmoid(x).float(), needles=("dtype",)
    )

    def where_both_branches(x):
        return torch.where(x >= 0, 1 / (1 + torch.exp(-x)), torch.exp(x) / (1 + torch.exp(x)))

    checker_line.fails(checks.ex02_sigmoid, where_both_branches, needles=("BOTH branches",))

    def abs_trick(x):
        e = torch.exp(-x.abs())
        return torch.where(x >= 0, 1 / (1 + e), e / (1 + e))

    checker_line.fails(checks.ex02_sigmoid, abs_trick, needles=("x = 0", "0.25"))

    def clamp_trick(x):
        pos = 1 / (1 + torch.exp(-x.clamp(min=0)))
        e = torch.exp(x.clamp(max=0))
        return torch.where(x >= 0, pos, e / (1 + e))

    checker_line.passes(checks.ex02_sigmoid, clamp_trick)


def test_grad_sigmoid(checker_line) -> None:
    checker_line.passes(checks.ex02_grad_sigmoid, activations.grad_sigmoid)
    checker_line.fails(checks.ex02_grad_sigmoid, lambda x: x * (1 - x), needles=("OUTPUT",))
    checker_line.fails(checks.ex02_grad_sigmoid, torch.sigmoid, needles=("sigmoid(x) itself",))


def test_grad_relu(checker_line) -> None:
    checker_line.passes(checks.ex02_grad_relu, activations.grad_relu)
    checker_line.fails(
        checks.ex02_grad_relu, lambda x: (x >= 0).to(x.dtype), needles=("x = 0", "(x > 0)")
    )
    checker_line.fails(
        checks.ex02_grad_relu,
        lambda x: torch.where(x == 0, 0.5, (x > 0).to(x.dtype)),
        needles=("0.5",),
    )
    checker_line.fails(checks.ex02_grad_relu, lambda x: (1 + x / x.abs()) / 2, needles=("x = 0",))
    checker_line.fails(checks.ex02_grad_relu, lambda x: x > 0, needles=("torch.bool",))
    checker_line.fails(checks.ex02_grad_relu, lambda x: (x > 0).float(), needles=("dtype",))


def test_tanh(checker_line) -> None:
    checker_line.passes(checks.ex02_tanh, activations.tanh)
    checker_line.passes(checks.ex02_tanh, torch.tanh)
    checker_line.fails(checks.ex02_tanh, activations.tanh_exp2, needles=("+-1e4", "nan"))
    checker_line.fails(checks.ex02_tanh, activations.tanh_exp, needles=("inf / inf",))
    checker_line.fails(
        checks.ex02_tanh, lambda x: 2 * activations.sigmoid(x) - 1, needles=("double x",)
    )
    checker_line.fails(checks.ex02_tanh, lambda x: activations.tanh(x).float(), needles=("dtype",))


def test_softmax(checker_line) -> None:
    checker_line.passes(checks.ex02_softmax, activations.softmax)
    checker_line.passes(checks.ex02_softmax, torch.softmax)

    def naive(x, dim=-1):
        e = torch.exp(x)
        return e / e.sum(dim=dim, keepdim=True)

    checker_line.fails(checks.ex02_softmax, naive, needles=("1e4", "amax"))
    checker_line.fails(
        checks.ex02_softmax,
        lambda x, dim=-1: naive(x, 0 if x.dim() > 1 else -1),
        needles=("other dimension",),
    )
    checker_line.fails(checks.ex02_softmax, lambda x, dim=-1: naive(x, -1), needles=("dim=0",))


# ---- issue 16: the planted answers of each kind


def test_tanh_identity_sigmoid_is_right(checker_line) -> None:
    """(1 + tanh(x / 2)) / 2 is the identity Value.sigmoid uses; float64 rounding is allowed (kind 5)."""
    checker_line.passes(checks.ex02_sigmoid, lambda x: (1 + torch.tanh(x / 2)) / 2)


def test_clamped_sigmoid_is_named_only_when_clamped(checker_line) -> None:
    def clamped(x):
        x = x.clamp(-30, 30)
        return 1 / (1 + torch.exp(-x))

    checker_line.fails(checks.ex02_sigmoid, clamped, needles=("as if x were clamped",))


def test_sigmoid_rules_out_torch_sigmoid(checker_line) -> None:
    checker_line.fails(
        checks.ex02_sigmoid, lambda x: torch.sigmoid(x), needles=("your code called torch.sigmoid",)
    )
    checker_line.fails(
        checks.ex02_tanh, lambda x: x.tanh(), needles=("your code called torch.Tensor.tanh",)
    )


def test_softmax_per_row_max(checker_line) -> None:
    """A batch-wide max passes logits of 1e4 in every row, not rows on different scales (kind 1)."""

    def batch_max(x, dim=-1):
        e = torch.exp(x - x.max())
        return e / e.sum(dim, keepdim=True)

    checker_line.fails(
        checks.ex02_softmax, batch_max, needles=("needs its own max", "whole tensor")
    )


def test_softmax_in_place(checker_line) -> None:
    def in_place(x, dim=-1):
        x -= x.amax(dim, keepdim=True)
        x.exp_()
        return x / x.sum(dim, keepdim=True)

    checker_line.fails(checks.ex02_softmax, in_place, needles=("changed its input `x` in place",))


def test_tanh_slope_at_zero(checker_line) -> None:
    """sign(x) * (1 - e) / (1 + e) has the right values and slope 0 at x = 0 in autograd."""

    def sign_form(x):
        e = torch.exp(-2 * x.abs())
        return torch.sign(x) * (1 - e) / (1 + e)

    checker_line.fails(checks.ex02_tanh, sign_form, needles=("slope at x = 0", "torch.sign"))
