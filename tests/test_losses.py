"""course_lib.losses against torch.nn.functional: values, gradients, extremes, bad input."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import activations, losses


def _inputs(kind: str, device: torch.device, dtype: torch.dtype = torch.float32):
    """A (prediction-like, target) pair for each kind of loss, N = 8, C = 5."""
    g = torch.Generator().manual_seed(1)
    if kind == "regression":
        a, b = (
            torch.randn(8, 3, generator=g, dtype=torch.float64) * 2,
            torch.randn(8, 3, generator=g),
        )
    elif kind == "probs":
        a = torch.rand(8, 3, generator=g, dtype=torch.float64) * 0.98 + 0.01
        b = torch.rand(8, 3, generator=g)
    elif kind == "binary_logits":
        a, b = (
            torch.randn(8, 3, generator=g, dtype=torch.float64) * 4,
            torch.rand(8, 3, generator=g),
        )
    elif kind == "class_logits":
        a = torch.randn(8, 5, generator=g, dtype=torch.float64) * 4
        return a.to(device, dtype), torch.randint(0, 5, (8,), generator=g).to(device)
    elif kind == "soft_logits":
        a = torch.randn(8, 5, generator=g, dtype=torch.float64) * 4
        b = torch.softmax(torch.randn(8, 5, generator=g), dim=1)
    return a.to(device, dtype), b.to(device, dtype)


CASES = {
    "mse": (losses.mse, F.mse_loss, "regression"),
    "mae": (losses.mae, F.l1_loss, "regression"),
    "huber": (losses.huber, F.huber_loss, "regression"),
    "huber_delta_0.3": (
        lambda p, t: losses.huber(p, t, delta=0.3),
        lambda p, t: F.huber_loss(p, t, delta=0.3),
        "regression",
    ),
    "bce": (losses.binary_cross_entropy, F.binary_cross_entropy, "probs"),
    "bce_logits": (
        losses.binary_cross_entropy_with_logits,
        F.binary_cross_entropy_with_logits,
        "binary_logits",
    ),
    "ce_index": (losses.cross_entropy, F.cross_entropy, "class_logits"),
    "ce_probs": (losses.cross_entropy, F.cross_entropy, "soft_logits"),
}
NAMES = list(CASES)


@pytest.mark.parametrize("name", NAMES)
def test_value_matches_torch(name: str, device: torch.device) -> None:
    ours, ref, kind = CASES[name]
    a, b = _inputs(kind, device)
    got = ours(a, b)
    assert got.shape == () and got.dtype == a.dtype and got.device == a.device
    torch.testing.assert_close(got, ref(a, b), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_torch(name: str, device: torch.device) -> None:
    ours, ref, kind = CASES[name]
    a, b = _inputs(kind, device)
    a1, a2 = a.clone().requires_grad_(), a.clone().requires_grad_()
    ours(a1, b).backward()
    ref(a2, b).backward()
    torch.testing.assert_close(a1.grad, a2.grad, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_float64(name: str) -> None:
    ours, _, kind = CASES[name]
    a, b = _inputs(kind, torch.device("cpu"), torch.float64)
    if b.is_floating_point():
        b = b.double().requires_grad_()  # the target's gradient is checked too
    assert torch.autograd.gradcheck(ours, (a.requires_grad_(), b))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_other_float_dtypes(name: str, dtype: torch.dtype, device: torch.device) -> None:
    ours, ref, kind = CASES[name]
    a, b = _inputs(kind, device, dtype)
    got = ours(a, b)
    assert got.dtype == dtype and got.device == a.device
    want = ref(a.double(), b.double() if b.is_floating_point() else b)
    tol = {torch.float16: 1e-2, torch.bfloat16: 3e-2, torch.float64: 1e-12}[dtype]
    torch.testing.assert_close(got.double(), want, atol=tol, rtol=tol)


def test_huge_logits_are_finite(device: torch.device) -> None:
    z = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [5.0, 1e4, 1e4]], device=device)
    y = torch.tensor([1, 2, 0], device=device)
    z.requires_grad_()
    ce = losses.cross_entropy(z, y)
    assert torch.isfinite(ce)
    torch.testing.assert_close(ce, F.cross_entropy(z, y), atol=1e-6, rtol=1e-6)
    ce.backward()
    assert torch.isfinite(z.grad).all()
    q = torch.softmax(torch.randn(3, 3, device=device), dim=1)
    torch.testing.assert_close(losses.cross_entropy(z, q), F.cross_entropy(z, q), rtol=1e-6, atol=0)
    x = torch.tensor([1e4, -1e4, 1e4, -1e4], device=device, requires_grad=True)
    t = torch.tensor([0.0, 1.0, 1.0, 0.0], device=device)
    bce = losses.binary_cross_entropy_with_logits(x, t)
    torch.testing.assert_close(bce, torch.tensor(5000.0, device=device))
    torch.testing.assert_close(bce, F.binary_cross_entropy_with_logits(x, t))
    bce.backward()
    assert torch.isfinite(x.grad).all()


def test_bce_at_zero_and_one_is_clamped_like_torch() -> None:
    p = torch.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    t = torch.tensor([1.0, 0.0, 0.0, 1.0])
    got = losses.binary_cross_entropy(p, t)
    torch.testing.assert_close(got, F.binary_cross_entropy(p, t))
    assert got.item() == pytest.approx(50.0)
    got.backward()
    assert torch.isfinite(p.grad).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bce_confidently_wrong_predictions_keep_a_gradient(dtype, device) -> None:
    # issue 15: p = 0, t = 1; p = 1, t = 0; p = 1e-45, t = 1. The loss is clamped at 100 per
    # element, as torch's; autograd through the clamp gave a gradient of exactly 0, so these
    # predictions could never be corrected. torch's backward, (p - t) / max(p (1 - p), 1e-12) / N,
    # gives -1e12 / 3 = -3.3e11, +3.3e11, -3.3e11: finite and pointing toward the target.
    p = torch.tensor([0.0, 1.0, 1e-45], dtype=dtype, device=device, requires_grad=True)
    t = torch.tensor([1.0, 0.0, 1.0], dtype=dtype, device=device)
    ref = p.detach().clone().requires_grad_()
    loss = losses.binary_cross_entropy(p, t)
    want = F.binary_cross_entropy(ref, t)
    torch.testing.assert_close(loss, want)
    assert loss.item() == pytest.approx(100.0)
    loss.backward()
    want.backward()
    torch.testing.assert_close(p.grad, ref.grad)
    assert p.grad.cpu().tolist() == pytest.approx([-1e12 / 3, 1e12 / 3, -1e12 / 3], rel=1e-6)


def test_bce_gradients_match_torch_on_the_whole_edge_grid(device) -> None:
    # every probability near or at 0 and 1 against hard and soft targets, in float64; the target's
    # gradient -logit(p) is infinite at p = 0 or 1 in torch as here
    probs = [0.0, 1e-300, 1e-45, 1e-13, 1e-7, 0.5, 1 - 1e-7, 1 - 1e-13, 1.0]
    pp, tt = torch.meshgrid(
        torch.tensor(probs, dtype=torch.float64),
        torch.tensor([0.0, 0.3, 1.0], dtype=torch.float64),
        indexing="ij",
    )
    p1, t1 = pp.flatten().to(device), tt.flatten().to(device)
    ours = [p1.clone().requires_grad_(), t1.clone().requires_grad_()]
    theirs = [p1.clone().requires_grad_(), t1.clone().requires_grad_()]
    got, want = losses.binary_cross_entropy(*ours), F.binary_cross_entropy(*theirs)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=0)
    got.backward()
    want.backward()
    torch.testing.assert_close(ours[0].grad, theirs[0].grad, rtol=1e-12, atol=0)
    torch.testing.assert_close(ours[1].grad, theirs[1].grad, rtol=1e-12, atol=0)


def test_bce_with_logits_slope_at_zero_logits(device) -> None:
    # zero-initialized logits are exactly 0: the slope there is (sigmoid(0) - t) / N = (0.5 - t) / N.
    # clamp(min=0) (slope 1 at 0) plus abs (slope 0 at 0) gave (1 - t) / N instead.
    x = torch.zeros(4, device=device, requires_grad=True)
    ref = torch.zeros(4, device=device, requires_grad=True)
    t = torch.tensor([0.0, 1.0, 0.3, 0.5], device=device)
    losses.binary_cross_entropy_with_logits(x, t).backward()
    F.binary_cross_entropy_with_logits(ref, t).backward()
    torch.testing.assert_close(x.grad, ref.grad)
    torch.testing.assert_close(x.grad.cpu(), (0.5 - t.cpu()) / 4)


@pytest.mark.parametrize("name", ["bce", "bce_logits", "mse", "huber", "ce_probs"])
def test_second_derivatives_float64(name: str) -> None:
    # gradgradcheck: the hand-written BCE backward is itself differentiable, like torch's
    ours, _, kind = CASES[name]
    a, b = _inputs(kind, torch.device("cpu"), torch.float64)
    assert torch.autograd.gradgradcheck(ours, (a.requires_grad_(), b.double().requires_grad_()))


def test_integer_class_indices_of_any_width() -> None:
    z = torch.randn(6, 4)
    y = torch.tensor([0, 3, 2, 1, 1, 0])
    want = F.cross_entropy(z, y)
    for dtype in (torch.int32, torch.int16, torch.uint8):
        torch.testing.assert_close(losses.cross_entropy(z, y.to(dtype)), want)


def test_source_material_worked_examples() -> None:
    x = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    y = torch.tensor([2.0, 4.0, 5.0, 4.0, 5.0])
    assert losses.mse(1 + x, y).item() == pytest.approx(0.8)  # the article says 11/5
    theta = torch.tensor([0.2, 0.3, 0.1, 0.2, 0.2])
    xs = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0])
    labels = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0])
    ce = -(labels * activations.log_softmax(theta * xs)).sum() / 5
    assert ce.item() == pytest.approx(0.9906, abs=1e-4)  # the article ends at about -0.1315


def test_huber_pieces() -> None:
    r = torch.tensor([0.5, -2.0, 1.0])
    zero = torch.zeros(3)
    # 0.5 * 0.25 = 0.125; 1 * (2 - 0.5) = 1.5; boundary 0.5 * 1 = 0.5
    assert losses.huber(r, zero).item() == pytest.approx((0.125 + 1.5 + 0.5) / 3)
    assert losses.huber(r, zero, delta=10.0).item() == pytest.approx(losses.mse(r, zero).item() / 2)


def test_empty_batch_matches_torch() -> None:
    e = torch.zeros(0)
    assert torch.isnan(losses.mse(e, e)) and torch.isnan(F.mse_loss(e, e))
    ce = losses.cross_entropy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
    assert torch.isnan(ce)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("fn", [losses.mse, losses.mae, losses.huber])
def test_shape_mismatch_names_both_shapes(fn) -> None:
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        fn(torch.zeros(4, 1), torch.zeros(4))


def test_cross_entropy_bad_targets() -> None:
    z = torch.zeros(3, 4)
    with pytest.raises(ValueError, match=r"class index 4 .*4 classes"):
        losses.cross_entropy(z, torch.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match=r"class index -1"):
        losses.cross_entropy(z, torch.tensor([0, -1, 1]))
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        losses.cross_entropy(z, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"\(3, 5\).*\(3, 4\)"):
        losses.cross_entropy(z, torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"\(4,\)"):
        losses.cross_entropy(torch.zeros(4), torch.tensor([1]))
    with pytest.raises(TypeError, match="torch.bool"):
        losses.cross_entropy(z, torch.tensor([True, False, True]))
    with pytest.raises(TypeError, match="torch.int64"):
        losses.cross_entropy(z.long(), torch.tensor([0, 1, 2]))


def test_bce_ranges() -> None:
    with pytest.raises(ValueError, match=r"probs must lie in \[0, 1\], found 1.5"):
        losses.binary_cross_entropy(torch.tensor([0.2, 1.5]), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"found -0.5"):
        losses.binary_cross_entropy(torch.tensor([0.2, -0.5]), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="target must lie"):
        losses.binary_cross_entropy(torch.tensor([0.2, 0.5]), torch.tensor([0.0, 2.0]))
    with pytest.raises(ValueError, match="target must lie"):
        losses.binary_cross_entropy_with_logits(torch.tensor([3.0]), torch.tensor([-1.0]))
    with pytest.raises(ValueError, match="nan"):
        losses.binary_cross_entropy(torch.tensor([float("nan")]), torch.tensor([1.0]))


@pytest.mark.parametrize("fn", [losses.mse, losses.binary_cross_entropy_with_logits])
@pytest.mark.parametrize("dtype", [torch.int64, torch.bool])
def test_integer_and_bool_tensors_raise_type_error(fn, dtype: torch.dtype) -> None:
    with pytest.raises(TypeError, match=str(dtype)):
        fn(torch.ones(3), torch.ones(3, dtype=dtype))
    with pytest.raises(TypeError, match=str(dtype)):
        fn(torch.ones(3, dtype=dtype), torch.ones(3))


def test_different_devices_are_named() -> None:
    # "meta" is a second device on every machine, so this runs without a GPU.
    for fn, a, b in [
        (losses.mse, torch.zeros(3), torch.zeros(3, device="meta")),
        (losses.cross_entropy, torch.zeros(3, 2), torch.zeros(3, dtype=torch.long, device="meta")),
    ]:
        with pytest.raises(ValueError, match=r"cpu.*meta"):
            fn(a, b)


def test_bad_delta() -> None:
    with pytest.raises(ValueError, match="delta"):
        losses.huber(torch.zeros(2), torch.zeros(2), delta=0.0)
    with pytest.raises(TypeError, match="delta"):
        losses.huber(torch.zeros(2), torch.zeros(2), delta=torch.tensor(1.0))


# --------------------------------------------------------------------------- properties

logit = st.floats(-1e4, 1e4, allow_nan=False, width=32)


@settings(max_examples=50, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda c: st.tuples(
            st.lists(st.lists(logit, min_size=c, max_size=c), min_size=1, max_size=5),
            st.lists(st.integers(0, c - 1), min_size=5, max_size=5),
        )
    ),
    st.floats(-1e3, 1e3, allow_nan=False, width=32),
)
def test_cross_entropy_is_nonnegative_finite_and_shift_invariant(data, shift: float) -> None:
    rows, labels = data
    z = torch.tensor(rows, dtype=torch.float64)
    y = torch.tensor(labels[: len(rows)])
    ce = losses.cross_entropy(z, y)
    assert torch.isfinite(ce) and ce.item() >= 0
    torch.testing.assert_close(losses.cross_entropy(z + shift, y), ce, atol=1e-7, rtol=1e-7)
    torch.testing.assert_close(ce, F.cross_entropy(z, y))


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(logit, st.floats(0, 1), st.floats(-50, 50)), min_size=1, max_size=10),
    st.floats(0.05, 5),
)
def test_binary_and_regression_losses_properties(triples, delta: float) -> None:
    x = torch.tensor([a for a, _, _ in triples], dtype=torch.float64)
    t = torch.tensor([b for _, b, _ in triples], dtype=torch.float64)
    y = torch.tensor([c for _, _, c in triples], dtype=torch.float64)
    bce = losses.binary_cross_entropy_with_logits(x, t)
    assert torch.isfinite(bce) and bce.item() >= -1e-12
    torch.testing.assert_close(bce, F.binary_cross_entropy_with_logits(x, t))
    p = y.tanh() * 0.5
    h, m, a = losses.huber(p, y, delta), losses.mse(p, y), losses.mae(p, y)
    assert 0 <= h.item() <= min(m.item() / 2, delta * a.item()) + 1e-9
    assert math.isclose(
        h.item(), F.huber_loss(p, y, delta=delta).item(), rel_tol=1e-9, abs_tol=1e-12
    )


# --------------------------------------------------------------------------- the chapter's explorer


def test_fit_line_minimizes_each_loss() -> None:
    from course_lib.widgets.losses import fit_line, outlier_data

    x, y = outlier_data()
    x, y = torch.cat([x, torch.tensor([9.0])]), torch.cat([y, torch.tensor([25.0])])
    design = torch.stack([x, torch.ones_like(x)], 1)
    want = torch.linalg.lstsq(design, y[:, None]).solution[:, 0]
    assert fit_line(x, y, "mse") == pytest.approx(want.tolist())
    for name, kw in (("mae", {}), ("huber", {"delta": 1.0}), ("huber", {"delta": 0.3})):
        slope, icept = fit_line(x, y, name, **kw)
        best = getattr(losses, name)(slope * x + icept, y, **kw).item()
        for ds, di in ((0.01, 0), (-0.01, 0), (0, 0.05), (0, -0.05)):
            other = getattr(losses, name)((slope + ds) * x + icept + di, y, **kw).item()
            assert best <= other + 1e-12, (name, ds, di)
    # the outlier drags the MSE slope far more than the robust ones
    assert fit_line(x, y, "mse")[0] > fit_line(x, y, "huber")[0] + 0.3
    with pytest.raises(ValueError, match="loss"):
        fit_line(x, y, "l3")


def test_outlier_explorer_draws_its_default_figure() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_lib.widgets import outlier_explorer

    ex = outlier_explorer()
    assert ex.draws == 1 and set(ex.values) == {"outlier_y", "outlier_x", "delta"}
    plt.close("all")
