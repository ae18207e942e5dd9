"""Generated 2-D data sets: shapes, dtypes, devices, determinism, balance, bad input."""

from __future__ import annotations

import pytest
import torch

from course_lib.data import make_blobs, make_moons, make_spirals

MAKERS = [
    (make_moons, {}, 2),
    (make_spirals, {"classes": 4}, 4),
    (make_blobs, {"centers": 3}, 3),
]


@pytest.mark.parametrize("make, kwargs, classes", MAKERS)
def test_shapes_dtypes_device_balance(make, kwargs, classes, device):
    X, y = make(101, seed=3, device=device, dtype=torch.float64, **kwargs)
    assert X.shape == (101, 2) and y.shape == (101,)
    assert X.dtype == torch.float64 and y.dtype == torch.int64
    assert X.device.type == device.type and y.device.type == device.type
    counts = torch.bincount(y.cpu(), minlength=classes)
    assert counts.max() - counts.min() <= 1
    assert torch.isfinite(X).all()


@pytest.mark.parametrize("make, kwargs, classes", MAKERS)
def test_deterministic_given_seed(make, kwargs, classes):
    a = make(50, seed=7, **kwargs)
    b = make(50, seed=7, **kwargs)
    c = make(50, seed=8, **kwargs)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_default_dtype_float32_and_geometry():
    X, y = make_moons(200, noise=0.0, seed=0)
    assert X.dtype == torch.float32
    upper = X[y == 0]
    assert torch.allclose(upper.norm(dim=1), torch.ones(len(upper)), atol=1e-6)
    X, y = make_spirals(300, noise=0.0, seed=0)
    assert X.norm(dim=1).max() <= 1.0


def test_bad_input():
    with pytest.raises(ValueError, match="n must be"):
        make_moons(1)
    with pytest.raises(ValueError, match="noise"):
        make_moons(10, noise=-1.0)
    with pytest.raises(ValueError, match="classes"):
        make_spirals(10, classes=1)
    with pytest.raises(ValueError, match="centers"):
        make_blobs(10, centers=0)
    with pytest.raises(TypeError, match="floating"):
        make_blobs(10, dtype=torch.int64)


def test_plot_decision_boundary_draws_regions_and_points():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_lib.viz import plot_decision_boundary

    X, y = make_blobs(60, centers=3, seed=0)

    def predict(pts: torch.Tensor) -> torch.Tensor:  # nearest of three fixed centres
        assert pts.dtype == X.dtype and pts.shape[1] == 2
        centres = torch.tensor([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
        return -torch.cdist(pts, centres)

    ax = plot_decision_boundary(predict, X, y, resolution=50, title="blobs")
    assert ax.get_title() == "blobs" and len(ax.collections) >= 2
    plot_decision_boundary(lambda p: predict(p).argmax(1), X, y, resolution=20)
    plt.close("all")
    with pytest.raises(ValueError, match="shape"):
        plot_decision_boundary(predict, X[:, :1], y)
    with pytest.raises(ValueError, match="returned shape"):
        plot_decision_boundary(lambda p: p[:3], X, y, resolution=10)
