"""Workbook 01 checkers: the reference passes, each usual wrong answer fails with a specific hint."""

from __future__ import annotations

import pytest
import torch

from course_lib import checks, losses

PASS, FAIL = "\u2705", "\u274c"


def _out(capsys) -> str:
    out = capsys.readouterr().out
    assert "Traceback" not in out and out.count("\n") == 1  # exactly one line
    return out


def passes(check, answer, capsys) -> None:
    result = check(answer)
    out = _out(capsys)
    assert result and out.startswith(PASS), out


def fails(check, answer, capsys, *needles: str) -> str:
    result = check(answer)
    out = _out(capsys)
    assert not result and out.startswith(FAIL), out
    for needle in needles:
        assert needle in out, (needle, out)
    return out


def not_done(*args):
    raise NotImplementedError


ALL = [
    checks.ex01_mse,
    checks.ex01_huber,
    checks.ex01_cross_entropy,
    checks.ex01_bce_with_logits,
]


@pytest.mark.parametrize("check", ALL)
def test_stub_is_not_done_yet(check, capsys) -> None:
    assert not check(not_done)
    assert "not done yet" in _out(capsys)


@pytest.mark.parametrize("check", [checks.ex01_article_mse, checks.ex01_article_cross_entropy])
def test_value_answers_none_and_ellipsis(check, capsys) -> None:
    fails(check, None, capsys, "no answer yet")
    fails(check, ..., capsys, "no answer yet")
    fails(check, "zero point eight", capsys, "expected a number")


def test_article_mse(capsys) -> None:
    passes(checks.ex01_article_mse, 0.8, capsys)
    passes(checks.ex01_article_mse, torch.tensor(0.8), capsys)
    fails(checks.ex01_article_mse, 11 / 5, capsys, "article")
    fails(checks.ex01_article_mse, 4.0, capsys, "SUM")
    fails(checks.ex01_article_mse, 1.3, capsys, "residuals")


def test_mse(capsys) -> None:
    passes(checks.ex01_mse, losses.mse, capsys)

    def checked(f):
        def g(p, t):
            if p.shape != t.shape:
                raise ValueError(f"{p.shape} vs {t.shape}")
            return f(p, t)

        return g

    fails(checks.ex01_mse, checked(lambda p, t: ((p - t) ** 2).sum()), capsys, "SUM", ".mean()")
    fails(checks.ex01_mse, checked(lambda p, t: (p - t).abs().mean()), capsys, "ABSOLUTE")
    fails(checks.ex01_mse, checked(lambda p, t: ((p - t) ** 2).mean().sqrt()), capsys, "root")
    fails(checks.ex01_mse, lambda p, t: ((p - t) ** 2).mean(), capsys, "(4, 1)", "ValueError")
    fails(checks.ex01_mse, checked(lambda p, t: ((p - t) ** 2).mean().float()), capsys, "dtype")


def _huber(p, t, delta, *, swap=False, fixed=False, sums=False, no_abs=False):
    r = p - t
    a = r if no_abs else r.abs()
    d = 1.0 if fixed else delta
    quad, lin = 0.5 * r**2, d * (r.abs() - 0.5 * d)
    out = torch.where(a <= d, lin, quad) if swap else torch.where(a <= d, quad, lin)
    return out.sum() if sums else out.mean()


def test_huber(capsys) -> None:
    passes(checks.ex01_huber, losses.huber, capsys)
    passes(checks.ex01_huber, _huber, capsys)
    fails(checks.ex01_huber, lambda p, t, d: _huber(p, t, d, swap=True), capsys, "swapped")
    fails(checks.ex01_huber, lambda p, t, d: _huber(p, t, d, fixed=True), capsys, "delta = 1")
    fails(checks.ex01_huber, lambda p, t, d: _huber(p, t, d, sums=True), capsys, "SUM")
    fails(checks.ex01_huber, lambda p, t, d: _huber(p, t, d, no_abs=True), capsys, "|r|")
    fails(checks.ex01_huber, lambda p, t, d: losses.mse(p, t) / 2, capsys, "Hint")


def _naive_ce(z, y):
    p = torch.exp(z) / torch.exp(z).sum(dim=1, keepdim=True)
    return -torch.log(p[torch.arange(len(y)), y]).mean()


def test_cross_entropy(capsys) -> None:
    passes(checks.ex01_cross_entropy, losses.cross_entropy, capsys)
    passes(checks.ex01_cross_entropy, torch.nn.functional.cross_entropy, capsys)
    fails(checks.ex01_cross_entropy, _naive_ce, capsys, "1e4", "nan", "max")
    fails(
        checks.ex01_cross_entropy,
        lambda z, y: losses.cross_entropy(torch.softmax(z, 1), y),
        capsys,
        "softmax applied twice",
    )
    fails(
        checks.ex01_cross_entropy,
        lambda z, y: -torch.log(z[torch.arange(len(y)), y]).mean(),
        capsys,
        "probabilities",
    )
    fails(
        checks.ex01_cross_entropy, lambda z, y: losses.cross_entropy(z, y) * len(y), capsys, "SUM"
    )
    fails(checks.ex01_cross_entropy, lambda z, y: -losses.cross_entropy(z, y), capsys, "negative")


def test_article_cross_entropy(capsys) -> None:
    passes(checks.ex01_article_cross_entropy, 0.9906, capsys)
    fails(checks.ex01_article_cross_entropy, -0.1315, capsys, "logarithm")
    fails(checks.ex01_article_cross_entropy, -0.5, capsys, "negative")
    fails(checks.ex01_article_cross_entropy, 4.953, capsys, "sum")
    fails(checks.ex01_article_cross_entropy, 1.4291, capsys, "base 2")


def test_bce_with_logits(capsys) -> None:
    passes(checks.ex01_bce_with_logits, losses.binary_cross_entropy_with_logits, capsys)

    def naive(z, t):
        p = torch.sigmoid(z)
        return -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).mean()

    fails(checks.ex01_bce_with_logits, naive, capsys, "+-100", "log1p")
    fails(
        checks.ex01_bce_with_logits,
        lambda z, t: losses.binary_cross_entropy_with_logits(z, t) * t.numel(),
        capsys,
        "SUM",
    )
