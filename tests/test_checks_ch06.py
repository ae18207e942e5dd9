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


def test_early_stop(checker_line):
    checker_line.passes(checks.ex06_early_stop, early_stop_ok)
    checker_line.fails(checks.ex06_early_stop, early_stop_le, needles=("use <, not <=",))
    checker_line.fails(checks.ex06_early_stop, early_stop_late, needles=("off by one",))


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
        (None, "no answer yet"),
        ({"A": "underfit", "B": "overfit", "C": "good"}, "memorizes"),
        ({"A": "overfit"}, "keys A, B, C"),
    ],
)
def test_diagnose(checker_line, answer, fragment):
    if fragment == PASS:
        checker_line.passes(checks.ex06_diagnose, answer)
    else:
        checker_line.fails(checks.ex06_diagnose, answer, needles=(fragment,), hint=False)
