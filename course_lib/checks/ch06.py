"""Checkers for workbook 06 (training in practice)."""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F

from ._core import CaseFailed, Check, checker

__all__ = [
    "ex06_batchnorm",
    "ex06_diagnose",
    "ex06_dropout",
    "ex06_early_stop",
    "ex06_kaiming",
    "ex06_split",
]


@checker
def ex06_split(c: Check, split_indices) -> str:
    """``split_indices(n, val_frac, test_frac, seed) -> (train_idx, val_idx, test_idx)``."""
    for n, vf, tf in [(100, 0.1, 0.2), (37, 0.25, 0.25), (10, 0.0, 0.3)]:
        case = f"n={n}, val_frac={vf}, test_frac={tf}"
        parts = c.call(split_indices, n, vf, tf, 0, case=case)
        c.expect(
            isinstance(parts, (tuple, list))
            and len(parts) == 3
            and all(isinstance(p, torch.Tensor) for p in parts),
            case=case,
            problem="expected three index tensors (train, val, test)",
            hint="return train_idx, val_idx, test_idx",
        )
        tr, va, te = (p.flatten().long() for p in parts)
        n_val, n_test = int(n * vf), int(n * tf)
        c.equal(
            (len(tr), len(va), len(te)),
            (n - n_val - n_test, n_val, n_test),
            case=case,
            hint="val gets int(n * val_frac), test int(n * test_frac), train the rest",
        )
        allidx = torch.cat([tr, va, te])
        c.expect(
            torch.equal(allidx.sort().values, torch.arange(n)),
            case=case,
            problem="the three parts overlap or miss some indices",
            hint="slice ONE permutation into three pieces; never draw the parts separately",
        )
        if n >= 37:
            for part, idx in (("training", tr), ("validation", va), ("test", te)):
                block = idx.sort().values
                c.expect(
                    len(idx) < 5 or int(block[-1] - block[0]) + 1 != len(idx),
                    case=case,
                    problem=f"the {part} indices are one unbroken block ({int(block[0])} to "
                    f"{int(block[-1])}): the data was not shuffled before it was cut",
                    hint="cut ONE torch.randperm(n, generator=...) into the three parts (sorted "
                    "files often group classes, so unshuffled parts see different data)",
                )
    again = c.call(split_indices, 100, 0.1, 0.2, 0, case="same seed twice")
    first = c.call(split_indices, 100, 0.1, 0.2, 0, case="same seed twice")
    c.expect(
        all(torch.equal(a, b) for a, b in zip(again, first)),
        case="same seed twice",
        problem="two calls with the same seed gave different splits",
        hint="make a torch.Generator().manual_seed(seed) and pass it to torch.randperm",
    )
    other = c.call(split_indices, 100, 0.1, 0.2, 1, case="another seed")
    c.expect(
        not torch.equal(other[0], first[0]),
        case="another seed",
        problem="seed 1 gave the same split as seed 0",
        hint="use the seed argument",
    )


_FILL = 7.0  # what the checker puts in w first, so it can tell whether the learner filled it


