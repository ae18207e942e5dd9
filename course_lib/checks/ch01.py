"""Checkers for workbook 01: loss functions (MSE, Huber, cross-entropy, BCE with logits)."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import activations, losses
from ._core import CaseFailed, Check, checker, float_tolerance

__all__ = [
    "ex01_article_mse",
    "ex01_mse",
    "ex01_huber",
    "ex01_cross_entropy",
    "ex01_article_cross_entropy",
    "ex01_bce_with_logits",
]


def _diagnose(
    c: Check,
    got: Any,
    want: torch.Tensor,
    *,
    case: str,
    hint: str,
    wrongs: list[tuple[torch.Tensor, str, str]] = (),
    atol: float = 1e-6,
    rtol: float = 1e-5,
    scale: float = 0.0,
) -> None:
    """Compare ``got`` with ``want``; first test it against known wrong answers.

    ``wrongs`` holds ``(wrong_value, what_it_is, hint)``: if ``got`` equals a wrong value (and that
    value differs from ``want``) the case fails with "your result equals <what_it_is>" and its hint.
    ``scale`` is the size of the inputs (the tolerance follows float rounding there).
    """
    atol = max(atol, float_tolerance(want.dtype, scale))
    if isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(want.shape):
        g = got.detach().to("cpu", torch.float64)
        w = want.detach().to("cpu", torch.float64)
        for wrong, what, wrong_hint in wrongs:
            v = torch.as_tensor(wrong).detach().to("cpu", torch.float64).reshape(w.shape)
            same_as_wrong = torch.allclose(g, v, atol=atol, rtol=rtol, equal_nan=True)
            if same_as_wrong and not torch.allclose(v, w, atol=atol, rtol=rtol, equal_nan=True):
                raise CaseFailed(case, f"your result equals {what}", wrong_hint)
    c.close(got, want, case=case, hint=hint, atol=atol, rtol=rtol)
    c.expect(
        got.dtype == want.dtype,
        case=case,
        problem=f"the dtype changed from {want.dtype} to {got.dtype}",
        hint="keep the input dtype: build constants with torch.ones_like(x) or plain Python "
        "numbers, not torch.tensor(...) (float32 by default)",
    )


# --------------------------------------------------------------------------- MSE


@checker
def ex01_article_mse(c: Check, answer: Any) -> str:
    """Your MSE of y_hat = 1 + x on x = [1..5], y = [2, 4, 5, 4, 5]: a number."""
    case = "MSE of the article's linear model"
    known = {
        11 / 5: "11/5 is the article's value, and it is wrong: recompute the residuals y - y_hat "
        "one by one",
        4.0: "4 is the SUM of squared residuals; the mean divides by the 5 points",
        0.0: "the residuals sum to 0, but their squares do not",
        0.4: "you divided by 2N; MSE is the plain mean (some texts add 1/2 for a nicer gradient)",
        math.sqrt(0.8): "that is the root of the MSE (RMSE); leave out the square root",
    }
    c.number(
        answer,
        0.8,
        case=case,
        known_wrong=known,
        hint="y_hat = [2, 3, 4, 5, 6]; residuals y - y_hat = [0, 1, 1, -1, -1]; square, then average",
    )
    return "residuals [0, 1, 1, -1, -1] give 4/5, not the article's 11/5"


@checker
def ex01_mse(c: Check, fn: Any) -> str:
    """``fn(pred, target) -> ()`` mean squared error; a shape mismatch raises ValueError."""
    g = torch.Generator().manual_seed(1)
    x = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    cases = {
        "the article's 5 points": (1 + x, torch.tensor([2.0, 4.0, 5.0, 4.0, 5.0])),
        "a (3, 4) batch": (torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)),
        "float64 values far from 0": (
            100 + torch.randn(7, generator=g, dtype=torch.float64),
            torch.randn(7, generator=g, dtype=torch.float64),
        ),
    }
    for case, (p, t) in cases.items():
        got = c.call(fn, p.clone(), t.clone(), case=case)
        diff = p - t
        _diagnose(
            c,
            got,
            losses.mse(p, t),
            case=case,
            hint="compare your steps with the definition: residual, square, mean",
            wrongs=[
                ((diff**2).sum(), "the SUM of squares", "use .mean() instead of .sum()"),
                (diff.abs().mean(), "the mean ABSOLUTE error", "square the residuals"),
                (diff.mean() ** 2, "the square of the mean residual", "square first, then average"),
                ((diff**2).mean().sqrt(), "the root mean square", "leave out the square root"),
            ],
        )
    for case, (p, t) in cases.items():
        c.gradients(fn, losses.mse, p, t, case=case)
    c.raises(
        fn,
        torch.zeros(4, 1),
        torch.zeros(4),
        exc=ValueError,
        case="pred of shape (4, 1) with target of shape (4,)",
        mentions=[("(4, 1)", "[4, 1]"), ("(4,)", "[4]")],
        hint="check `pred.shape != target.shape` first and raise ValueError naming both shapes, "
        "e.g. f'pred {tuple(pred.shape)} vs target {tuple(target.shape)}': broadcasting would "
        "quietly turn (4, 1) - (4,) into a (4, 4) table",
    )
    return "the article's example, a batch, float64, gradients, and a shape mismatch"


# --------------------------------------------------------------------------- Huber


def _huber_variants(r: torch.Tensor, delta: float) -> list[tuple[torch.Tensor, str, str]]:
    a = r.abs()
    quad, lin = 0.5 * a**2, delta * (a - 0.5 * delta)
    inside = a <= delta
    return [
        (
            torch.where(inside, lin, quad).mean(),
            "Huber with the two branches swapped",
            "the quadratic piece 0.5 * r**2 belongs INSIDE |r| <= delta (small residuals), "
            "the linear piece outside",
        ),
        (
            torch.where(a <= 1.0, 0.5 * a**2, a - 0.5).mean(),
            "Huber with delta = 1 whatever delta you are given",
            "use the `delta` argument in both the condition and the linear piece",
        ),
        (
            torch.where(inside, a**2, lin).mean(),
            "Huber without the 1/2 in the quadratic piece",
            "inside |r| <= delta the loss is 0.5 * r**2, so the pieces meet at |r| = delta",
        ),
        (
            torch.where(inside, quad, delta * a).mean(),
            "Huber without the - delta/2 in the linear piece",
            "outside, the loss is delta * (|r| - delta / 2); without the shift it jumps at |r| = delta",
        ),
        (
            torch.where(inside, quad, lin).sum(),
            "the SUM over points",
            "use .mean() instead of .sum()",
        ),
        (
            torch.where(r <= delta, quad, lin).mean(),
            "Huber that tests r <= delta instead of |r| <= delta",
            "large NEGATIVE residuals are outliers too: compare the absolute value |r| with delta",
        ),
    ]


@checker
def ex01_huber(c: Check, fn: Any) -> str:
    """``fn(pred, target, delta=1.0) -> ()`` Huber loss with mean reduction."""
    g = torch.Generator().manual_seed(2)
    cases = {
        "residuals on both sides of delta = 1": (
            torch.tensor([0.2, -0.5, 3.0, -4.0, 1.5]),
            torch.zeros(5),
            1.0,
        ),
        "the same residuals with delta = 2": (
            torch.tensor([0.2, -0.5, 3.0, -4.0, 1.5]),
            torch.zeros(5),
            2.0,
        ),
        "a random (4, 3) batch, delta = 0.5, float64": (
            torch.randn(4, 3, generator=g, dtype=torch.float64) * 2,
            torch.randn(4, 3, generator=g, dtype=torch.float64),
            0.5,
        ),
    }
    for case, (p, t, delta) in cases.items():
        got = c.call(fn, p.clone(), t.clone(), delta, case=case)
        _diagnose(
            c,
            got,
            losses.huber(p, t, delta=delta),
            case=case,
            hint="r = pred - target; 0.5 * r**2 where |r| <= delta, delta * (|r| - delta / 2) "
            "elsewhere (torch.where), then the mean",
            wrongs=_huber_variants(p - t, delta),
        )
    for case, (p, t, delta) in cases.items():
        c.gradients(fn, lambda a, b, d: losses.huber(a, b, delta=d), p, t, delta, case=case)
    return "both branches, two deltas, a float64 batch, gradients"


# --------------------------------------------------------------------------- cross-entropy


def _ce_variants(z: torch.Tensor, y: torch.Tensor) -> list[tuple[torch.Tensor, str, str]]:
    n = z.shape[0]
    rows = torch.arange(n)
    logp = activations.log_softmax(z, dim=1)
    with torch.no_grad():
        probs = activations.softmax(z, dim=1)
        as_probs = -torch.log(z[rows, y]).mean()  # nan where a picked logit is negative
    out = [
        (
            -logp[rows, y].sum(),
            "the SUM over the batch",
            "average over the N examples: .mean(), not .sum()",
        ),
        (
            logp[rows, y].mean(),
            "minus the cross-entropy (a negative number)",
            "cross-entropy is -log p(correct class): put the minus sign in front",
        ),
        (
            losses.cross_entropy(probs, y),
            "the cross-entropy of softmax(logits), i.e. softmax applied twice",
            "your function receives raw logits: do not apply softmax before log_softmax "
            "(the log-sum-exp already normalizes)",
        ),
        (
            -logp.mean(dim=1).mean(),
            "the mean log-probability of ALL classes, not of the correct one",
            "pick the correct class of each row: logp[torch.arange(N), target]",
        ),
    ]
    out.append(
        (
            as_probs,
            "-log(logits[target]) (nan when a logit is negative): logits used as probabilities",
            "the inputs are logits, not probabilities: take log_softmax of each row first",
        )
    )
    return out


_SOFTMAX_TOOLS = (
    "torch.softmax",
    "torch.log_softmax",
    "torch.special.softmax",
    "torch.special.log_softmax",
    "torch.Tensor.softmax",
    "torch.Tensor.log_softmax",
    "torch.nn.functional.softmax",
    "torch.nn.functional.log_softmax",
    "torch.nn.functional.cross_entropy",
    "torch.nn.functional.nll_loss",
)
_CE_TOOLS_HINT = (
    "the exercise writes the log-softmax itself, so torch.softmax, torch.log_softmax and "
    "F.cross_entropy are switched off while it is checked: subtract each row's max and use the "
    "log-sum-exp (torch.logsumexp is allowed)"
)


@checker
def ex01_cross_entropy(c: Check, fn: Any) -> str:
    """``fn(logits (N, C), target (N,) int64) -> ()`` softmax cross-entropy, finite for huge logits."""
    g = torch.Generator().manual_seed(3)
    cases = {
        "3 examples, 4 classes": (
            torch.tensor([[2.0, 1.0, 0.1, -1.0], [0.5, 2.5, 0.3, 0.0], [1.0, 1.0, 1.0, 1.0]]),
            torch.tensor([0, 1, 3]),
        ),
        "positive logits that look like probabilities": (
            torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]),
            torch.tensor([0, 2]),
        ),
        "a (6, 5) batch in float64": (
            torch.randn(6, 5, generator=g, dtype=torch.float64) * 3,
            torch.randint(0, 5, (6,), generator=g),
        ),
        "one example": (torch.tensor([[0.0, 3.0]]), torch.tensor([1])),
        "logits of +-1e4": (
            torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [5.0, 1e4, -1e4]]),
            torch.tensor([0, 2, 0]),
        ),
        "rows on different scales (max 1e4 in one, -9999 in the other)": (
            torch.tensor([[1e4, 0.0, -1e4], [-1e4, -9999.0, -1e4]]),
            torch.tensor([0, 1]),
        ),
    }
    for case, (z, y) in cases.items():
        with c.forbidding(_SOFTMAX_TOOLS, _CE_TOOLS_HINT):
            got = c.call(fn, z.clone(), y.clone(), case=case)
        huge = z.abs().max() > 100
        finite = isinstance(got, torch.Tensor) and bool(torch.isfinite(got.detach()).all())
        hint = (
            "each row needs its own max: m = z.max(dim=1, keepdim=True).values. Subtracting the "
            "batch's largest logit (1e4) from the second row leaves exp(-2e4) = 0 everywhere, "
            "and log(0) = -inf"
            if case.startswith("rows on different scales") and not finite
            else "take log_softmax(z) = (z - m) - log(sum(exp(z - m))) with m each row's max, "
            "then pick the target entries and average"
            if huge and finite
            else "log(softmax(z)) underflows: the probability of a class 1e4 behind is 0 and "
            "log(0) = -inf. Take the log analytically: log_softmax(z) = (z - m) - "
            "log(sum(exp(z - m))), then pick the target entries"
            if huge and isinstance(got, torch.Tensor) and bool(torch.isinf(got).any())
            else "exp(1e4) is inf in floating point, so softmax gives inf/inf = nan: subtract each "
            "row's max before exp, i.e. log_softmax(z) = z - m - log(sum(exp(z - m)))"
            if huge
            else "loss = -log_softmax(logits)[row, target] averaged over rows; log_softmax(z) = "
            "z - logsumexp(z) along dim 1"
        )
        _diagnose(
            c,
            got,
            losses.cross_entropy(z, y),
            case=case,
            hint=hint,
            wrongs=[] if huge else _ce_variants(z, y),
            scale=float(z.abs().max()),
        )
    for case, (z, y) in cases.items():
        with c.forbidding(_SOFTMAX_TOOLS, _CE_TOOLS_HINT):
            c.gradients(fn, losses.cross_entropy, z, y, case=case, scale=float(z.abs().max()))
    return "6 cases including logits of +-1e4 and rows on different scales, with gradients"


@checker
def ex01_article_cross_entropy(c: Check, answer: Any) -> str:
    """Your value of the article's cross-entropy example: a number (natural log)."""
    case = "the article's cross-entropy example"
    value = c.number(answer, case=case, hint="set `answer = ...` to the number you computed")
    theta = torch.tensor([0.2, 0.3, 0.1, 0.2, 0.2], dtype=torch.float64)
    x = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    y = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0], dtype=torch.float64)
    logp = activations.log_softmax(theta * x)
    want = float(-(y * logp).sum() / 5)
    if math.isclose(value, -0.1315, rel_tol=2e-2):
        raise CaseFailed(
            case,
            f"got {value:g}, the article's value",
            "the article dropped the logarithm mid-way: the loss is -(1/5) sum y_i log p_i",
        )
    c.expect(
        value >= 0,
        case=case,
        problem=f"got {value:g}, a negative number",
        hint="each term -y_i log p_i is >= 0 because p_i <= 1, so the average cannot be negative",
    )
    known = {
        5 * want: "that is the sum over the 5 entries; the example averages over 5",
        want / math.log(2): "that uses log base 2; use the natural log (torch.log)",
        want / math.log(10): "that uses log base 10; use the natural log (torch.log)",
        float(-(y * torch.log(theta)).sum() / 5): "softmax(theta * x) is the probability, not "
        "theta itself: multiply elementwise by x, then softmax",
    }
    c.number(
        value,
        want,
        case=case,
        known_wrong=known,
        rel=5e-4,
        hint="p = softmax(theta * x) over the 5 entries; loss = -(1/5) * sum(y * log p)",
    )
    return f"{want:.4f}, positive as every cross-entropy is"


