"""Checkers for workbook 07 (convolutional networks)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..conv import conv_output_size
from ._core import Check, checker

__all__ = [
    "ex07_conv2d",
    "ex07_conv_output_size",
    "ex07_fix_cnn",
    "ex07_flatten_size",
    "ex07_freeze",
    "ex07_max_pool",
]


@checker
def ex07_conv_output_size(c: Check, out_size) -> str:
    """``out_size(size, kernel, stride, padding, dilation)`` along one axis."""
    cases = [
        (28, 3, 1, 0, 1),
        (28, 3, 1, 1, 1),
        (32, 2, 2, 0, 1),
        (28, 3, 2, 0, 1),
        (9, 2, 2, 0, 1),
        (7, 3, 2, 1, 1),
        (10, 4, 3, 0, 1),
        (15, 3, 1, 2, 2),
        (5, 5, 1, 0, 1),
    ]
    for args in cases:
        size, k, s, p, d = args
        case = f"size={size}, kernel={k}, stride={s}, padding={p}, dilation={d}"
        got = c.call(out_size, *args, case=case)
        want = conv_output_size(*args)
        hint = "floor((size + 2*padding - dilation*(kernel-1) - 1) / stride) + 1"
        if isinstance(got, (int, float)):
            dilated = "a dilated kernel spans dilation*(kernel-1)+1 pixels"
            if got == (size + p - d * (k - 1) - 1) // s + 1:
                hint = "padding is added on BOTH sides: + 2*padding"
            elif got == math.ceil((size + 2 * p - d * (k - 1) - 1) / s) + 1:
                hint = "round down (floor, //): a window that does not fit is dropped"
            elif d > 1 and got in {(size + 2 * p - d * k) // s + 1, (size + 2 * p - k) // s + 1}:
                hint = f"{dilated}, not dilation*kernel or kernel"
            elif got == (size + 2 * p - d * (k - 1) - 1) // s:
                hint = "you forgot the + 1 (the first window)"
        c.equal(got, want, case=case, hint=hint)
        c.expect(
            isinstance(got, int),
            case=case,
            problem=f"expected an int, got {type(got).__name__}",
            hint="use // (integer division)",
        )
    return f"{len(cases)} cases including stride, padding and dilation"


@checker
def ex07_flatten_size(c: Check, answer) -> str:
    """Value answer: features entering the linear layer of the source material's CNN."""
    case = "32x32 RGB input, two 2x2 poolings, 64 channels"
    value = c.number(
        answer,
        case=case,
        hint="one whole number, the product C * H * W (not the shape (64, 8, 8) itself)",
    )
    hint = (
        "32 -> conv (padding 1) 32 -> pool 16 -> conv 16 -> pool 8: the flatten size is 8 * 8 * 64"
    )
    if value == 7 * 7 * 64:
        hint = "7x7 is what two poolings give for 28x28 MNIST images; these images are 32x32: 32 -> 16 -> 8"
    elif value == 8 * 8 * 32:
        hint = "the second conv has 64 output channels"
    c.equal(value, 8 * 8 * 64, case=case, hint=hint)
    return "8 * 8 * 64 = 4096"


_CONV_TOOLS = (
    "torch.conv2d",
    "torch.nn.functional.conv2d",
    "torch.nn.functional.conv_transpose2d",
    "torch.nn.Conv2d.forward",
)
_CONV_HINT = (
    "the exercise builds the convolution as one matrix product, so F.conv2d (and nn.Conv2d) is "
    "switched off while it is checked: F.unfold for the columns, then a matrix product"
)
_POOL_TOOLS = (
    "torch.max_pool2d",
    "torch.nn.functional.max_pool2d",
    "torch.nn.functional.max_pool2d_with_indices",
    "torch.nn.functional.adaptive_max_pool2d",
    "torch.nn.MaxPool2d.forward",
)
_POOL_HINT = (
    "the exercise asks for pooling without a pooling function, so F.max_pool2d (and "
    "nn.MaxPool2d) is switched off while it is checked: take windows with x.unfold, then .amax"
)


