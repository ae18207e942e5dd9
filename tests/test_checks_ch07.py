"""Checkers of workbook 07: the reference passes, each usual mistake fails with its hint."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import checks, conv
from course_lib.checks._core import PASS


def test_conv_output_size(checker_line):
    checker_line.passes(checks.ex07_conv_output_size, conv.conv_output_size)
    one_side = lambda n, k, s, p, d: (n + p - d * (k - 1) - 1) // s + 1
    checker_line.fails(checks.ex07_conv_output_size, one_side, needles=("BOTH sides",))
    ceil = lambda n, k, s, p, d: math.ceil((n + 2 * p - d * (k - 1) - 1) / s) + 1
    checker_line.fails(checks.ex07_conv_output_size, ceil, needles=("floor",))
    no_plus_one = lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s
    checker_line.fails(checks.ex07_conv_output_size, no_plus_one, needles=("+ 1",))
    no_dilation = lambda n, k, s, p, d: (n + 2 * p - k) // s + 1
    checker_line.fails(checks.ex07_conv_output_size, no_dilation, needles=("dilated",))
    float_div = lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) / s + 1
    checker_line.fails(checks.ex07_conv_output_size, float_div)
    checker_line.not_done(checks.ex07_conv_output_size)


@pytest.mark.parametrize(
    "answer,fragment",
    [(4096, PASS), (8 * 8 * 64, PASS), (3136, "28x28"), (2048, "64 output")],
)
def test_flatten_size(checker_line, answer, fragment):
    if fragment == PASS:
        checker_line.passes(checks.ex07_flatten_size, answer)
    else:
        checker_line.fails(checks.ex07_flatten_size, answer, needles=(fragment,))


def conv_ok(x, w, b, stride, padding):
    return conv.conv2d(x, w, b, stride, padding)


def test_conv2d(checker_line):
    checker_line.passes(checks.ex07_conv2d, conv_ok)
    flipped = lambda x, w, b, s, p: conv.conv2d(x, w.flip(-1, -2), b, s, p)
    checker_line.fails(checks.ex07_conv2d, flipped, needles=("flipped the kernel",))
    no_bias = lambda x, w, b, s, p: conv.conv2d(x, w, None, s, p)
    checker_line.fails(checks.ex07_conv2d, no_bias, needles=("bias",))
    no_stride = lambda x, w, b, s, p: conv.conv2d(x, w, b, 1, p)
    checker_line.fails(checks.ex07_conv2d, no_stride)
    checker_line.not_done(checks.ex07_conv2d)


def test_max_pool(checker_line):
    checker_line.passes(checks.ex07_max_pool, lambda x, k, s: conv.max_pool2d(x, k, s))
    checker_line.fails(
        checks.ex07_max_pool, lambda x, k, s: F.avg_pool2d(x, k, s), needles=("average",)
    )
    relu_max = lambda x, k, s: conv.max_pool2d(x, k, s).clamp(min=0)
    checker_line.fails(checks.ex07_max_pool, relu_max, needles=("-inf",))


class FixedCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(8 * 8 * 64, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class SourceCNN(FixedCNN):  # the source material's version: 7*7*64 and the pooling never used
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(7 * 7 * 64, 128)

    def forward(self, x):
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class UnusedPool(FixedCNN):
    def __init__(self):
        super().__init__()
        self.extra_pool = nn.MaxPool2d(2)


class HeadFirst(FixedCNN):  # the same network with fc2 registered before fc1
    def __init__(self):
        nn.Module.__init__(self)
        self.fc2 = nn.Linear(128, 10)
        self.fc1 = nn.Linear(8 * 8 * 64, 128)
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.pool = nn.MaxPool2d(2)


class UnusedConv(FixedCNN):
    def __init__(self):
        super().__init__()
        self.conv3 = nn.Conv2d(64, 64, 3)


def test_fix_cnn(checker_line):
    checker_line.passes(checks.ex07_fix_cnn, FixedCNN)
    checker_line.passes(checks.ex07_fix_cnn, HeadFirst)
    checker_line.fails(checks.ex07_fix_cnn, UnusedConv, needles=("Conv2d defined but never",))
    checker_line.fails(checks.ex07_fix_cnn, SourceCNN, needles=("raised RuntimeError",))
    checker_line.fails(checks.ex07_fix_cnn, UnusedPool, needles=("never called",))
    checker_line.not_done(checks.ex07_fix_cnn)


def freeze_ok(model):
    for p in model.features.parameters():
        p.requires_grad_(False)


def test_freeze(checker_line):
    checker_line.passes(checks.ex07_freeze, freeze_ok)
    checker_line.fails(
        checks.ex07_freeze,
        lambda m: m.features.eval(),
        needles=("nothing in this model was frozen",),
    )
    checker_line.fails(
        checks.ex07_freeze,
        lambda m: [p.requires_grad_(False) for p in m.parameters()],
        needles=("head too",),
    )
    checker_line.not_done(checks.ex07_freeze)


def test_review_findings(checker_line):
    # max over windows via .max(dim) without .values
    def pool_pair(x, k, s):
        return x.unfold(2, k, s).unfold(3, k, s).flatten(-2).max(dim=-1)

    checker_line.fails(checks.ex07_max_pool, pool_pair, needles=(".values",))
    # a float32 result for float64 input is a dtype sentence, not "could not check"
    checker_line.fails(
        checks.ex07_conv2d,
        lambda x, w, b, s, p: conv.conv2d(x.float(), w.float(), b.float(), s, p),
        needles=("dtype",),
    )

    # mutating the input cannot hide a wrong answer
    def clamp_then_pool(x, k, s):
        x.clamp_(min=0)
        return conv.max_pool2d(x, k, s)

    checker_line.fails(
        checks.ex07_max_pool, clamp_then_pool, needles=("changed its input `x` in place",)
    )
    # dilation*kernel is not the dilated span
    checker_line.fails(
        checks.ex07_conv_output_size,
        lambda n, k, s, p, d: (n + 2 * p - d * k) // s + 1,
        needles=("dilated",),
    )


# ---- issue 16: the planted answers of each kind


@pytest.mark.parametrize(
    "answer,needle",
    [
        (torch.tensor([64, 8, 8]), "a tensor of shape (3,)"),
        (np.array([64, 8, 8]), "a NumPy array of shape (3,)"),
        ((64, 8, 8), "a tuple of 3 items"),
        ([64, 8, 8], "a list of 3 items"),
        ("4096", "the string '4096'"),
    ],
)
def test_flatten_size_answer_types(checker_line, answer, needle):
    """Every answer type gets a sentence, never 'could not check your answer' (kind 6)."""
    line = checker_line.fails(checks.ex07_flatten_size, answer, needles=(needle,))
    assert "could not check" not in line


def test_flatten_size_number_types(checker_line):
    checker_line.passes(checks.ex07_flatten_size, torch.tensor(4096))
    checker_line.passes(checks.ex07_flatten_size, np.int64(4096))
    checker_line.passes(checks.ex07_flatten_size, 4096.0)
    line = checker_line.not_done(checks.ex07_flatten_size, None)
    assert "Hint" not in line


def test_conv_and_pool_rule_out_the_library(checker_line):
    checker_line.fails(
        checks.ex07_conv2d,
        lambda x, w, b, s, p: F.conv2d(x, w, b, s, p),
        needles=("your code called torch.nn.functional.conv2d", "unfold"),
    )
    checker_line.fails(
        checks.ex07_max_pool,
        lambda x, k, s: torch.nn.MaxPool2d(k, s)(x),
        needles=("your code called torch.nn.MaxPool2d.forward",),
    )