# --------------------------------------------------------------------------- BCE with logits


@checker
def ex01_bce_with_logits(c: Check, fn: Any) -> str:
    """``fn(logits, target) -> ()`` binary cross-entropy from logits, finite for logits of +-1e4."""
    g = torch.Generator().manual_seed(4)
    cases = {
        "4 logits with hard labels": (
            torch.tensor([2.0, -1.0, 0.5, -3.0]),
            torch.tensor([1.0, 0.0, 0.0, 1.0]),
        ),
        "soft labels in float64, shape (3, 2)": (
            torch.randn(3, 2, generator=g, dtype=torch.float64) * 3,
            torch.rand(3, 2, generator=g, dtype=torch.float64),
        ),
        "logits of +-100": (torch.tensor([100.0, -100.0, 100.0]), torch.tensor([0.0, 1.0, 1.0])),
        "logits of +-1e4": (torch.tensor([1e4, -1e4, -1e4]), torch.tensor([1.0, 1.0, 0.0])),
    }
    for case, (z, t) in cases.items():
        got = c.call(fn, z.clone(), t.clone(), case=case)
        huge = z.abs().max() > 50
        want = losses.binary_cross_entropy_with_logits(z, t)
        per = z.clamp(min=0) - z * t + torch.log1p(torch.exp(-z.abs()))
        hint = (
            "sigmoid(-100) rounds to 0 in float32 and log(0) = -inf: never take log(sigmoid(z)); "
            "use max(z, 0) - z * t + log1p(exp(-|z|)), which only exponentiates -|z| <= 0"
            if huge
            and not (isinstance(got, torch.Tensor) and bool(torch.isfinite(got.detach()).all()))
            else "loss = mean(max(z, 0) - z * t + log1p(exp(-|z|)))"
        )
        _diagnose(
            c,
            got,
            want,
            case=case,
            hint=hint,
            scale=float(z.abs().max()),
            wrongs=[
                (per.sum(), "the SUM over the elements", "use .mean() instead of .sum()"),
                (-per.mean(), "minus the loss", "the loss is positive: check your signs"),
                (
                    (z.clamp(min=0) + z * t + torch.log1p(torch.exp(-z.abs()))).mean(),
                    "the formula with + z * t",
                    "the term is - z * t: the loss falls as the logit agrees with the label",
                ),
            ],
        )
    for case, (z, t) in cases.items():
        c.gradients(fn, losses.binary_cross_entropy_with_logits, z, t, case=case)
    return "hard and soft labels, float64, logits of +-100 and +-1e4, gradients"
