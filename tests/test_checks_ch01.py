"""Workbook 01 checkers: the reference passes, each usual wrong answer fails with a specific hint."""

from __future__ import annotations

import pytest
import torch

from course_lib import checks, losses


@pytest.mark.parametrize(
    "check",
    [checks.ex01_mse, checks.ex01_huber, checks.ex01_cross_entropy, checks.ex01_bce_with_logits],
)
def test_stub_is_not_done_yet(check, checker_line) -> None:
    checker_line.not_done(check)


@pytest.mark.parametrize("check", [checks.ex01_article_mse, checks.ex01_article_cross_entropy])
def test_value_answers_none_and_ellipsis(check, checker_line) -> None:
    checker_line.fails(check, None, needles=("no answer yet",))
    checker_line.fails(check, ..., needles=("no answer yet",))
    checker_line.fails(check, "zero point eight", needles=("expected a number",))


def test_article_mse(checker_line) -> None:
    checker_line.passes(checks.ex01_article_mse, 0.8)
    checker_line.passes(checks.ex01_article_mse, torch.tensor(0.8))
    checker_line.fails(checks.ex01_article_mse, 11 / 5, needles=("article",))
    checker_line.fails(checks.ex01_article_mse, 4.0, needles=("SUM",))
    checker_line.fails(checks.ex01_article_mse, 1.3, needles=("residuals",))


def test_mse(checker_line) -> None:
    checker_line.passes(checks.ex01_mse, losses.mse)

    def checked(f):
        def g(p, t):
            if p.shape != t.shape:
                raise ValueError(f"{p.shape} vs {t.shape}")
            return f(p, t)

        return g

    checker_line.fails(
        checks.ex01_mse, checked(lambda p, t: ((p - t) ** 2).sum()), needles=("SUM", ".mean()")
    )
    checker_line.fails(
        checks.ex01_mse, checked(lambda p, t: (p - t).abs().mean()), needles=("ABSOLUTE",)
    )
    checker_line.fails(
        checks.ex01_mse, checked(lambda p, t: ((p - t) ** 2).mean().sqrt()), needles=("root",)
    )
    checker_line.fails(
        checks.ex01_mse, lambda p, t: ((p - t) ** 2).mean(), needles=("(4, 1)", "ValueError")
    )
    checker_line.fails(
        checks.ex01_mse, checked(lambda p, t: ((p - t) ** 2).mean().float()), needles=("dtype",)
    )


def _huber(p, t, delta, *, swap=False, fixed=False, sums=False, no_abs=False):
    r = p - t
    a = r if no_abs else r.abs()
    d = 1.0 if fixed else delta
    quad, lin = 0.5 * r**2, d * (r.abs() - 0.5 * d)
    out = torch.where(a <= d, lin, quad) if swap else torch.where(a <= d, quad, lin)
    return out.sum() if sums else out.mean()


def test_huber(checker_line) -> None:
    checker_line.passes(checks.ex01_huber, losses.huber)
    checker_line.passes(checks.ex01_huber, _huber)
    checker_line.fails(
        checks.ex01_huber, lambda p, t, d: _huber(p, t, d, swap=True), needles=("swapped",)
    )
    checker_line.fails(
        checks.ex01_huber, lambda p, t, d: _huber(p, t, d, fixed=True), needles=("delta = 1",)
    )
    checker_line.fails(
        checks.ex01_huber, lambda p, t, d: _huber(p, t, d, sums=True), needles=("SUM",)
    )
    checker_line.fails(
        checks.ex01_huber, lambda p, t, d: _huber(p, t, d, no_abs=True), needles=("|r|",)
    )
    checker_line.fails(checks.ex01_huber, lambda p, t, d: losses.mse(p, t) / 2, needles=("Hint",))


def _naive_ce(z, y):
    p = torch.exp(z) / torch.exp(z).sum(dim=1, keepdim=True)
    return -torch.log(p[torch.arange(len(y)), y]).mean()


def _global_max_ce(z, y):
    s = z - z.max()  # the batch's max, not each row's
    logp = s - torch.log(torch.exp(s).sum(dim=1, keepdim=True))
    return -logp[torch.arange(len(y)), y].mean()


def test_cross_entropy(checker_line) -> None:
    checker_line.passes(checks.ex01_cross_entropy, losses.cross_entropy)
    checker_line.passes(checks.ex01_cross_entropy, torch.nn.functional.cross_entropy)
    checker_line.fails(checks.ex01_cross_entropy, _naive_ce, needles=("1e4", "nan", "max"))
    checker_line.fails(checks.ex01_cross_entropy, _global_max_ce, needles=("own max", "keepdim"))
    checker_line.fails(
        checks.ex01_cross_entropy,
        lambda z, y: -torch.log(torch.softmax(z, 1)[torch.arange(len(y)), y]).mean(),
        needles=("log(0) = -inf", "analytically"),
    )
    checker_line.fails(
        checks.ex01_cross_entropy,
        lambda z, y: losses.cross_entropy(z, y).float(),
        needles=("dtype changed",),
    )
    checker_line.fails(
        checks.ex01_cross_entropy,
        lambda z, y: losses.cross_entropy(torch.softmax(z, 1), y),
        needles=("softmax applied twice",),
    )
    checker_line.fails(
        checks.ex01_cross_entropy,
        lambda z, y: -torch.log(z[torch.arange(len(y)), y]).mean(),
        needles=("probabilities",),
    )
    checker_line.fails(
        checks.ex01_cross_entropy,
        lambda z, y: losses.cross_entropy(z, y) * len(y),
        needles=("SUM",),
    )
    checker_line.fails(
        checks.ex01_cross_entropy, lambda z, y: -losses.cross_entropy(z, y), needles=("negative",)
    )


def test_article_cross_entropy(checker_line) -> None:
    checker_line.passes(checks.ex01_article_cross_entropy, 0.9906)
    checker_line.fails(checks.ex01_article_cross_entropy, -0.1315, needles=("logarithm",))
    checker_line.fails(checks.ex01_article_cross_entropy, -0.5, needles=("negative",))
    checker_line.fails(checks.ex01_article_cross_entropy, 4.953, needles=("sum",))
    checker_line.fails(checks.ex01_article_cross_entropy, 1.4291, needles=("base 2",))


def test_bce_with_logits(checker_line) -> None:
    checker_line.passes(checks.ex01_bce_with_logits, losses.binary_cross_entropy_with_logits)

    def naive(z, t):
        p = torch.sigmoid(z)
        return -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).mean()

    checker_line.fails(checks.ex01_bce_with_logits, naive, needles=("+-100", "log1p"))
    checker_line.fails(
        checks.ex01_bce_with_logits,
        lambda z, t: losses.binary_cross_entropy_with_logits(z, t) * t.numel(),
        needles=("SUM",),
    )
