"""course_lib.activations against torch: values, gradients, derivatives, extremes, bad input."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import activations as A

# (ours, torch's) for every elementwise activation.
PAIRS = {
    "sigmoid": (A.sigmoid, torch.sigmoid),
    "tanh": (A.tanh, torch.tanh),
    "relu": (A.relu, torch.relu),
    "leaky_relu": (A.leaky_relu, F.leaky_relu),
    "leaky_relu_0.2": (lambda x: A.leaky_relu(x, slope=0.2), lambda x: F.leaky_relu(x, 0.2)),
    "gelu": (A.gelu, F.gelu),
    "silu": (A.silu, F.silu),
    "softmax": (A.softmax, lambda x: torch.softmax(x, dim=-1)),
    "softmax_dim0": (lambda x: A.softmax(x, dim=0), lambda x: torch.softmax(x, dim=0)),
    "log_softmax": (A.log_softmax, lambda x: torch.log_softmax(x, dim=-1)),
    "log_softmax_dim1": (
        lambda x: A.log_softmax(x, dim=1),
        lambda x: torch.log_softmax(x, dim=1),
    ),
}
NAMES = list(PAIRS)

# (our derivative, our function) for the elementwise ones: derivative takes the input x.
DERIVATIVES = {
    "sigmoid": (A.grad_sigmoid, A.sigmoid),
    "tanh": (A.grad_tanh, A.tanh),
    "relu": (A.grad_relu, A.relu),
    "leaky_relu": (A.grad_leaky_relu, A.leaky_relu),
    "gelu": (A.grad_gelu, A.gelu),
    "silu": (A.grad_silu, A.silu),
}
TORCH_FN = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}
TORCH_FN |= {"leaky_relu": F.leaky_relu, "gelu": F.gelu, "silu": F.silu}


def _x(device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return (torch.randn(4, 6, 5, dtype=torch.float64) * 4).to(device, dtype)


@pytest.mark.parametrize("name", NAMES)
def test_forward_matches_torch(name: str, device: torch.device) -> None:
    ours, ref = PAIRS[name]
    x = _x(device)
    got = ours(x)
    assert got.shape == x.shape and got.dtype == x.dtype and got.device == x.device
    torch.testing.assert_close(got, ref(x), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_backward_matches_torch(name: str, device: torch.device) -> None:
    ours, ref = PAIRS[name]
    x1 = _x(device).requires_grad_()
    x2 = x1.detach().clone().requires_grad_()
    w = torch.randn(x1.shape, device=device)  # a random upstream gradient
    (ours(x1) * w).sum().backward()
    (ref(x2) * w).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_float64(name: str) -> None:
    ours, _ = PAIRS[name]
    x = (torch.randn(3, 4, dtype=torch.float64) * 3).requires_grad_()
    assert torch.autograd.gradcheck(ours, (x,))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_other_float_dtypes(name: str, dtype: torch.dtype, device: torch.device) -> None:
    ours, ref = PAIRS[name]
    x = _x(device, dtype)
    got = ours(x)
    assert got.dtype == dtype and got.device == x.device
    tol = {torch.float16: 2e-2, torch.bfloat16: 1e-1, torch.float64: 1e-10}[dtype]
    want = ref(x.double()).to(dtype)
    torch.testing.assert_close(got.double(), want.double(), atol=tol, rtol=tol)


@pytest.mark.parametrize("name", NAMES)
def test_extreme_inputs_are_finite_with_finite_gradients(name: str, device: torch.device) -> None:
    ours, ref = PAIRS[name]
    x = torch.tensor([[1e4, -1e4, 0.0, 88.0, -104.0], [-1e4, -1e4, 3.0, 1e4, 1e4]], device=device)
    x.requires_grad_()
    y = ours(x)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y, ref(x), atol=1e-6, rtol=1e-6)
    y.sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("name", list(DERIVATIVES))
def test_derivative_equals_autograd(name: str, device: torch.device) -> None:
    grad_fn, fn = DERIVATIVES[name]
    # include exact kinks and far tails
    extra = torch.tensor([0.0, -0.0, 1e4, -1e4, 1e-8, -1e-8], device=device)
    x = torch.cat([_x(device).flatten(), extra]).requires_grad_()
    (g_ours,) = torch.autograd.grad(fn(x).sum(), x)
    (g_torch,) = torch.autograd.grad(TORCH_FN[name](x).sum(), x)
    d = grad_fn(x.detach())
    assert d.shape == x.shape and d.dtype == x.dtype
    torch.testing.assert_close(d, g_torch, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(d, g_ours, atol=1e-6, rtol=1e-5)


def test_derivatives_take_the_input_not_the_output() -> None:
    x = torch.tensor([0.0, 2.0, -3.0])
    assert A.grad_sigmoid(x)[0].item() == pytest.approx(0.25)
    y = A.sigmoid(x)  # the output: y * (1 - y) is the same number
    torch.testing.assert_close(A.grad_sigmoid(x), y * (1 - y))
    assert not torch.allclose(A.grad_sigmoid(x), x * (1 - x))


def test_kinks_follow_pytorch() -> None:
    zero = torch.zeros(1)
    assert A.grad_relu(zero).item() == 0.0
    assert A.grad_leaky_relu(zero, slope=0.1).item() == pytest.approx(0.1)
    assert A.grad_sigmoid(zero).item() == pytest.approx(0.25)
    assert A.grad_tanh(zero).item() == pytest.approx(1.0)
    assert A.grad_gelu(zero).item() == pytest.approx(0.5)
    assert A.grad_silu(zero).item() == pytest.approx(0.5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_saturated_slopes_do_not_round_to_zero(dtype: torch.dtype, device: torch.device) -> None:
    # s (1 - s) and 1 - tanh^2 are exactly 0 in float32 from |x| = 17 and 9 on (s and tanh round
    # to +-1), where the slopes are still 4e-8 and 6e-8; torch's autograd rounds the same way,
    # so the reference is the exact slope in float64: sigmoid(x) sigmoid(-x) and 1 / cosh(x)^2.
    x64 = torch.tensor([0.0, 1.0, -3.0, 9.0, -9.0, 17.0, -17.0, 20.0, -40.0, 80.0], device=device)
    x64 = x64.double()
    x = x64.to(dtype)
    s = torch.sigmoid(x64) * torch.sigmoid(-x64)
    torch.testing.assert_close(A.grad_sigmoid(x), s.to(dtype), rtol=1e-5, atol=0)
    torch.testing.assert_close(
        A.grad_tanh(x), (1 / torch.cosh(x64) ** 2).to(dtype), rtol=1e-5, atol=0
    )
    torch.testing.assert_close(
        A.grad_silu(x), (torch.sigmoid(x64) + x64 * s).to(dtype), rtol=1e-5, atol=0
    )
    assert (A.grad_sigmoid(x) > 0).all() and (A.grad_tanh(x)[:-1] > 0).all()  # tanh: 4e-70 at 80


@pytest.mark.parametrize("dim", [-1, 0, 1])
def test_softmax_jacobians(dim: int) -> None:
    x = torch.randn(3, 4, 5, dtype=torch.float64)
    full_s = torch.autograd.functional.jacobian(lambda t: torch.softmax(t, dim=dim), x)
    full_l = torch.autograd.functional.jacobian(lambda t: torch.log_softmax(t, dim=dim), x)
    js, jl = A.grad_softmax(x, dim=dim), A.grad_log_softmax(x, dim=dim)
    c = x.shape[dim]
    d = dim % 3
    other = [i for i in range(3) if i != d]
    assert js.shape == (*[x.shape[i] for i in other], c, c)
    for idx in torch.cartesian_prod(*[torch.arange(x.shape[i]) for i in other]):
        pos = [slice(None)] * 3
        for axis, i in zip(other, idx.tolist()):
            pos[axis] = i
        # the block of the full Jacobian that links one slice along dim to itself
        block_s = full_s[tuple(pos)][(...,) + tuple(pos)]
        block_l = full_l[tuple(pos)][(...,) + tuple(pos)]
        torch.testing.assert_close(js[tuple(idx.tolist())], block_s)
        torch.testing.assert_close(jl[tuple(idx.tolist())], block_l)


def test_two_textbook_tanh_forms_agree_and_overflow_far_out() -> None:
    x = torch.linspace(-20, 20, 401, dtype=torch.float64)
    torch.testing.assert_close(A.tanh_exp2(x), A.tanh_exp(x))
    torch.testing.assert_close(A.tanh_exp(x), torch.tanh(x))
    far = torch.tensor([1e4, -1e4])
    assert torch.isnan(A.tanh_exp2(far)[0]) and torch.isnan(A.tanh_exp(far)).all()
    torch.testing.assert_close(A.tanh(far), torch.tensor([1.0, -1.0]))


def test_tiny_inputs_are_accurate() -> None:
    x = torch.tensor([1e-20, -1e-12, 3e-8])
    torch.testing.assert_close(A.tanh(x), torch.tanh(x), rtol=1e-6, atol=0.0)
    torch.testing.assert_close(A.sigmoid(x), torch.sigmoid(x), rtol=1e-6, atol=0.0)


def test_nan_and_empty_inputs() -> None:
    nan = torch.tensor([float("nan")])
    for name in ("sigmoid", "tanh", "relu", "gelu", "silu", "leaky_relu"):
        assert torch.isnan(PAIRS[name][0](nan)).all(), name
    empty = torch.zeros(0, 3)
    assert A.softmax(empty).shape == (0, 3)
    assert A.softmax(torch.zeros(2, 0)).shape == (2, 0)
    assert A.log_softmax(torch.zeros(0, 3), dim=0).shape == (0, 3)


@pytest.mark.parametrize(
    "fn", [A.sigmoid, A.tanh, A.relu, A.leaky_relu, A.gelu, A.silu, A.softmax, A.log_softmax]
)
@pytest.mark.parametrize("dtype", [torch.int64, torch.bool])
def test_integer_and_bool_inputs_raise_type_error(fn, dtype: torch.dtype) -> None:
    with pytest.raises(TypeError, match=str(dtype)):
        fn(torch.ones(3, dtype=dtype))


def test_other_bad_input() -> None:
    with pytest.raises(TypeError, match="list"):
        A.sigmoid([1.0, 2.0])
    with pytest.raises(ValueError, match=r"dim=2 .*\(3, 4\)"):
        A.softmax(torch.zeros(3, 4), dim=2)
    with pytest.raises(TypeError, match="slope"):
        A.leaky_relu(torch.zeros(3), slope="big")
    with pytest.raises(TypeError, match="float32|floating"):
        A.grad_relu(torch.ones(2, dtype=torch.int32))


def test_registries_cover_each_other() -> None:
    assert set(A.ACTIVATIONS) == set(A.GRADIENTS) == set(DERIVATIVES)


# --------------------------------------------------------------------------- properties

finite = st.floats(-1e4, 1e4, allow_nan=False, width=32)
rows = st.lists(finite, min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(rows, st.floats(-1e3, 1e3, allow_nan=False, width=32))
def test_softmax_is_a_distribution_and_shift_invariant(values: list[float], c: float) -> None:
    x = torch.tensor(values, dtype=torch.float64)
    s = A.softmax(x)
    assert torch.isfinite(s).all() and (s >= 0).all() and (s <= 1).all()
    assert math.isclose(s.sum().item(), 1.0, abs_tol=1e-9)
    torch.testing.assert_close(A.softmax(x + c), s, atol=1e-9, rtol=1e-6)
    torch.testing.assert_close(A.log_softmax(x).exp(), s, atol=1e-9, rtol=1e-6)
    assert (A.log_softmax(x) <= 0).all()


@settings(max_examples=60, deadline=None)
@given(rows)
def test_sigmoid_and_tanh_symmetries(values: list[float]) -> None:
    x = torch.tensor(values)
    s = A.sigmoid(x)
    assert ((s >= 0) & (s <= 1)).all()
    torch.testing.assert_close(A.sigmoid(-x), 1 - s, atol=1e-6, rtol=0)
    torch.testing.assert_close(A.tanh(-x), -A.tanh(x))
    torch.testing.assert_close(A.tanh(x), 2 * A.sigmoid(2 * x) - 1, atol=1e-6, rtol=0)
    assert (A.grad_sigmoid(x) <= 0.25).all() and (A.grad_tanh(x) <= 1).all()


# --------------------------------------------------------------------------- the chapter's explorer


def test_layer_gradients_through_depth() -> None:
    from course_lib.widgets.activations import layer_gradients, rms

    sig = layer_gradients("sigmoid", depth=8, init_scale=1.0, width=16, batch=32)
    assert len(sig) == 8 and all(g.shape == (32, 16) for g in sig)
    assert rms(sig[0]) < 1e-3 * rms(sig[-1])  # each sigmoid layer multiplies by at most 0.25

    def ratio(name: str, scale: float) -> float:
        g = layer_gradients(name, depth=12, init_scale=scale, width=64, batch=64)
        return rms(g[0]) / rms(g[-1])

    assert ratio("tanh", 1.0) > 0.02
    assert ratio("relu", 1.0) < 0.1  # mean square halves per layer
    assert 0.3 < ratio("relu", math.sqrt(2)) < 3  # Kaiming keeps it
    assert ratio("relu", 2.0) > 10
    with pytest.raises(ValueError, match="unknown activation"):
        layer_gradients("swish2")


def test_gradient_explorer_draws_its_default_figure() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_lib.widgets import gradient_explorer

    ex = gradient_explorer()
    assert ex.draws == 1 and set(ex.values) == {"activation", "depth", "init_scale"}
    plt.close("all")