@checker
def ex07_conv2d(c: Check, conv2d) -> str:
    """``conv2d(x, weight, bias, stride, padding)`` equal to ``F.conv2d``."""
    torch.manual_seed(0)
    cases = [
        ("1 image, 1 channel, 3x3 kernel", (1, 1, 5, 5), (1, 1, 3, 3), 1, 0),
        ("2 images, 3 -> 4 channels, padding 1", (2, 3, 6, 7), (4, 3, 3, 3), 1, 1),
        ("stride 2, 5x5 kernel, padding 2", (2, 2, 9, 9), (3, 2, 5, 5), 2, 2),
        ("non-square 2x3 kernel", (1, 2, 6, 8), (2, 2, 2, 3), 1, 0),
        ("float64", (1, 2, 5, 5), (2, 2, 3, 3), 1, 1),
    ]
    for case, xs, ws, stride, padding in cases:
        dtype = torch.float64 if case == "float64" else torch.float32
        x, w, b = (
            torch.randn(xs, dtype=dtype),
            torch.randn(ws, dtype=dtype),
            torch.randn(ws[0], dtype=dtype),
        )
        want = F.conv2d(x, w, b, stride, padding)
        with c.forbidding(_CONV_TOOLS, _CONV_HINT):
            got = c.call(conv2d, x.clone(), w.clone(), b.clone(), stride, padding, case=case)
        hint = "im2col: columns of C*kh*kw numbers per output position, then weight.view(C_out, -1) @ cols"
        if isinstance(got, torch.Tensor):
            c.equal(
                got.dtype,
                dtype,
                case=case,
                hint="keep the input dtype: build new tensors with dtype=x.dtype (torch.zeros "
                "makes float32 by default)",
            )
        if isinstance(got, torch.Tensor) and got.shape == want.shape:
            if torch.allclose(got, F.conv2d(x, w.flip(-1, -2), b, stride, padding), atol=1e-4):
                hint = "you flipped the kernel (textbook convolution); PyTorch's conv2d is a cross-correlation: no flip"
            elif torch.allclose(got, F.conv2d(x, w, None, stride, padding), atol=1e-4):
                hint = "you forgot the bias (one number per output channel)"
        c.close(got, want, case=case, hint=hint, atol=1e-4)
        if case in ("2 images, 3 -> 4 channels, padding 1", "float64"):
            with c.forbidding(_CONV_TOOLS, _CONV_HINT):
                c.gradients(conv2d, F.conv2d, x, w, b, stride, padding, case=case)
    return "5 cases: channels, padding, stride, non-square kernel, float64, gradients"


@checker
def ex07_max_pool(c: Check, max_pool2d) -> str:
    """``max_pool2d(x, kernel, stride)`` (no padding) equal to ``F.max_pool2d``."""
    torch.manual_seed(0)
    cases = [
        ("2x2 windows, stride 2", torch.randn(2, 3, 8, 8), 2, 2),
        ("odd size 7x7: the last row and column are dropped", torch.randn(1, 2, 7, 7), 2, 2),
        ("all-negative values", -torch.rand(1, 1, 6, 6) - 1, 2, 2),
        ("3x3 windows, stride 1 (overlapping)", torch.randn(1, 2, 6, 5), 3, 1),
    ]
    for case, x, k, s in cases:
        want = F.max_pool2d(x, k, s)
        with c.forbidding(_POOL_TOOLS, _POOL_HINT):
            got = c.call(max_pool2d, x.clone(), k, s, case=case)
        hint = "take the max over each k x k window of each channel"
        if type(got).__module__ == "torch.return_types":
            hint = ".max(dim=...) returns (values, indices): use .values, or .amax(dim=...)"
        if isinstance(got, torch.Tensor) and got.shape == want.shape:
            if torch.allclose(got, F.avg_pool2d(x, k, s), atol=1e-5):
                hint = "that is the mean (average pooling); take the max"
            elif (got >= 0).all() and (want < 0).any():
                hint = "your max never goes below 0: are you padding with zeros or starting the max at 0? start from -inf"
        c.close(got, want, case=case, hint=hint)
        with c.forbidding(_POOL_TOOLS, _POOL_HINT):
            c.gradients(max_pool2d, F.max_pool2d, x, k, s, case=case)
    return "4 cases including negative values and overlapping windows, gradients"