@checker
def ex06_kaiming(c: Check, kaiming_normal_) -> str:
    """``kaiming_normal_(weight)`` for a ReLU layer: fills ``(fan_out, fan_in)`` in place, std sqrt(2/fan_in)."""
    for fan_out, fan_in in [(256, 1024), (2048, 128), (512, 512)]:
        case = f"weight of shape ({fan_out}, {fan_in})"
        w = torch.full((fan_out, fan_in), _FILL)
        torch.manual_seed(0)
        got = c.call(kaiming_normal_, w, case=case, inplace_ok=True)  # filling w is the exercise
        filled = not bool((w == _FILL).all())
        if got is None and filled:
            c.expect(
                False,
                case=case,
                problem="you filled w in place but returned None",
                hint="return w as well (w.normal_(...) returns w)",
            )
        same = got is w or (
            isinstance(got, torch.Tensor)
            and got.shape == w.shape
            and got.data_ptr() == w.data_ptr()  # w.data, w.detach(): the same memory
        )
        c.expect(
            same or filled,
            case=case,
            problem="w was left as it was: it was not filled in place",
            hint="fill w itself with w.normal_(0, std) and return w",
        )
        c.expect(
            same,
            case=case,
            problem="you filled w but returned a different tensor",
            hint="return w itself, not a copy or a new tensor",
        )
        std = w.std().item()
        want = math.sqrt(2 / fan_in)
        c.expect(
            abs(w.mean().item()) < 0.05 * want,
            case=case,
            problem=f"mean {w.mean().item():.3g}, expected about 0",
            hint="draw from a normal with mean 0",
        )
        tail = (w.abs() > 2 * std).float().mean().item()  # a normal puts 4.55% beyond 2 std
        c.expect(
            0.04 < tail < 0.052,
            case=case,
            problem=f"{tail:.2%} of the weights lie beyond 2 standard deviations from 0, "
            "a normal distribution puts about 4.6% there",
            hint="kaiming_normal_ draws from a normal distribution, not uniform (or truncated): "
            "use w.normal_(0, std)",
        )
        if abs(std - want) > 0.03 * want:
            hints = {  # each needs the std within 1% of its value (sampling noise is ~0.15%)
                "xavier": (
                    math.sqrt(2 / (fan_in + fan_out)),
                    "that is Xavier/Glorot (2/(fan_in+fan_out)); for ReLU use 2/fan_in",
                ),
                "lecun": (
                    math.sqrt(1 / fan_in),
                    "that is 1/fan_in (LeCun); ReLU zeroes half the units, so use 2/fan_in",
                ),
                "fan_out": (
                    math.sqrt(2 / fan_out),
                    "you used fan_out: for nn.Linear weights (out, in) fan_in is weight.shape[1]",
                ),
                "variance": (
                    2 / fan_in,
                    "2/fan_in is the variance; the standard deviation is its square root",
                ),
            }
            hint = next(
                (h for v, h in hints.values() if abs(std - v) < 0.01 * v), "std = sqrt(2 / fan_in)"
            )
            c.expect(
                False,
                case=case,
                problem=f"standard deviation {std:.4g}, expected {want:.4g}",
                hint=hint,
            )
    return "3 shapes, mean and standard deviation"


def _call_on_copy(c: Check, fn, x: torch.Tensor, *args, case: str):
    """Call ``fn(copy of x, *args)``; ``Check.call`` fails it if it changed its inputs in place."""
    return c.call(fn, x.clone(), *args, case=case)


