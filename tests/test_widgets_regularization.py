"""Chapter 06's explorer: the regularized runs (settings reach the model and optimizer, cache) and its controls."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from explorer_moves import move_every_control  # noqa: E402
from torch.utils.data import TensorDataset  # noqa: E402

from course_lib.widgets import regularization as R  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _digits(n: int, seed: int) -> TensorDataset:
    """Random 'images' whose label is the brightest of ten vertical bands: learnable, and cheap."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    for i in range(n):
        x[i, 0, :, 2 * y[i] : 2 * y[i] + 3] += 1.0
    return TensorDataset(x, y)


TRAIN, VAL = _digits(120, 0), _digits(60, 1)


def test_run_is_cached_and_learns() -> None:
    h = R.train_regularized(TRAIN, VAL, n_train=100, steps=30, hidden=16)
    assert h.steps_done == 30 and len(h.val) == 10
    assert h.val[-1][1]["acc"] > 0.3  # well above chance (0.1)
    assert R.train_regularized(TRAIN, VAL, 100, steps=30, hidden=16, progress=True) is h


def test_settings_reach_model_and_optimizer(monkeypatch) -> None:
    seen = {}
    real_fit = R.fit

    def spy(model, optimizer, batch_fn, **kw):
        seen["dropout"] = [m.p for m in model if isinstance(m, torch.nn.Dropout)]
        seen["wd"] = optimizer.param_groups[0]["weight_decay"]
        x, _ = batch_fn(0)
        seen["x"] = x
        return real_fit(model, optimizer, batch_fn, **kw)

    monkeypatch.setattr(R, "fit", spy)
    R.train_regularized(
        TRAIN, VAL, n_train=50, dropout=0.5, weight_decay=0.1, augment=True, steps=2, hidden=8
    )
    assert seen["dropout"] == [0.5, 0.5] and seen["wd"] == 0.1
    # augmented: not one of the 50 stored images
    stored = TRAIN[:50][0]
    assert not any(torch.equal(xi, s) for xi in seen["x"] for s in stored)


def test_bad_settings_are_named() -> None:
    with pytest.raises(ValueError, match="n_train must be in 1..120"):
        R.train_regularized(TRAIN, VAL, n_train=500)
    with pytest.raises(ValueError, match="dropout"):
        R.train_regularized(TRAIN, VAL, n_train=50, dropout=1.0)


def test_explorer_default_figure_and_every_control_moved() -> None:
    ex = R.regularization_explorer(TRAIN, VAL, steps=10, hidden=16)
    assert ex.draws == 1 and ex.values["n_train"] == 100  # sizes up to the data's 120 images
    pytest.importorskip("ipywidgets")
    seconds = move_every_control(ex)
    assert set(seconds) == {"dropout", "weight_decay", "augmentation"}  # one size: nothing to move