@checker
def ex07_fix_cnn(c: Check, make_cnn) -> str:
    """``make_cnn()``: the source material's CNN for 32x32 RGB images, fixed."""
    case = "make_cnn() on a batch of two 32x32 RGB images"
    model = c.call(make_cnn, case=case)
    c.expect(
        isinstance(model, nn.Module),
        case=case,
        problem=f"make_cnn() returned {type(model).__name__}, not an nn.Module",
    )
    pools = [m for m in model.modules() if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d))]
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    used: list[nn.Module] = []  # in the order forward calls them
    hooks = [m.register_forward_hook(lambda m, i, o: used.append(m)) for m in pools + layers]
    try:
        out = c.call(model, torch.randn(2, 3, 32, 32), case=case)
    finally:
        for h in hooks:
            h.remove()
    c.expect(isinstance(out, torch.Tensor), case=case, problem="the model did not return a tensor")
    c.equal(tuple(out.shape), (2, 10), case=case, hint="ten class scores per image: (batch, 10)")
    c.gradients(model, None, torch.randn(2, 3, 32, 32), case=case)
    c.expect(
        all(any(u is p for u in used) for p in pools),
        case="every layer is used",
        problem="a pooling layer is defined but never called in forward",
        hint="either call self.pool after each conv block or delete the unused layer",
    )
    idle = [type(m).__name__ for m in layers if not any(u is m for u in used)]
    c.expect(
        not idle,
        case="every layer is used",
        problem=f"{', '.join(idle)} defined but never called in forward",
        hint="a layer that forward never calls only adds parameters: call it or delete it",
    )
    linear = [m for m in used if isinstance(m, nn.Linear)]
    c.expect(
        bool(linear) and linear[0].in_features == 8 * 8 * 64,
        case="first linear layer",
        problem=f"in_features is {linear[0].in_features if linear else None}",
        hint="8 * 8 * 64 features after two poolings of 32x32 images",
    )
    return "forward pass, output shape, flatten size, every pooling layer used"


class _SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Linear(4 * 14 * 14, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


@checker
def ex07_freeze(c: Check, freeze_features) -> str:
    """``freeze_features(model)``: no gradients for ``model.features``; the head stays trainable."""
    case = "a CNN with .features (conv) and .head (linear)"
    model = _SmallCNN()
    c.call(freeze_features, model, case=case)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    want = {n for n, _ in model.named_parameters() if n.startswith("features.")}
    hint = "for p in model.features.parameters(): p.requires_grad_(False)"
    if not frozen:
        hint = (
            "nothing in this model was frozen: set requires_grad_(False) on each parameter of "
            "model.features, in place on the model you are given (model.eval(), torch.no_grad() "
            "or module.requires_grad = False do not do that)"
        )
    elif frozen > want:
        hint = "you froze the head too: only model.features should stop learning"
    c.equal(sorted(frozen), sorted(want), case=case, hint=hint)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    before = model.features[0].weight.detach().clone()
    head_before = model.head.weight.detach().clone()
    loss = F.cross_entropy(model(torch.randn(4, 1, 28, 28)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    opt.step()
    c.expect(
        torch.equal(before, model.features[0].weight),
        case="one training step",
        problem="the conv weights changed",
    )
    c.expect(
        not torch.equal(head_before, model.head.weight),
        case="one training step",
        problem="the head did not learn",
        hint="leave the head's requires_grad=True",
    )
    return "frozen features, trainable head, one SGD step"
