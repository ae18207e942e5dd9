"""Checkers for workbook 00: tensors, devices and broadcasting."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ._core import CaseFailed, Check, checker

__all__ = ["ex00_broadcast_shape", "ex00_one_hot", "ex00_pairwise_sq_dists", "ex00_normalize_rows"]


@checker
def ex00_broadcast_shape(c: Check, answer: Any) -> str:
    """Your prediction of ``(torch.zeros(3, 1, 4) + torch.zeros(5, 4)).shape``, as a tuple."""
    case = "shape of zeros(3, 1, 4) + zeros(5, 4)"
    c.answered(answer)
    sizes = list(answer) if isinstance(answer, (tuple, list, torch.Size)) else None
    if sizes is None or not all(isinstance(n, int) and not isinstance(n, bool) for n in sizes):
        raise CaseFailed(
            case,
            f"expected a tuple of ints such as (2, 7), got {answer!r}",
            "write the sizes as a tuple of whole numbers: answer = (..., ..., ...)",
        )
    got = tuple(sizes)
    c.expect(
        len(got) == 3,
        case=case,
        problem=f"the result has 3 dimensions, your answer has {len(got)}",
        hint="align shapes from the RIGHT; the shorter one gets size-1 dimensions on the left",
    )
    c.equal(
        got,
        (3, 5, 4),
        case=case,
        hint="each dimension is the larger of the pair once size-1 dims stretch",
    )
    return "prediction matches torch.broadcast_shapes"


@checker
def ex00_pairwise_sq_dists(c: Check, fn: Any) -> str:
    """``fn(a (N, D), b (M, D)) -> (N, M)`` squared Euclidean distances."""
    g = torch.Generator().manual_seed(0)
    cases = {
        "a 4x3 and a 5x3 set of points": (
            torch.randn(4, 3, generator=g),
            torch.randn(5, 3, generator=g),
        ),
        "a single point against itself": (torch.ones(1, 2), torch.ones(1, 2)),
        "float64 points in 10 dimensions": (
            torch.randn(6, 10, generator=g, dtype=torch.float64),
            torch.randn(2, 10, generator=g, dtype=torch.float64),
        ),
    }
    for case, (a, b) in cases.items():
        want = torch.cdist(a, b) ** 2
        got = c.call(fn, a, b, case=case)
        if isinstance(got, torch.Tensor) and got.shape == (b.shape[0], a.shape[0]) != want.shape:
            raise CaseFailed(
                case,
                f"got shape {tuple(got.shape)}, expected (N, M) = {tuple(want.shape)}",
                "rows index points of a, columns points of b: a[:, None, :] - b[None, :, :]",
            )
        c.close(
            got,
            want,
            case=case,
            atol=1e-5,
            hint="subtract with a[:, None, :] - b[None, :, :], square, then sum over the last dim",
        )
        if isinstance(got, torch.Tensor):
            c.expect(
                got.dtype == a.dtype,
                case=case,
                problem=f"dtype changed from {a.dtype} to {got.dtype}",
                hint="keep the input's dtype",
            )
    return f"{len(cases)} cases, including float64"


_KEEPDIM = (
    "x.sum(dim=1) has shape (N,), which broadcasts along the wrong axis: "
    "use keepdim=True to get (N, 1)"
)


@checker
def ex00_normalize_rows(c: Check, fn: Any) -> str:
    """``fn(x (N, C)) -> (N, C)`` with each row divided by its sum."""
    cases = {
        "a square 3x3 matrix": torch.tensor([[1.0, 1.0, 2.0], [0.0, 5.0, 5.0], [2.0, 2.0, 4.0]]),
        "a 2x3 matrix": torch.tensor([[1.0, 1.0, 2.0], [3.0, 0.0, 1.0]]),
        "a single row": torch.tensor([[2.0, 6.0]]),
    }
    for case, x in cases.items():
        got = c.call(fn, x.clone(), case=case, error_hint=_KEEPDIM)
        hint = "divide each row by its own sum: a column of N sums, shape (N, 1), broadcasts along each row"
        if isinstance(got, torch.Tensor) and got.shape == x.shape:
            if x.shape[0] == x.shape[1] and torch.allclose(got, x / x.sum(dim=1)):
                hint = _KEEPDIM
            elif torch.allclose(got, x / x.sum()):
                hint = "that divides by the sum of the WHOLE matrix; each row needs its own sum (dim=1)"
            elif torch.allclose(got, x / x.sum(dim=0, keepdim=True)):
                hint = "dim=0 sums each column; rows are summed along dim=1"
        c.close(got, x / x.sum(dim=1, keepdim=True), case=case, hint=hint)
    return "3 cases, including a square matrix where the broadcasting bug hides"


@checker
def ex00_one_hot(c: Check, fn: Any) -> str:
    """``fn(labels (N,) int64, num_classes) -> (N, num_classes) float32``; out-of-range raises ValueError."""
    labels = torch.tensor([0, 2, 1, 2])
    got = c.call(fn, labels, 3, case="labels [0, 2, 1, 2] with 3 classes")
    c.close(
        got,
        F.one_hot(labels, 3).float(),
        case="labels [0, 2, 1, 2] with 3 classes",
        hint="start from torch.zeros(N, num_classes) and put a 1 at [row, label]",
    )
    c.expect(
        got.dtype == torch.float32,
        case="dtype",
        problem=f"got dtype {got.dtype}",
        hint="losses need floats: return float32",
    )
    empty = c.call(fn, torch.zeros(0, dtype=torch.long), 4, case="an empty batch")
    c.close(
        empty,
        torch.zeros(0, 4),
        case="an empty batch",
        hint="an empty batch gives shape (0, num_classes)",
    )
    for bad, label in (
        (torch.tensor([0, 3]), "3"),  # == num_classes: the off-by-one of labels > num_classes
        (torch.tensor([0, 5]), "5"),
        (torch.tensor([0, -1]), "-1"),
    ):
        c.raises(
            fn,
            bad,
            3,
            exc=ValueError,
            case=f"label {label} with 3 classes",
            mentions=[label, ("3", "2")],  # the number of classes, or the last valid label
            hint="valid labels are 0..num_classes-1 (negative ones too are invalid): raise "
            "ValueError naming the bad label and the number of classes",
        )
    return "values, dtype, empty batch and out-of-range labels"