@checker
def ex06_dropout(c: Check, dropout) -> str:
    """``dropout(x, p, training)``: inverted dropout (scale kept units by 1/(1-p)); identity in eval mode."""
    x = torch.ones(200_000)
    case = "eval mode (training=False), p=0.5"
    out = _call_on_copy(c, dropout, x, 0.5, False, case=case)
    c.close(
        out,
        x,
        case=case,
        hint="dropout is off in eval mode: when training is False return x unchanged",
    )
    case = "training, p=0.5, a vector of ones"
    torch.manual_seed(0)
    out = _call_on_copy(c, dropout, x, 0.5, True, case=case)
    c.expect(
        isinstance(out, torch.Tensor) and out.shape == x.shape,
        case=case,
        problem="expected a tensor of the same shape as x",
    )
    zeros = (out == 0).float().mean().item()
    c.expect(
        abs(zeros - 0.5) < 0.01,
        case=case,
        problem=f"{zeros:.1%} of the units were dropped, expected about 50%",
        hint="keep a unit where rand >= p",
    )
    kept = out[out != 0]
    v = kept[0].item() if kept.numel() else float("nan")
    hint = "inverted dropout divides the kept units by (1 - p), so the expected value stays x"
    if abs(v - 1.0) < 1e-6:
        hint = (
            "you forgot to rescale: divide the kept units by (1 - p), or the next layer sees "
            "smaller inputs in training than at test time"
        )
    c.expect(
        kept.numel() > 0 and torch.allclose(kept, torch.full_like(kept, 2.0)),
        case=case,
        problem=f"kept units equal {v:.4g}, expected 2.0",
        hint=hint,
    )
    case = "training, p=0.5, called twice on the same x"
    again = _call_on_copy(c, dropout, x, 0.5, True, case=case)
    c.expect(
        isinstance(again, torch.Tensor)
        and again.shape == out.shape
        and not torch.equal(again == 0, out == 0),
        case=case,
        problem="both calls dropped exactly the same units",
        hint="don't reseed inside dropout: each call must draw a new mask",
    )
    case = "training, p=0.2: kept units scaled by 1/(1-p) = 1.25"
    torch.manual_seed(1)
    out = _call_on_copy(c, dropout, x, 0.2, True, case=case)
    kept = out[out != 0]
    v = kept[0].item() if kept.numel() else float("nan")
    c.expect(
        kept.numel() > 0 and torch.allclose(kept, torch.full_like(kept, 1.25)),
        case=case,
        problem=f"kept units equal {v:.4g}, expected 1.25",
        hint="divide by (1 - p), not by p"
        if abs(v - 5.0) < 1e-4
        else "divide the kept units by (1 - p)",
    )
    c.expect(
        abs(out.mean().item() - 1.0) < 0.01,
        case=case,
        problem=f"mean {out.mean().item():.3f}, expected about 1.0",
    )
    case = "training, p=1.0 (drop everything)"
    out = _call_on_copy(c, dropout, torch.ones(10), 1.0, True, case=case)
    c.close(
        out,
        torch.zeros(10),
        case=case,
        hint="with p=1 every unit is dropped; avoid dividing by 1 - p = 0 (nan)",
    )
    case = "training, p=0.0"
    y = torch.randn(50)
    c.close(
        _call_on_copy(c, dropout, y, 0.0, True, case=case),
        y,
        case=case,
        hint="p=0 keeps everything unchanged",
    )
    case = "float64 input"
    out = _call_on_copy(c, dropout, torch.ones(100, dtype=torch.float64), 0.5, True, case=case)
    c.expect(
        isinstance(out, torch.Tensor),
        case=case,
        problem=f"expected a tensor, got {type(out).__name__}",
    )
    c.equal(out.dtype, torch.float64, case=case, hint="keep the input's dtype (torch.rand_like(x))")
    c.gradients(dropout, None, torch.randn(50), 0.5, True, case="training, p=0.5")
    return "7 cases: eval mode, rescaling, a new mask each call, p in {0, 0.2, 0.5, 1}, float64"


def _batchnorm_hint(got: torch.Tensor, x: torch.Tensor, eps: float) -> str:
    """The usual BatchNorm mistake that ``got`` matches (before gamma and beta), if any."""
    d = x.shape[1]
    m = x.mean(0)
    var = x.var(0, unbiased=False)
    variants = [
        (
            (x - m) / torch.sqrt(x.var(0, unbiased=True) + eps),
            "use the biased variance (unbiased=False, divide by N), as BatchNorm does in training",
        ),
        (
            F.layer_norm(x, (d,), eps=eps),
            "you normalized each row (that is LayerNorm); BatchNorm normalizes each column over dim=0",
        ),
        (
            (x - m) / (var.sqrt() + eps),
            "eps goes inside the square root: divide by sqrt(var + eps), not by std + eps",
        ),
        (
            (x - m) / torch.sqrt(var + 1e-5),
            "use the eps argument, not a fixed 1e-5",
        ),
        (
            (x - m) / var.sqrt(),
            "add eps inside the square root, sqrt(var + eps): without it a constant feature "
            "divides 0 by 0",
        ),
    ]
    return next(
        (h for v, h in variants if torch.allclose(got, v, atol=1e-4, equal_nan=True)),
        "normalize each feature (column) with the mean and biased variance over the batch (dim=0)",
    )


