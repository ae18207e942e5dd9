"""Workbook 01 checkers: the reference passes, each usual wrong answer fails with a specific hint."""

from __future__ import annotations

import pytest
import torch

from course_lib import activations, checks, losses


@pytest.mark.parametrize(
    "check",
    [checks.ex01_mse, checks.ex01_huber, checks.ex01_cross_entropy, checks.ex01_bce_with_logits],
)
def test_stub_is_not_done_yet(check, checker_line) -> None:
    checker_line.not_done(check)


@pytest.mark.parametrize("check", [checks.ex01_article_mse, checks.ex01_article_cross_entropy])
def test_value_answers_none_and_ellipsis(check, checker_line) -> None:
    checker_line.not_done(check, None)
    checker_line.not_done(check, ...)
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
        lambda z, y: -torch.log(activations.softmax(z, 1)[torch.arange(len(y)), y]).mean(),
        needles=("log(0) = -inf", "analytically"),
    )
    checker_line.fails(
        checks.ex01_cross_entropy,
        lambda z, y: losses.cross_entropy(z, y).float(),
        needles=("dtype changed",),
    )
    checker_line.fails(
        checks.ex01_cross_entropy,
        lambda z, y: losses.cross_entropy(activations.softmax(z, 1), y),
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


# ---- issue 16: the planted answers of each kind (see course_lib/checks/_core.py)


def test_logsumexp_cross_entropy_is_right_at_1e4(checker_line) -> None:
    """Float32 has a grid spacing near 1e-3 at 1e4: the tolerance follows it (kind 5)."""
    line = checker_line.passes(
        checks.ex01_cross_entropy,
        lambda z, y: (torch.logsumexp(z, 1) - z.gather(1, y[:, None]).squeeze(1)).mean(),
    )
    assert "different scales" in line


def test_cross_entropy_rules_out_the_library_softmax(checker_line) -> None:
    checker_line.fails(
        checks.ex01_cross_entropy,
        lambda z, y: -torch.log_softmax(z, 1)[torch.arange(len(y)), y].mean(),
        needles=("your code called torch.log_softmax", "logsumexp is allowed"),
    )
    checker_line.fails(
        checks.ex01_cross_entropy,
        lambda z, y: torch.nn.functional.cross_entropy(z, y),
        needles=("your code called torch.nn.functional.cross_entropy",),
    )


def test_mse_error_must_name_both_shapes(checker_line) -> None:
    """The exercise asks for a ValueError naming both shapes (kind 3)."""

    def vague(p, t):
        if p.shape != t.shape:
            raise ValueError("shapes differ")
        return ((p - t) ** 2).mean()

    checker_line.fails(checks.ex01_mse, vague, needles=("does not mention '(4, 1)'", "both shapes"))

    def with_size(p, t):
        if p.shape != t.shape:
            raise ValueError(f"pred {p.shape} vs target {t.shape}")
        return ((p - t) ** 2).mean()

    checker_line.passes(checks.ex01_mse, with_size)


def test_mse_hint_does_not_give_the_answer(checker_line) -> None:
    """Issue 17: the general hint of ex01_mse names the steps, not the code."""

    def halves(p, t):
        if p.shape != t.shape:
            raise ValueError(f"{tuple(p.shape)} vs {tuple(t.shape)}")
        return ((p - t) ** 2).mean() / 2

    line = checker_line.fails(checks.ex01_mse, halves)
    assert "** 2).mean()" not in line and "residual, square, mean" in line


def test_untouched_predictions_give_nothing_away(checker_line) -> None:
    for check in (checks.ex01_article_mse, checks.ex01_article_cross_entropy):
        line = checker_line.not_done(check, None)
        assert "Hint" not in line and "[2, 3, 4" not in line and "prediction" in line


def test_mse_in_place_and_backward(checker_line) -> None:
    def in_place(p, t):
        if p.shape != t.shape:
            raise ValueError(f"{tuple(p.shape)} vs {tuple(t.shape)}")
        p -= t
        return (p**2).mean()

    checker_line.fails(checks.ex01_mse, in_place, needles=("changed its input `p` in place",))

    def detached(p, t):
        if p.shape != t.shape:
            raise ValueError(f"{tuple(p.shape)} vs {tuple(t.shape)}")
        return torch.tensor(((p - t) ** 2).mean().item(), dtype=p.dtype)

    checker_line.fails(checks.ex01_mse, detached, needles=("no gradient can flow",))


def test_bce_blames_log_sigmoid_only_when_the_result_is_not_finite(checker_line) -> None:
    """A finite wrong answer at logits of 100 gets the formula, not the overflow story (kind 5)."""

    def off(z, t):
        return (z.clamp(min=0) - z * t + torch.log1p(torch.exp(-z.abs()))).mean() * 1.01

    line = checker_line.fails(checks.ex01_bce_with_logits, off, needles=("loss = mean(",))
    assert "log(sigmoid" not in line
