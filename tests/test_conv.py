"""course_lib.conv: im2col convolution and pooling equal torch's, values and gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from course_lib import conv


@pytest.mark.parametrize(
    "kernel,stride,padding,dilation",
    [
        (3, 1, 0, 1),
        (3, 1, 1, 1),
        (5, 2, 2, 1),
        ((3, 2), (2, 1), (1, 0), 1),
        (3, 1, 2, 2),
        (1, 1, 0, 1),
    ],
)
def test_conv2d_matches_torch(device, kernel, stride, padding, dilation):
    x = torch.randn(2, 3, 11, 9, device=device, requires_grad=True)
    conv_ref = nn.Conv2d(3, 4, kernel, stride, padding, dilation).to(device)
    w = conv_ref.weight.detach().clone().requires_grad_()
    b = conv_ref.bias.detach().clone().requires_grad_()
    got = conv.conv2d(x, w, b, stride, padding, dilation)
    want = F.conv2d(x, conv_ref.weight, conv_ref.bias, stride, padding, dilation)
    assert got.shape == want.shape and got.device == x.device and got.dtype == x.dtype
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    g = torch.randn_like(want)
    gx, gw, gb = torch.autograd.grad(got, (x, w, b), g)
    rx, rw, rb = torch.autograd.grad(want, (x, conv_ref.weight, conv_ref.bias), g)
    torch.testing.assert_close(gx, rx, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(gw, rw, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(gb, rb, atol=1e-4, rtol=1e-5)


def test_im2col_matches_unfold(device):
    x = torch.randn(2, 3, 7, 8, device=device)
    for args in [(3, 1, 0, 1), (2, 2, 1, 1), (3, 2, 1, 2)]:
        torch.testing.assert_close(
            conv.im2col(x, *args),
            F.unfold(x, *args[:1], dilation=args[3], padding=args[2], stride=args[1]),
        )


def test_gradcheck_float64():
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w, b: conv.conv2d(x, w, b, 2, 1), (x, w, b))
    xp = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: conv.max_pool2d(x, 2), (xp,))
    assert torch.autograd.gradcheck(lambda x: conv.avg_pool2d(x, 3, 2, 1), (xp,))


@pytest.mark.parametrize(
    "kernel,stride,padding", [(2, None, 0), (3, 2, 1), (3, 1, 0), ((2, 3), (2, 1), (1, 1))]
)
def test_pooling_matches_torch(device, kernel, stride, padding):
    x = torch.randn(2, 3, 9, 10, device=device, requires_grad=True)
    got = conv.max_pool2d(x, kernel, stride, padding)
    want = F.max_pool2d(x, kernel, stride, padding)
    torch.testing.assert_close(got, want)
    g = torch.randn_like(want)
    torch.testing.assert_close(
        torch.autograd.grad(got, x, g)[0], torch.autograd.grad(want, x, g)[0]
    )
    torch.testing.assert_close(
        conv.avg_pool2d(x, kernel, stride, padding), F.avg_pool2d(x, kernel, stride, padding)
    )


def test_max_pool_with_negative_values_and_padding():
    x = -torch.rand(1, 1, 4, 4) - 1  # all negative: zero padding would win, -inf padding must not
    torch.testing.assert_close(conv.max_pool2d(x, 3, 2, 1), F.max_pool2d(x, 3, 2, 1))


@pytest.mark.parametrize("kernel,stride,padding", [(2, None, 0), (3, 2, 1), (3, 1, 1)])
def test_max_pool_gradient_at_ties_matches_torch(device, kernel, stride, padding):
    # after a ReLU whole windows are 0: F.max_pool2d sends the gradient to the first maximum of a
    # window (row-major), and so must we; amax split it evenly among the tied entries instead
    x = torch.relu(torch.randn(2, 3, 7, 7, device=device)).round()  # many exact ties
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    got, want = (
        conv.max_pool2d(a, kernel, stride, padding),
        F.max_pool2d(b, kernel, stride, padding),
    )
    assert torch.equal(got, want)
    g = torch.randn_like(want)
    (got * g).sum().backward()
    (want * g).sum().backward()
    assert torch.equal(a.grad, b.grad)
    zeros = torch.zeros(1, 1, 2, 2, device=device, requires_grad=True)
    conv.max_pool2d(zeros, 2).sum().backward()
    assert zeros.grad.flatten().tolist() == [1.0, 0.0, 0.0, 0.0]


def test_keeps_dtype():
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64)
    w = torch.randn(3, 2, 3, 3, dtype=torch.float64)
    assert conv.conv2d(x, w).dtype == torch.float64
    assert conv.max_pool2d(x, 2).dtype == torch.float64


@settings(max_examples=30, deadline=None)
@given(
    size=st.integers(1, 40),
    kernel=st.integers(1, 7),
    stride=st.integers(1, 4),
    padding=st.integers(0, 3),
    dilation=st.integers(1, 3),
)
def test_output_size_formula_matches_torch(size, kernel, stride, padding, dilation):
    span = dilation * (kernel - 1) + 1
    if size + 2 * padding < span:
        with pytest.raises(ValueError, match="does not fit"):
            conv.conv_output_size(size, kernel, stride, padding, dilation)
        return
    out = nn.Conv2d(1, 1, kernel, stride, padding, dilation)(torch.zeros(1, 1, size, size))
    assert conv.conv_output_size(size, kernel, stride, padding, dilation) == out.shape[-1]


def test_source_material_cnn_flatten_size():
    # 32x32 RGB, two (conv 3x3 padding 1, 2x2 max pool) stages: 32 -> 16 -> 8, so 8*8*64
    s = 32
    for _ in range(2):
        s = conv.conv_output_size(conv.conv_output_size(s, 3, 1, 1), 2, 2)
    assert s * s * 64 == 8 * 8 * 64 != 7 * 7 * 64
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
    )
    trace = conv.shape_trace(model, (1, 3, 32, 32))
    assert trace[-1] == ("6", (1, 4096))


def test_shape_trace_names_failing_layer():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(7 * 7 * 8, 10))
    with pytest.raises(ValueError, match="after layer '1' with output shape \\(1, 7200\\)"):
        conv.shape_trace(model, (1, 3, 32, 32))


def test_conv2d_module_equals_nn_conv2d():
    torch.manual_seed(0)
    ours = conv.Conv2d(3, 5, 3, padding=1)
    ref = nn.Conv2d(3, 5, 3, padding=1)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)


def test_bad_inputs():
    x = torch.randn(1, 3, 8, 8)
    with pytest.raises(ValueError, match="shape \\(N, C, H, W\\), got shape \\(3, 8, 8\\)"):
        conv.conv2d(x[0], torch.randn(4, 3, 3, 3))
    with pytest.raises(ValueError, match="expects 2 input channels"):
        conv.conv2d(x, torch.randn(4, 2, 3, 3))
    with pytest.raises(TypeError, match="floating point"):
        conv.max_pool2d(torch.ones(1, 1, 4, 4, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="does not fit"):
        conv.conv2d(x, torch.randn(4, 3, 9, 9))
    with pytest.raises(ValueError, match="at most half"):
        conv.max_pool2d(x, 2, 2, 2)
    with pytest.raises(ValueError, match="bias must have shape"):
        conv.conv2d(x, torch.randn(4, 3, 3, 3), torch.randn(3))
    with pytest.raises(ValueError, match="float64"):
        conv.conv2d(x, torch.randn(4, 3, 3, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match="kernel_size"):
        conv.im2col(x, "3")