@checker
def ex06_batchnorm(c: Check, batchnorm) -> str:
    """``batchnorm(x, gamma, beta, eps)``: training-mode BatchNorm of ``(N, D)``, batch statistics per feature."""
    torch.manual_seed(0)
    cases = [
        ("x of shape (32, 5)", torch.randn(32, 5) * 3 + 2, 1e-5),
        (
            "x of shape (4, 3) with a constant feature",
            torch.cat([torch.randn(4, 2), torch.full((4, 1), 7.0)], 1),
            1e-5,
        ),
        (
            "x of shape (64, 3) whose last feature has a standard deviation of 0.001",
            torch.cat([torch.randn(64, 2), torch.randn(64, 1) * 1e-3], 1),
            1e-5,
        ),
        ("x of shape (8, 6) with eps=0.1", torch.randn(8, 6), 0.1),
        ("float64 x of shape (16, 8)", torch.randn(16, 8, dtype=torch.float64) * 10, 1e-5),
    ]
    for case, x, eps in cases:
        d = x.shape[1]
        gamma = torch.linspace(0.5, 2.0, d, dtype=x.dtype)
        beta = torch.linspace(-1, 1, d, dtype=x.dtype)
        want = F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
        got = _call_on_copy(c, batchnorm, x, gamma.clone(), beta.clone(), eps, case=case)
        if isinstance(got, torch.Tensor) and got.shape == want.shape:
            c.equal(got.dtype, x.dtype, case=case, hint="keep the input dtype")
        hint = "normalize each feature (column) with the mean and biased variance over the batch (dim=0)"
        if (
            isinstance(got, torch.Tensor)
            and got.shape == want.shape
            and not torch.allclose(got, want, atol=1e-4)
        ):
            hint = _batchnorm_hint((got - beta) / gamma, x, eps)
        c.close(got, want, case=case, hint=hint, atol=1e-4)
        if eps != 1e-5 or x.dtype == torch.float64:  # two cases are enough for the gradients
            c.gradients(
                batchnorm,
                lambda x_, g_, b_, e_: F.batch_norm(x_, None, None, g_, b_, training=True, eps=e_),
                x,
                gamma,
                beta,
                eps,
                case=case,
                hint="the values are right but their gradient is not: compute mean and variance "
                "with torch operations on x (no .detach() or .item())",
            )
    return "5 cases including a constant feature, a tiny variance, eps=0.1 and float64"


def _early_stop_variant(
    losses: list[float],
    patience: int,
    *,
    strict: bool = True,
    reset: bool = True,
    vs_previous: bool = False,
) -> tuple[int, int]:
    """Early stopping as specified (default) or with one of the usual mistakes."""
    best, best_i, bad, prev = math.inf, -1, 0, math.inf
    for i, v in enumerate(losses):
        better = v < best if strict else v <= best
        if better:
            best, best_i = v, i
        improved = v < prev if vs_previous else better
        if improved and reset:
            bad = 0
        elif not improved:
            bad += 1
        prev = v
        if bad >= patience:
            return i, best_i
    return len(losses) - 1, best_i


def _ref_early_stop(losses: list[float], patience: int) -> tuple[int, int]:
    return _early_stop_variant(losses, patience)


_EARLY_STOP_MISTAKES = [  # (variant, compare best epochs too, hint)
    (
        {"strict": False},
        True,
        "an equal loss is not an improvement: keep the FIRST best epoch (use <, not <=)",
    ),
    (
        {"reset": False},
        False,
        "reset the count of bad epochs to 0 after each improvement: patience counts bad epochs "
        "in a row",
    ),
    (
        {"vs_previous": True},
        False,
        "compare with the best loss so far, not the previous epoch",
    ),
]


