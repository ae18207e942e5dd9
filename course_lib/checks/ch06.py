"""Checkers for workbook 06 (training in practice)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._core import Check, checker

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


@checker
def ex06_kaiming(c: Check, kaiming_normal_) -> str:
    """``kaiming_normal_(weight)`` for a ReLU layer: fills ``(fan_out, fan_in)`` in place, std sqrt(2/fan_in)."""
    for fan_out, fan_in in [(256, 1024), (2048, 128), (512, 512)]:
        case = f"weight of shape ({fan_out}, {fan_in})"
        w = torch.empty(fan_out, fan_in)
        torch.manual_seed(0)
        got = c.call(kaiming_normal_, w, case=case)
        c.expect(
            got is w,
            case=case,
            problem="did not return the same tensor (fill it in place)",
            hint="use w.normal_(0, std) and return w",
        )
        std = w.std().item()
        want = math.sqrt(2 / fan_in)
        c.expect(
            abs(w.mean().item()) < 0.05 * want,
            case=case,
            problem=f"mean {w.mean().item():.3g}, expected about 0",
            hint="draw from a normal with mean 0",
        )
        if abs(std - want) > 0.03 * want:
            hints = {
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
                (h for v, h in hints.values() if abs(std - v) < 0.03 * v), "std = sqrt(2 / fan_in)"
            )
            c.expect(
                False,
                case=case,
                problem=f"standard deviation {std:.4g}, expected {want:.4g}",
                hint=hint,
            )
    return "3 shapes, mean and standard deviation"


@checker
def ex06_dropout(c: Check, dropout) -> str:
    """``dropout(x, p, training)``: inverted dropout (scale kept units by 1/(1-p)); identity in eval mode."""
    x = torch.ones(200_000)
    case = "eval mode (training=False), p=0.5"
    out = c.call(dropout, x, 0.5, False, case=case)
    c.close(
        out,
        x,
        case=case,
        hint="dropout is off in eval mode: when training is False return x unchanged",
    )
    case = "training, p=0.5, a vector of ones"
    torch.manual_seed(0)
    out = c.call(dropout, x, 0.5, True, case=case)
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
    case = "training, p=0.2: kept units scaled by 1/(1-p) = 1.25"
    torch.manual_seed(1)
    out = c.call(dropout, x, 0.2, True, case=case)
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
    out = c.call(dropout, torch.ones(10), 1.0, True, case=case)
    c.close(
        out,
        torch.zeros(10),
        case=case,
        hint="with p=1 every unit is dropped; avoid dividing by 1 - p = 0 (nan)",
    )
    case = "training, p=0.0"
    y = torch.randn(50)
    c.close(
        c.call(dropout, y, 0.0, True, case=case),
        y,
        case=case,
        hint="p=0 keeps everything unchanged",
    )
    case = "float64 input"
    out = c.call(dropout, torch.ones(100, dtype=torch.float64), 0.5, True, case=case)
    c.equal(out.dtype, torch.float64, case=case, hint="keep the input's dtype (torch.rand_like(x))")
    return "6 cases: eval mode, rescaling, p in {0, 0.2, 0.5, 1}, float64"


@checker
def ex06_batchnorm(c: Check, batchnorm) -> str:
    """``batchnorm(x, gamma, beta, eps)``: training-mode BatchNorm of ``(N, D)``, batch statistics per feature."""
    torch.manual_seed(0)
    cases = [
        ("x of shape (32, 5)", torch.randn(32, 5) * 3 + 2),
        (
            "x of shape (4, 3) with a constant feature",
            torch.cat([torch.randn(4, 2), torch.full((4, 1), 7.0)], 1),
        ),
        ("float64 x of shape (16, 8)", torch.randn(16, 8, dtype=torch.float64) * 10),
    ]
    for case, x in cases:
        d = x.shape[1]
        gamma = torch.linspace(0.5, 2.0, d, dtype=x.dtype)
        beta = torch.linspace(-1, 1, d, dtype=x.dtype)
        got = c.call(batchnorm, x, gamma, beta, 1e-5, case=case)
        want = F.batch_norm(x, None, None, gamma, beta, training=True, eps=1e-5)
        hint = "normalize each feature (column) with the mean and biased variance over the batch (dim=0)"
        if (
            isinstance(got, torch.Tensor)
            and got.shape == want.shape
            and not torch.allclose(got, want, atol=1e-4)
        ):
            unbiased = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=True) + 1e-5) * gamma + beta
            layer = F.layer_norm(x, (d,), eps=1e-5) * gamma + beta
            if torch.allclose(got, unbiased, atol=1e-4):
                hint = "use the biased variance (unbiased=False, divide by N), as BatchNorm does in training"
            elif torch.allclose(got, layer, atol=1e-4):
                hint = "you normalized each row (that is LayerNorm); BatchNorm normalizes each column over dim=0"
        c.close(got, want, case=case, hint=hint, atol=1e-4)
        if isinstance(got, torch.Tensor):
            c.equal(got.dtype, x.dtype, case=case, hint="keep the input dtype")
    return "3 cases including a constant feature and float64"


def _ref_early_stop(losses: list[float], patience: int) -> tuple[int, int]:
    best, best_i, bad = math.inf, -1, 0
    for i, v in enumerate(losses):
        if v < best:
            best, best_i, bad = v, i, 0
        else:
            bad += 1
            if bad >= patience:
                return i, best_i
    return len(losses) - 1, best_i


@checker
def ex06_early_stop(c: Check, early_stop) -> str:
    """``early_stop(val_losses, patience) -> (stop_epoch, best_epoch)`` (0-based epochs)."""
    cases = [
        ([1.0, 0.8, 0.7, 0.72, 0.71, 0.75, 0.6], 3),
        ([1.0, 0.8, 0.7, 0.72, 0.71, 0.75, 0.6], 4),
        ([1.0, 0.9, 0.8, 0.7], 2),
        ([0.5, 0.5, 0.5, 0.5], 2),
        ([0.9, 1.0, 0.8, 0.85, 0.86], 1),
    ]
    for losses, patience in cases:
        case = f"val_losses={losses}, patience={patience}"
        got = c.call(early_stop, list(losses), patience, case=case)
        want = _ref_early_stop(losses, patience)
        hint = "count epochs WITHOUT a strict improvement since the best one; stop when that count reaches patience"
        if isinstance(got, (tuple, list)) and len(got) == 2:
            got = (int(got[0]), int(got[1]))
            if losses == [0.5, 0.5, 0.5, 0.5] and got[1] != want[1]:
                hint = (
                    "an equal loss is not an improvement: keep the FIRST best epoch (use <, not <=)"
                )
            elif got[0] == want[0] + 1 or got[0] == want[0] - 1:
                hint = (
                    "off by one: stop at the epoch where the count of bad epochs reaches patience"
                )
            elif want[0] == len(losses) - 1 and got[0] != want[0]:
                hint = "if patience never runs out, training stops at the last epoch"
        c.equal(got, want, case=case, hint=hint)
    return "5 loss sequences"


@checker
def ex06_diagnose(c: Check, answer) -> str:
    """Value answer: dict run -> "underfit" / "overfit" / "good"."""
    c.expect(
        answer is not None and answer is not ...,
        case="your answer",
        problem="no answer yet",
        hint='fill in answer = {"A": ..., "B": ..., "C": ...}',
    )
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
        got = str(answer[k]).strip().lower()
        c.equal(got, want[k], case=f"run {k}", hint=hints[k])
    return "3 runs"
