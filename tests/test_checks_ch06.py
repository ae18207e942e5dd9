"""Checkers of workbook 06: the reference passes, each usual mistake fails with its hint."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib import checks
from course_lib.checks._core import PASS


def split_ok(n, val_frac, test_frac, seed):
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val, n_test = int(n * val_frac), int(n * test_frac)
    return perm[n_val + n_test :], perm[:n_val], perm[n_val : n_val + n_test]


def split_unshuffled(n, val_frac, test_frac, seed):
    perm = torch.arange(n)
    n_val, n_test = int(n * val_frac), int(n * test_frac)
    return perm[: n - n_val - n_test], perm[n - n_val - n_test : n - n_test], perm[n - n_test :]


def split_overlap(n, val_frac, test_frac, seed):
    g = torch.Generator().manual_seed(seed)
    n_val, n_test = int(n * val_frac), int(n * test_frac)
    return (
        torch.randperm(n, generator=g)[: n - n_val - n_test],
        torch.randperm(n, generator=g)[:n_val],
        torch.randperm(n, generator=g)[:n_test],
    )


def split_unseeded(n, val_frac, test_frac, seed):
    return split_ok(n, val_frac, test_frac, int(torch.randint(0, 10**6, ())))


def split_train_only_shuffled(n, vf, tf, seed):
    n_val, n_test = int(n * vf), int(n * tf)
    n_train = n - n_val - n_test
    g = torch.Generator().manual_seed(seed)
    train = torch.randperm(n_train, generator=g)  # shuffled, but still the first n_train rows
    return train, torch.arange(n_train, n_train + n_val), torch.arange(n_train + n_val, n)


def test_split(checker_line):
    checker_line.passes(checks.ex06_split, split_ok)
    checker_line.fails(checks.ex06_split, split_unshuffled, needles=("not shuffled",))
    checker_line.fails(checks.ex06_split, split_overlap, needles=("overlap",))
    checker_line.fails(checks.ex06_split, split_train_only_shuffled, needles=("not shuffled",))
    checker_line.fails(checks.ex06_split, split_unseeded, needles=("same seed",))


def kaiming_ok(w):
    return w.normal_(0, math.sqrt(2 / w.shape[1]))


def test_kaiming(checker_line):
    checker_line.passes(checks.ex06_kaiming, kaiming_ok)
    checker_line.fails(
        checks.ex06_kaiming,
        lambda w: w.normal_(0, math.sqrt(2 / sum(w.shape))),
        needles=("Xavier",),
    )
    checker_line.fails(
        checks.ex06_kaiming, lambda w: w.normal_(0, math.sqrt(2 / w.shape[0])), needles=("fan_out",)
    )
    checker_line.fails(
        checks.ex06_kaiming, lambda w: w.normal_(0, 2 / w.shape[1]), needles=("variance",)
    )
    checker_line.fails(
        checks.ex06_kaiming,
        lambda w: torch.randn_like(w) * math.sqrt(2 / w.shape[1]),
        needles=("in place",),
    )


def kaiming_uniform(w):
    bound = math.sqrt(6 / w.shape[1])  # the right std, the wrong distribution
    return w.uniform_(-bound, bound)


def kaiming_signs(w):
    std = math.sqrt(2 / w.shape[1])
    return w.copy_(torch.where(torch.rand_like(w) < 0.5, -std, std))


def kaiming_truncated(w):
    std = math.sqrt(2 / w.shape[1])
    return torch.nn.init.trunc_normal_(w, std=std, a=-2 * std, b=2 * std)


def kaiming_no_return(w):
    kaiming_ok(w)


def test_kaiming_distribution_and_return(checker_line):
    checker_line.passes(checks.ex06_kaiming, torch.nn.init.kaiming_normal_)
    checker_line.passes(checks.ex06_kaiming, lambda w: kaiming_ok(w.data))
    for wrong in (kaiming_uniform, kaiming_signs):
        checker_line.fails(
            checks.ex06_kaiming, wrong, needles=("normal distribution, not uniform",)
        )
    line = checker_line.fails(
        checks.ex06_kaiming, kaiming_truncated, needles=("normal distribution",)
    )
    assert "Xavier" not in line, line
    checker_line.fails(checks.ex06_kaiming, kaiming_no_return, needles=("return w as well",))
    checker_line.fails(
        checks.ex06_kaiming, lambda w: kaiming_ok(w).clone(), needles=("different tensor",)
    )


def dropout_ok(x, p, training):
    if not training or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    return x * (torch.rand_like(x) >= p) / (1 - p)


def test_dropout(checker_line):
    checker_line.passes(checks.ex06_dropout, dropout_ok)
    no_rescale = lambda x, p, training: x * (torch.rand_like(x) >= p) if training else x
    checker_line.fails(checks.ex06_dropout, no_rescale, needles=("forgot to rescale",))
    always_on = lambda x, p, training: dropout_ok(x, p, True)
    checker_line.fails(checks.ex06_dropout, always_on, needles=("eval mode",))
    by_p = lambda x, p, training: (
        x * (torch.rand_like(x) >= p) / p if training and 0 < p < 1 else dropout_ok(x, p, training)
    )
    checker_line.fails(checks.ex06_dropout, by_p, needles=("not by p",))
    nan_at_one = lambda x, p, training: x * (torch.rand_like(x) >= p) / (1 - p) if training else x
    checker_line.fails(checks.ex06_dropout, nan_at_one, needles=("p=1.0",))


def dropout_reseeded(x, p, training):
    torch.manual_seed(0)
    return dropout_ok(x, p, training)


def dropout_in_place(x, p, training):
    if not training or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    x[torch.rand_like(x) < p] = 0
    x /= 1 - p
    return x


def test_dropout_new_mask_and_no_in_place(checker_line):
    checker_line.fails(checks.ex06_dropout, dropout_reseeded, needles=("don't reseed", "new mask"))
    checker_line.fails(
        checks.ex06_dropout, dropout_in_place, needles=("changed its input `x` in place",)
    )


def batchnorm_ok(x, gamma, beta, eps):
    return (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + eps) * gamma + beta


def test_batchnorm(checker_line):
    checker_line.passes(checks.ex06_batchnorm, batchnorm_ok)
    unbiased = lambda x, g, b, eps: (x - x.mean(0)) / torch.sqrt(x.var(0) + eps) * g + b
    checker_line.fails(checks.ex06_batchnorm, unbiased, needles=("biased variance",))
    layer = lambda x, g, b, eps: (
        (x - x.mean(1, keepdim=True)) / torch.sqrt(x.var(1, unbiased=False, keepdim=True) + eps) * g
        + b
    )
    checker_line.fails(checks.ex06_batchnorm, layer, needles=("LayerNorm",))
    checker_line.not_done(checks.ex06_batchnorm)


def batchnorm_eps_outside(x, gamma, beta, eps):
    return (x - x.mean(0)) / (x.std(0, unbiased=False) + eps) * gamma + beta


def batchnorm_fixed_eps(x, gamma, beta, eps):
    return batchnorm_ok(x, gamma, beta, 1e-5)


def batchnorm_no_eps(x, gamma, beta, eps):
    return (x - x.mean(0)) / x.std(0, unbiased=False) * gamma + beta


def batchnorm_in_place(x, gamma, beta, eps):
    x -= x.mean(0)
    x /= torch.sqrt(x.var(0, unbiased=False) + eps)
    return x * gamma + beta


def test_batchnorm_eps_in_place_dtype(checker_line):
    checker_line.fails(checks.ex06_batchnorm, batchnorm_eps_outside, needles=("inside the square",))
    checker_line.fails(checks.ex06_batchnorm, batchnorm_fixed_eps, needles=("eps argument",))
    checker_line.fails(checks.ex06_batchnorm, batchnorm_no_eps, needles=("divides 0 by 0",))
    checker_line.fails(
        checks.ex06_batchnorm, batchnorm_in_place, needles=("changed its input `x` in place",)
    )
    line = checker_line.fails(
        checks.ex06_batchnorm,
        lambda x, g, b, eps: batchnorm_ok(x, g, b, eps).float(),
        needles=("float64", "keep the input dtype"),
    )
    assert "could not check" not in line, line


def early_stop_ok(losses, patience):
    best, best_i, bad = math.inf, -1, 0
    for i, v in enumerate(losses):
        if v < best:
            best, best_i, bad = v, i, 0
        else:
            bad += 1
            if bad >= patience:
                return i, best_i
    return len(losses) - 1, best_i


def early_stop_le(losses, patience):
    best, best_i, bad = math.inf, -1, 0
    for i, v in enumerate(losses):
        if v <= best:
            best, best_i, bad = v, i, 0
        else:
            bad += 1
            if bad >= patience:
                return i, best_i
    return len(losses) - 1, best_i


def early_stop_late(losses, patience):
    stop, best = early_stop_ok(losses, patience)
    return min(stop + 1, len(losses) - 1), best


def early_stop_no_reset(losses, patience):
    best, best_i, bad = math.inf, -1, 0
    for i, v in enumerate(losses):
        if v < best:
            best, best_i = v, i  # the count of bad epochs is never reset
        else:
            bad += 1
            if bad >= patience:
                return i, best_i
    return len(losses) - 1, best_i


def early_stop_vs_previous(losses, patience):
    best, best_i, bad, prev = math.inf, -1, 0, math.inf
    for i, v in enumerate(losses):
        if v < best:
            best, best_i = v, i
        bad = 0 if v < prev else bad + 1
        prev = v
        if bad >= patience:
            return i, best_i
    return len(losses) - 1, best_i


def early_stop_early(losses, patience):
    stop, best = early_stop_ok(losses, patience)
    return max(stop - 1, 0), best


def test_early_stop(checker_line):
    checker_line.passes(checks.ex06_early_stop, early_stop_ok)
    checker_line.fails(checks.ex06_early_stop, early_stop_le, needles=("use <, not <=",))
    checker_line.fails(checks.ex06_early_stop, early_stop_late, needles=("off by one",))
    checker_line.fails(checks.ex06_early_stop, early_stop_early, needles=("off by one",))
    checker_line.fails(
        checks.ex06_early_stop,
        early_stop_no_reset,
        needles=("0.95, 0.8, 0.85", "reset the count", "in a row"),
    )
    line = checker_line.fails(
        checks.ex06_early_stop,
        early_stop_vs_previous,
        needles=("compare with the best loss so far, not the previous epoch",),
    )
    assert "off by one" not in line, line
    checker_line.fails(
        checks.ex06_early_stop, lambda losses, patience: None, needles=("pair of epoch numbers",)
    )


def test_not_done_is_a_sentence(checker_line):
    for check in (
        checks.ex06_split,
        checks.ex06_kaiming,
        checks.ex06_dropout,
        checks.ex06_early_stop,
    ):
        checker_line.not_done(check)


@pytest.mark.parametrize(
    "answer,fragment",
    [
        ({"A": "overfit", "B": "underfit", "C": "good"}, PASS),
        ({"A": "overfitting", "B": "Under-fits", "C": " Good "}, PASS),
        ({"A": "over-fitting", "B": "underfitted", "C": "good"}, PASS),
        ({"A": "Overfits", "B": "under fitting", "C": "good"}, PASS),
        ({"A": "overfits", "B": "memorizes", "C": "good"}, "one of the words"),
        ({"A": "underfitting", "B": "overfit", "C": "good"}, "memorizes"),
        ({"A": "underfit", "B": "overfit", "C": "good"}, "memorizes"),
        ({"A": "overfit"}, "keys A, B, C"),
    ],
)
def test_diagnose(checker_line, answer, fragment):
    if fragment == PASS:
        checker_line.passes(checks.ex06_diagnose, answer)
    else:
        checker_line.fails(checks.ex06_diagnose, answer, needles=(fragment,), hint=False)


def test_dropout_mask_made_on_the_cpu(checker_line, monkeypatch) -> None:
    """torch.rand(x.shape) without device= passes on a CPU and fails on the learner's GPU;
    the 'meta' device stands in for the GPU here (it computes shapes, not values)."""
    from course_lib.checks import _core

    def cpu_mask(x, p, training):
        if not training or p == 0:
            return x
        if p == 1:
            return torch.zeros_like(x)
        return x * (torch.rand(x.shape) >= p) / (1 - p)

    checker_line.passes(checks.ex06_dropout, cpu_mask)  # on a CPU it is right
    monkeypatch.setattr(_core, "learner_device", lambda: torch.device("meta"))
    checker_line.fails(checks.ex06_dropout, cpu_mask, needles=("on meta", "device=x.device"))