@checker
def ex06_early_stop(c: Check, early_stop) -> str:
    """``early_stop(val_losses, patience) -> (stop_epoch, best_epoch)`` (0-based epochs)."""
    cases = [
        ([1.0, 0.8, 0.7, 0.72, 0.71, 0.75, 0.6], 3),
        ([1.0, 0.8, 0.7, 0.72, 0.71, 0.75, 0.6], 4),
        ([1.0, 0.9, 0.8, 0.7], 2),
        ([0.5, 0.5, 0.5, 0.5], 2),
        ([0.9, 1.0, 0.8, 0.85, 0.86], 1),
        ([1.0, 0.9, 0.95, 0.8, 0.85, 0.86, 0.87], 3),
    ]
    # Run every case first: a usual mistake is named only if it explains ALL the answers.
    answers: list[tuple[int, int] | None] = []
    error: CaseFailed | None = None
    for losses, patience in cases:
        case = f"val_losses={losses}, patience={patience}"
        try:
            got = c.call(early_stop, list(losses), patience, case=case)
        except CaseFailed as e:
            error = e
            break
        try:
            answers.append((int(got[0]), int(got[1])) if len(got) == 2 else None)
        except (TypeError, ValueError, IndexError, KeyError):
            answers.append(None)
    mistake = next(
        (
            hint
            for variant, with_best, hint in _EARLY_STOP_MISTAKES
            if all(
                a is not None
                and (
                    a == _early_stop_variant(ls, p, **variant)
                    if with_best
                    else a[0] == _early_stop_variant(ls, p, **variant)[0]
                )
                for a, (ls, p) in zip(answers, cases)
            )
        ),
        None,
    )
    for (losses, patience), got in zip(cases, answers):
        case = f"val_losses={losses}, patience={patience}"
        want = _ref_early_stop(losses, patience)
        c.expect(
            got is not None,
            case=case,
            problem="expected a pair of epoch numbers",
            hint="return stop_epoch, best_epoch",
        )
        hint = "count epochs WITHOUT a strict improvement since the best one; stop when that count reaches patience"
        if mistake is not None:
            hint = mistake
        elif got[0] == want[0] and got[1] != want[1]:
            hint = "best_epoch is the FIRST epoch with the lowest loss up to the stop epoch"
        elif abs(got[0] - want[0]) == 1:
            hint = "off by one: stop at the epoch where the count of bad epochs reaches patience"
        elif want[0] == len(losses) - 1 and got[0] != want[0]:
            hint = "if patience never runs out, training stops at the last epoch"
        c.equal(got, want, case=case, hint=hint)
    if error is not None:
        raise error
    return "6 loss sequences"


def _fit_word(answer: object) -> str:
    """'Over-fitting', 'overfits', 'Underfitted ' -> 'overfit' / 'underfit'; other words lowercased."""
    word = re.sub(r"[\s_-]+", "", str(answer).lower())
    m = re.fullmatch(r"(over|under)fit(s|ting|ted)?", word)
    return f"{m.group(1)}fit" if m else word


@checker
def ex06_diagnose(c: Check, answer) -> str:
    """Value answer: dict run -> "underfit" / "overfit" / "good"."""
    c.answered(answer)
    c.expect(
        isinstance(answer, dict) and set(answer) == {"A", "B", "C"},
        case="your answer",
        problem=f"expected a dict with keys A, B, C, got {answer!r}",
    )
    want = {"A": "overfit", "B": "underfit", "C": "good"}
    hints = {
        "A": "train loss keeps falling while validation loss rises after a minimum: the model memorizes the training set",
        "B": "both losses stay high and close together: the model is too small (or trained too little) to fit even the training set",
        "C": "both losses are low and close: this one generalizes",
    }
    for k in "ABC":
        got = _fit_word(answer[k])
        c.expect(
            got in {"overfit", "underfit", "good"},
            case=f"run {k}",
            problem=f"{answer[k]!r} is not one of the three answers"[:120],
            hint='answer with one of the words "underfit", "overfit", "good"',
        )
        c.equal(got, want[k], case=f"run {k}", hint=hints[k])
    return "3 runs"
