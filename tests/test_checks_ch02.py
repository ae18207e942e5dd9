"""Workbook 02 checkers: the reference passes, each usual wrong answer fails with a specific hint."""

from __future__ import annotations

import pytest
import torch

from course_lib import activations, checks

PASS, FAIL = "\u2705", "\u274c"


def _out(capsys) -> str:
    out = capsys.readouterr().out
    assert "Traceback" not in out and out.count("\n") == 1
    return out


def passes(check, answer, capsys) -> None:
    result = check(answer)
    out = _out(capsys)
    assert result and out.startswith(PASS), out


def fails(check, answer, capsys, *needles: str) -> None:
    result = check(answer)
    out = _out(capsys)
    assert not result and out.startswith(FAIL), out
    for needle in needles:
        assert needle in out, (needle, out)


def not_done(*args):
    raise NotImplementedError


FUNCTION_CHECKS = [
    checks.ex02_sigmoid,
    checks.ex02_grad_sigmoid,
    checks.ex02_grad_relu,
    checks.ex02_tanh,
    checks.ex02_softmax,
]


@pytest.mark.parametrize("check", FUNCTION_CHECKS)
def test_stub_is_not_done_yet(check, capsys) -> None:
    assert not check(not_done)
    assert "not done yet" in _out(capsys)


@pytest.mark.parametrize("check", [checks.ex02_sigmoid_slope, checks.ex02_depth_factor])
def test_value_answers_none(check, capsys) -> None:
    fails(check, None, capsys, "no answer yet")


def test_sigmoid_slope(capsys) -> None:
    passes(checks.ex02_sigmoid_slope, 0.25, capsys)
    fails(checks.ex02_sigmoid_slope, 0.5, capsys, "VALUE")
    fails(checks.ex02_sigmoid_slope, 1.0, capsys, "tanh")


def test_depth_factor(capsys) -> None:
    passes(checks.ex02_depth_factor, 0.25**10, capsys)
    passes(checks.ex02_depth_factor, 9.5e-7, capsys)
    fails(checks.ex02_depth_factor, 2.5, capsys, "MULTIPLIES")
    fails(checks.ex02_depth_factor, 0.25, capsys, "one layer")


def test_sigmoid(capsys) -> None:
    passes(checks.ex02_sigmoid, activations.sigmoid, capsys)
    passes(checks.ex02_sigmoid, torch.sigmoid, capsys)
    fails(checks.ex02_sigmoid, lambda x: 1 / (1 + torch.exp(-x)), capsys, "gradient", "nan")
    fails(checks.ex02_sigmoid, lambda x: torch.exp(x) / (1 + torch.exp(x)), capsys, "overflow")
    fails(checks.ex02_sigmoid, lambda x: 1 / (1 + torch.exp(x)), capsys, "sigmoid(-x)")
    fails(checks.ex02_sigmoid, lambda x: torch.sigmoid(x).float(), capsys, "dtype")

    def where_both_branches(x):
        return torch.where(x >= 0, 1 / (1 + torch.exp(-x)), torch.exp(x) / (1 + torch.exp(x)))

    fails(checks.ex02_sigmoid, where_both_branches, capsys, "BOTH branches")

    def abs_trick(x):
        e = torch.exp(-x.abs())
        return torch.where(x >= 0, 1 / (1 + e), e / (1 + e))

    fails(checks.ex02_sigmoid, abs_trick, capsys, "x = 0", "0.25")

    def clamp_trick(x):
        pos = 1 / (1 + torch.exp(-x.clamp(min=0)))
        e = torch.exp(x.clamp(max=0))
        return torch.where(x >= 0, pos, e / (1 + e))

    passes(checks.ex02_sigmoid, clamp_trick, capsys)


def test_grad_sigmoid(capsys) -> None:
    passes(checks.ex02_grad_sigmoid, activations.grad_sigmoid, capsys)
    fails(checks.ex02_grad_sigmoid, lambda x: x * (1 - x), capsys, "OUTPUT")
    fails(checks.ex02_grad_sigmoid, torch.sigmoid, capsys, "sigmoid(x) itself")


def test_grad_relu(capsys) -> None:
    passes(checks.ex02_grad_relu, activations.grad_relu, capsys)
    fails(checks.ex02_grad_relu, lambda x: (x >= 0).to(x.dtype), capsys, "x = 0", "(x > 0)")
    fails(
        checks.ex02_grad_relu,
        lambda x: torch.where(x == 0, 0.5, (x > 0).to(x.dtype)),
        capsys,
        "0.5",
    )
    fails(checks.ex02_grad_relu, lambda x: (1 + x / x.abs()) / 2, capsys, "x = 0")
    fails(checks.ex02_grad_relu, lambda x: x > 0, capsys, "torch.bool")
    fails(checks.ex02_grad_relu, lambda x: (x > 0).float(), capsys, "dtype")


def test_tanh(capsys) -> None:
    passes(checks.ex02_tanh, activations.tanh, capsys)
    passes(checks.ex02_tanh, torch.tanh, capsys)
    fails(checks.ex02_tanh, activations.tanh_exp2, capsys, "+-1e4", "nan")
    fails(checks.ex02_tanh, activations.tanh_exp, capsys, "inf / inf")
    fails(checks.ex02_tanh, lambda x: 2 * torch.sigmoid(x) - 1, capsys, "double x")


def test_softmax(capsys) -> None:
    passes(checks.ex02_softmax, activations.softmax, capsys)
    passes(checks.ex02_softmax, torch.softmax, capsys)

    def naive(x, dim=-1):
        e = torch.exp(x)
        return e / e.sum(dim=dim, keepdim=True)

    fails(checks.ex02_softmax, naive, capsys, "1e4", "amax")
    fails(
        checks.ex02_softmax,
        lambda x, dim=-1: naive(x, 0 if x.dim() > 1 else -1),
        capsys,
        "other dimension",
    )
    fails(checks.ex02_softmax, lambda x, dim=-1: naive(x, -1), capsys, "dim=0")
