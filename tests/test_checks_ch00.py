"""Workbook 00 checkers: the reference passes, each usual wrong answer fails with a specific hint."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib import checks


@pytest.mark.parametrize(
    "check", [checks.ex00_pairwise_sq_dists, checks.ex00_normalize_rows, checks.ex00_one_hot]
)
def test_stub_is_not_done_yet(check, checker_line) -> None:
    checker_line.not_done(check)


def test_broadcast_shape(checker_line) -> None:
    checker_line.passes(checks.ex00_broadcast_shape, (3, 5, 4))
    checker_line.passes(checks.ex00_broadcast_shape, torch.Size([3, 5, 4]))
    checker_line.not_done(checks.ex00_broadcast_shape, None)
    checker_line.fails(checks.ex00_broadcast_shape, (5, 4), needles=("RIGHT",))
    checker_line.fails(checks.ex00_broadcast_shape, (3, 1, 4), needles=("larger",))
    checker_line.fails(checks.ex00_broadcast_shape, "354", needles=("tuple of ints",))
    checker_line.fails(checks.ex00_broadcast_shape, (3.0, 5.0, 4.0), needles=("tuple of ints",))


def _dists(a, b):
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)


def test_pairwise_sq_dists(checker_line) -> None:
    checker_line.passes(checks.ex00_pairwise_sq_dists, _dists)
    checker_line.fails(
        checks.ex00_pairwise_sq_dists, lambda a, b: _dists(b, a), needles=("(N, M)",)
    )
    checker_line.fails(
        checks.ex00_pairwise_sq_dists, lambda a, b: _dists(a, b).sqrt(), needles=("square",)
    )
    checker_line.fails(
        checks.ex00_pairwise_sq_dists, lambda a, b: _dists(a, b).float(), needles=("dtype",)
    )


def test_normalize_rows(checker_line) -> None:
    checker_line.passes(checks.ex00_normalize_rows, lambda x: x / x.sum(dim=1, keepdim=True))
    checker_line.fails(
        checks.ex00_normalize_rows, lambda x: x / x.sum(dim=1), needles=("keepdim=True",)
    )


def _one_hot(labels, num_classes):
    bad = labels[(labels < 0) | (labels >= num_classes)]
    if len(bad):
        raise ValueError(f"label {int(bad[0])} is outside 0..{num_classes - 1}")
    return F.one_hot(labels, num_classes).float()


def test_normalize_rows_hints(checker_line) -> None:
    checker_line.fails(checks.ex00_normalize_rows, lambda x: x / x.sum(), needles=("WHOLE",))
    checker_line.fails(
        checks.ex00_normalize_rows, lambda x: x / x.sum(0, keepdim=True), needles=("column",)
    )


def _one_hot_off_by_one(labels, num_classes):
    if (labels > num_classes).any() or (labels < 0).any():
        raise ValueError(f"label {int(labels.max())} is outside 0..{num_classes - 1}")
    return F.one_hot(labels.clamp(max=num_classes - 1), num_classes).float()


def test_one_hot(checker_line) -> None:
    checker_line.fails(checks.ex00_one_hot, _one_hot_off_by_one, needles=("label 3",))
    checker_line.passes(checks.ex00_one_hot, _one_hot)
    checker_line.fails(checks.ex00_one_hot, lambda y, n: F.one_hot(y, n), needles=("float32",))
    checker_line.fails(
        checks.ex00_one_hot,
        lambda y, n: F.one_hot(y.clamp(0, n - 1), n).float(),
        needles=("label 3",),
    )


def test_one_hot_error_names_label_and_classes(checker_line) -> None:
    """The exercise asks for a message naming the bad label and the number of classes (kind 3)."""
    import torch.nn.functional as F

    def label_only(labels, num_classes):
        if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
            bad = labels[(labels < 0) | (labels >= num_classes)]
            raise ValueError(f"bad label {int(bad[0])}")
        return F.one_hot(labels, num_classes).float()

    checker_line.fails(checks.ex00_one_hot, label_only, needles=("does not mention '3'",))


def test_normalize_rows_keepdim_hint_only_for_that_mistake(checker_line) -> None:
    line = checker_line.fails(
        checks.ex00_normalize_rows, lambda x: 2 * x / x.sum(dim=1, keepdim=True)
    )
    assert "keepdim" not in line and "its own sum" in line
    checker_line.fails(
        checks.ex00_normalize_rows, lambda x: x / x.sum(dim=1), needles=("keepdim=True",)
    )
